/**
 * The approval page: exactly what the agent will be allowed, in words a person
 * reads before signing. Scopes can be unticked and the duration shortened; the
 * passkey then signs that narrowed approval and nothing else.
 */
import type { FC } from 'hono/jsx';
import type { RequestView, ScopeView } from '../../delegation/request-view.ts';
import type { Session } from '../../passkeys/session.ts';
import { Layout } from '../layout.tsx';
import { describeDuration, formatTime } from '../time.ts';

export interface ApprovalPageProps {
  session: Session;
  view: RequestView;
  /** The longest grant the person may approve for this request, seconds. */
  ceiling: number;
  /** Each task token's longest life under this grant, seconds. */
  maxTokenTtl: number;
}

const SENSITIVITY_WORDS: Record<ScopeView['sensitivity'], string> = {
  read: 'read only',
  write: 'can change things',
  admin: 'administrative',
};

/** Choices no longer than what the agent asked for, longest first. */
export function durationChoices(ceiling: number): number[] {
  const standard = [30 * 86_400, 7 * 86_400, 86_400, 8 * 3600, 3600, 15 * 60];
  return [ceiling, ...standard.filter((d) => d < ceiling)];
}

const Outcome: FC<{ view: RequestView }> = ({ view }) => {
  const when = view.decidedAt ? formatTime(view.decidedAt) : '';
  const words = {
    approved: `You approved this request on ${when}. ${view.agentName} can now act for you within what you allowed, until the grant ends or you revoke it.`,
    denied: `You denied this request on ${when}. ${view.agentName} was told no and received nothing.`,
    expired: `This request expired on ${formatTime(view.expiresAt)} before it was approved. ${view.agentName} received nothing.`,
    pending: '',
  }[view.status];
  return (
    <section class={`outcome outcome-${view.status}`} role="status">
      <p>{words}</p>
      <p>
        <a href="/">Back to your dashboard</a>
      </p>
    </section>
  );
};

const headline = (view: RequestView) =>
  view.escalatesGrantId
    ? `${view.agentName} asks you to approve one task`
    : `${view.agentName} asks to act for you`;

export const ApprovalPage: FC<ApprovalPageProps> = ({ session, view, ceiling, maxTokenTtl }) => (
  <Layout title={headline(view)} session={session} scripts={['simplewebauthn.js', 'approval.js']}>
    <h1>{headline(view)}</h1>
    {view.status !== 'pending' ? (
      <Outcome view={view} />
    ) : (
      <>
        {view.escalatesGrantId ? (
          <p class="escalation" role="note">
            You already gave {view.agentName} a grant. Its policy asks you to approve this one task
            afresh before {view.agentName} may go on: approving lets one token for it through,
            nothing more.
          </p>
        ) : null}
        {view.bindingMessage ? (
          <p class="binding">
            Check that the agent shows this same code: <strong>{view.bindingMessage}</strong>
          </p>
        ) : null}
        {view.task.purpose ? (
          <p class="purpose">
            <span class="label">Purpose</span> {view.task.purpose}
          </p>
        ) : null}
        <form
          id="approval-form"
          method="post"
          action={`/requests/${view.id}/approval`}
          data-csrf={session.csrfToken}
          data-request-id={view.id}
        >
          {view.escalatesGrantId ? (
            <p>This is exactly what the task asks for; approve it all, or deny it.</p>
          ) : (
            <p>Untick anything you do not want to allow.</p>
          )}
          {view.resources.map((r, i) => (
            <fieldset data-resource={r.resource} class="api">
              <legend>
                {r.apiName} <span class="audience">{r.resource}</span>
              </legend>
              <ul class="scopes">
                {r.scopes.map((s, j) => {
                  const id = `scope-${i}-${j}`;
                  return (
                    <li class={`scope sensitivity-${s.sensitivity}`}>
                      <input
                        type="checkbox"
                        id={id}
                        value={s.name}
                        checked
                        disabled={view.escalatesGrantId !== null}
                        aria-describedby={`${id}-about`}
                      />
                      <label for={id}>{s.name}</label>
                      <span id={`${id}-about`} class="about">
                        <span class="badge">{SENSITIVITY_WORDS[s.sensitivity]}</span>{' '}
                        {s.description}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </fieldset>
          ))}
          {view.escalatesGrantId ? (
            // A fresh approval lives inside the grant it escalates: nothing to choose.
            <input type="hidden" id="duration" name="duration" value={String(ceiling)} />
          ) : (
            <p class="duration">
              <label for="duration">The permission lasts</label>{' '}
              <select id="duration" name="duration">
                {durationChoices(ceiling).map((d) => (
                  <option value={String(d)}>{describeDuration(d)}</option>
                ))}
              </select>
            </p>
          )}
          <p class="fine">
            {view.escalatesGrantId
              ? null
              : `The agent gets a separate token for each task, each valid for at most ${describeDuration(maxTokenTtl)}. You can revoke the permission at any time from your dashboard. `}
            This request expires at {formatTime(view.expiresAt)}.
          </p>
          <div class="actions">
            <button type="submit" class="button button-primary">
              Approve with passkey
            </button>
          </div>
          <p id="approval-status" role="alert" class="status"></p>
        </form>
        <form method="post" action={`/requests/${view.id}/deny`} class="deny">
          <input type="hidden" name="csrf" value={session.csrfToken} />
          <button type="submit" class="button button-secondary">
            Deny
          </button>
        </form>
      </>
    )}
  </Layout>
);

/** Unknown ids and other people's requests look the same. */
export const RequestNotFoundPage: FC<{ session: Session }> = ({ session }) => (
  <Layout title="No such request" session={session}>
    <h1>No such request</h1>
    <p>
      There is no request at this address for you. <a href="/">Back to your dashboard</a>
    </p>
  </Layout>
);
