/**
 * `/activity`: what the person's agents did in a window, the unusual flagged first,
 * each with a small bar chart of tokens minted over the window (inline SVG drawn on
 * the server: no script, and the CSP allows it since it carries no style attribute).
 */
import type { FC } from 'hono/jsx';
import type { Session } from '../../passkeys/session.ts';
import type { NamedAgentSummary, SummaryWindowName } from '../../audit/summary-query.ts';
import { SUMMARY_WINDOWS } from '../../audit/summary-query.ts';
import { Layout } from '../layout.tsx';

const BAR_W = 14;
const GAP = 4;
const H = 48;

const Bars: FC<{ series: number[]; label: string }> = ({ series, label }) => {
  const top = Math.max(1, ...series);
  const width = series.length * (BAR_W + GAP);
  return (
    <svg class="bars" viewBox={`0 0 ${width} ${H}`} width={width} height={H} role="img">
      <title>{label}</title>
      {series.map((n, i) => {
        const h = n === 0 ? 1 : Math.max(2, Math.round((n / top) * (H - 2)));
        return <rect x={i * (BAR_W + GAP)} y={H - h} width={BAR_W} height={h} rx={2} />;
      })}
    </svg>
  );
};

const WindowLinks: FC<{ current: SummaryWindowName }> = ({ current }) => (
  <nav class="window-links" aria-label="Time window">
    {(Object.keys(SUMMARY_WINDOWS) as SummaryWindowName[]).map((w) =>
      w === current ? (
        <strong aria-current="page">{w}</strong>
      ) : (
        <a href={`/activity?window=${w}`}>{w}</a>
      ),
    )}
  </nav>
);

export const ActivityPage: FC<{
  session: Session;
  window: SummaryWindowName;
  agents: NamedAgentSummary[];
}> = ({ session, window, agents }) => (
  <Layout title="Agent activity" session={session}>
    <div class="page-head">
      <h1>What your agents did</h1>
      <p class="muted">
        The last {window}, against each agent’s own usual pace.{' '}
        <a href="/">Back to the dashboard</a>
      </p>
      <WindowLinks current={window} />
    </div>
    {agents.length === 0 ? (
      <section class="panel panel-empty">
        <p class="empty">None of your agents did anything in this window.</p>
      </section>
    ) : (
      <ul class="cards">
        {agents.map((a) => (
          <li class={a.flags.length > 0 ? 'card unusual' : 'card'} data-agent={a.agent}>
            <p class="card-title">
              <strong>{a.name}</strong>
              {a.flags.length > 0 ? <span class="badge">unusual</span> : null}
            </p>
            {a.flags.length > 0 ? (
              <ul class="flags">
                {a.flags.map((f) => (
                  <li>{f}</li>
                ))}
              </ul>
            ) : null}
            <p class="meta">
              {a.minted} token{a.minted === 1 ? '' : 's'} · {a.denials} denied · {a.escalations}{' '}
              escalated · {a.overruns} overrun{a.overruns === 1 ? '' : 's'} · {a.rate.window}/h
              (usually {a.rate.baseline}/h)
            </p>
            <Bars series={a.series} label={`Tokens minted by ${a.name} over the last ${window}`} />
          </li>
        ))}
      </ul>
    )}
  </Layout>
);
