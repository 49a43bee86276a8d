/**
 * Summaries of agent behaviour from the audit ledger: per agent and time window,
 * tokens minted, denials, escalations, overruns, APIs and scopes it used for the
 * first time, and its minting rate against its own baseline — with what is unusual
 * said in words. Pure: the caller reads the entries (the window and the baseline
 * before it) and gets the same summary every time for the same entries.
 */

/** What a summary needs of a ledger entry. */
export interface ActivityEntry {
  at: Date;
  /** `token.minted`, `token.exchanged`, `overrun.reported`, `overrun.refused`, … */
  action: string;
  /**
   * `agent:<client id>` for what agents do. Entries by others about an agent (an API's
   * overrun report) name it in `inputs.agent` and count for it; the rest is not summarised.
   */
  actor: string;
  decision: string | null;
  inputs: Record<string, unknown>;
}

export interface SummaryWindow {
  from: Date;
  to: Date;
  /** How far back the agent's own baseline reaches (entries from here to `from`). */
  baselineFrom: Date;
  /** Bars in the chart: the window cut into this many equal parts. */
  buckets: number;
}

export interface AgentSummary {
  agent: string;
  minted: number;
  denials: number;
  escalations: number;
  overruns: number;
  /** APIs (audiences) and scopes used in the window and never in the baseline. */
  firstTime: { apis: string[]; scopes: string[] };
  /** Tokens per hour in the window and in the baseline. */
  rate: { window: number; baseline: number; spike: boolean };
  /** Tokens minted per bucket, oldest first. */
  series: number[];
  /** The unusual, in words; empty when nothing is. */
  flags: string[];
}

/** A window this many times busier than the baseline, with at least SPIKE_MIN tokens, is a spike. */
export const SPIKE_FACTOR = 3;
export const SPIKE_MIN = 5;

const MINTS = new Set(['token.minted', 'token.exchanged']);
const OVERRUNS = new Set(['overrun.reported', 'overrun.refused']);
/** Overrun handling records its decision too (DENY: the grant is revoked). */
const OVERRUN_PREFIX = 'overrun.';
const HOUR = 3_600_000;

export function summarize(entries: ActivityEntry[], w: SummaryWindow): AgentSummary[] {
  const byAgent = new Map<string, ActivityEntry[]>();
  for (const e of entries) {
    const agent = agentOf(e);
    if (agent === undefined || e.at < w.baselineFrom || e.at >= w.to) continue;
    const list = byAgent.get(agent);
    if (list) list.push(e);
    else byAgent.set(agent, [e]);
  }
  return [...byAgent.entries()]
    .map(([agent, list]) => summarizeAgent(agent, list, w))
    .filter((s) => s.minted + s.denials + s.escalations + s.overruns > 0)
    .sort((a, b) => b.flags.length - a.flags.length || a.agent.localeCompare(b.agent));
}

function summarizeAgent(agent: string, entries: ActivityEntry[], w: SummaryWindow): AgentSummary {
  const inWindow = entries.filter((e) => e.at >= w.from);
  const before = entries.filter((e) => e.at < w.from);
  const minted = inWindow.filter((e) => MINTS.has(e.action));
  // An overrun's DENY revokes the grant; it is not a request the policy refused.
  const denials = inWindow.filter(
    (e) => e.decision === 'DENY' && !e.action.startsWith(OVERRUN_PREFIX),
  ).length;
  const escalations = inWindow.filter((e) => e.decision === 'ESCALATE').length;
  const overruns = inWindow.filter((e) => OVERRUNS.has(e.action)).length;

  const seenApis = new Set(before.filter((e) => MINTS.has(e.action)).flatMap(apisOf));
  const seenScopes = new Set(before.filter((e) => MINTS.has(e.action)).flatMap(scopesOf));
  const apis = [...new Set(minted.flatMap(apisOf))].filter((a) => !seenApis.has(a)).sort();
  const scopes = [...new Set(minted.flatMap(scopesOf))].filter((s) => !seenScopes.has(s)).sort();

  const windowHours = Math.max((w.to.getTime() - w.from.getTime()) / HOUR, 1 / 60);
  const baselineHours = (w.from.getTime() - w.baselineFrom.getTime()) / HOUR;
  const rate = minted.length / windowHours;
  const baseline =
    baselineHours > 0 ? before.filter((e) => MINTS.has(e.action)).length / baselineHours : 0;
  const spike =
    minted.length >= SPIKE_MIN &&
    (baseline === 0 ? baselineHours > 0 : rate > SPIKE_FACTOR * baseline);

  const series = new Array<number>(Math.max(1, w.buckets)).fill(0);
  const span = w.to.getTime() - w.from.getTime();
  for (const e of minted) {
    const i = Math.min(
      series.length - 1,
      Math.floor(((e.at.getTime() - w.from.getTime()) / span) * series.length),
    );
    series[i] = (series[i] ?? 0) + 1;
  }

  const flags: string[] = [];
  if (overruns > 0) flags.push(`${overruns} scope overrun${overruns === 1 ? '' : 's'}`);
  if (denials > 0) flags.push(`${denials} request${denials === 1 ? '' : 's'} denied by policy`);
  if (escalations > 0) flags.push(`${escalations} escalated to the person`);
  if (spike) {
    flags.push(
      baseline === 0
        ? `${minted.length} tokens where it minted none before`
        : `${round(rate)} tokens/hour against its usual ${round(baseline)}`,
    );
  }
  // Only new to an agent that has a history: on its first day, everything is new.
  if (before.length > 0 && apis.length > 0) flags.push(`first use of ${apis.join(', ')}`);
  if (before.length > 0 && scopes.length > 0) flags.push(`first use of scope ${scopes.join(' ')}`);

  return {
    agent,
    minted: minted.length,
    denials,
    escalations,
    overruns,
    firstTime: { apis, scopes },
    rate: { window: round(rate), baseline: round(baseline), spike },
    series,
    flags,
  };
}

function agentOf(e: ActivityEntry): string | undefined {
  if (e.actor.startsWith('agent:')) return e.actor.slice('agent:'.length);
  return typeof e.inputs.agent === 'string' ? e.inputs.agent : undefined;
}

const round = (n: number) => Math.round(n * 10) / 10;

function apisOf(e: ActivityEntry): string[] {
  return typeof e.inputs.audience === 'string' ? [e.inputs.audience] : [];
}

function scopesOf(e: ActivityEntry): string[] {
  return typeof e.inputs.scope === 'string' ? e.inputs.scope.split(' ').filter(Boolean) : [];
}
