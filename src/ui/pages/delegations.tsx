/** The dashboard's delegation sections: requests waiting, grants in force, what happened lately. */
import type { FC } from 'hono/jsx';
import type { ResourceScopes } from '../../db/schema.ts';
import type { Activity, GrantSummary, PendingRequest } from '../../delegation/grants.ts';
import { formatTime } from '../time.ts';

const Scopes: FC<{ resources: ResourceScopes[] }> = ({ resources }) => (
  <ul class="granted">
    {resources.map((r) => (
      <li>
        <span class="audience">{r.resource}</span>{' '}
        {r.scopes.map((s) => (
          <code class="scope-name">{s}</code>
        ))}
      </li>
    ))}
  </ul>
);

export const PendingRequests: FC<{ requests: PendingRequest[] }> = ({ requests }) => (
  <section aria-labelledby="pending-heading" class="panel">
    <h2 id="pending-heading">Waiting for you</h2>
    {requests.length === 0 ? (
      <p class="empty">No agent is waiting for your approval.</p>
    ) : (
      <ul class="cards">
        {requests.map((r) => (
          <li class="card pending">
            <p class="card-title">
              <strong>{r.agentName}</strong> asks to act for you
              {r.purpose ? <>: {r.purpose}</> : null}
            </p>
            <Scopes resources={r.resources} />
            <p class="meta">
              Asked {formatTime(r.createdAt)} · expires {formatTime(r.expiresAt)}
            </p>
            <a class="button button-primary" href={`/requests/${r.id}`}>
              Review
            </a>
          </li>
        ))}
      </ul>
    )}
  </section>
);

export const ActiveGrants: FC<{ grants: GrantSummary[]; csrf: string }> = ({ grants, csrf }) => (
  <section aria-labelledby="grants-heading" class="panel">
    <h2 id="grants-heading">Agents you have allowed</h2>
    {grants.length === 0 ? (
      <p class="empty">No agent can act for you right now.</p>
    ) : (
      <ul class="cards">
        {grants.map((g) => (
          <li class="card grant">
            <p class="card-title">
              <strong>{g.agentName}</strong>
              {g.purpose ? <> · {g.purpose}</> : null}
            </p>
            <Scopes resources={g.resources} />
            <p class="meta">
              Approved {formatTime(g.createdAt)} · ends {formatTime(g.expiresAt)}
            </p>
            <form method="post" action={`/grants/${g.id}/revoke`}>
              <input type="hidden" name="csrf" value={csrf} />
              <button type="submit" class="button button-danger">
                Revoke
              </button>
            </form>
          </li>
        ))}
      </ul>
    )}
  </section>
);

const WHAT: Record<Activity['what'], string> = {
  approved: 'You approved',
  denied: 'You denied',
  expired: 'Expired unanswered:',
  revoked: 'Revoked:',
};

export const RecentActivity: FC<{ events: Activity[] }> = ({ events }) => (
  <section aria-labelledby="activity-heading" class="panel">
    <h2 id="activity-heading">Recent activity</h2>
    {events.length === 0 ? (
      <p class="empty">Nothing yet.</p>
    ) : (
      <ul class="activity">
        {events.map((e) => (
          <li>
            <span class="meta">{formatTime(e.at)}</span> {WHAT[e.what]} {e.agentName}
            {e.purpose ? <> ({e.purpose})</> : null}
          </li>
        ))}
      </ul>
    )}
  </section>
);
