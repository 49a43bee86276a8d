/**
 * Reads what a summary needs from the ledger: a tenant's entries by agents in the
 * window and its baseline, optionally only those acting for one person (entries
 * about tokens and overruns name the person in their inputs) or only one agent's.
 * `/activity` shows a person theirs; `mandate audit summary` an operator the tenant's.
 */
import { and, eq, gte, inArray, like, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { auditEntries, clients } from '../db/schema.ts';
import { summarize, type AgentSummary, type SummaryWindow } from './summary.ts';

export const SUMMARY_WINDOWS = { '1h': 1, '24h': 24, '7d': 168 } as const;
export type SummaryWindowName = keyof typeof SUMMARY_WINDOWS;

const MINUTE = 60_000;
const UNITS = { m: MINUTE, h: 60 * MINUTE, d: 24 * 60 * MINUTE } as const;
/** The longest window `parseWindow` accepts; its baseline reaches eight times as far back. */
export const MAX_WINDOW_MS = 90 * UNITS.d;

/** The window ending now, its baseline the seven windows before it, twelve bars. */
export function windowEnding(now: Date, name: SummaryWindowName): SummaryWindow {
  return windowOf(now, SUMMARY_WINDOWS[name] * UNITS.h, 12);
}

/** A window of `spanMs` ending at `now`, its baseline the seven windows before it. */
export function windowOf(now: Date, spanMs: number, buckets: number): SummaryWindow {
  return {
    from: new Date(now.getTime() - spanMs),
    to: now,
    baselineFrom: new Date(now.getTime() - 8 * spanMs),
    buckets,
  };
}

/**
 * A window's length from text such as `90m`, `24h` or `7d` (a whole number of
 * minutes, hours or days, from one minute to 90 days), in milliseconds; undefined
 * for anything else.
 */
export function parseWindow(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(text);
  if (!m) return undefined;
  const span = Number(m[1]) * UNITS[m[2] as keyof typeof UNITS];
  return span <= MAX_WINDOW_MS ? span : undefined;
}

export interface NamedAgentSummary extends AgentSummary {
  name: string;
}

/**
 * Every agent of the tenant that did something in the window, the unusual first;
 * only those acting for `personId` when given, only `agentId` when given.
 */
export async function agentSummaries(
  db: DbOrTx,
  who: { tenantId: string; personId?: string; agentId?: string },
  w: SummaryWindow,
): Promise<NamedAgentSummary[]> {
  const rows = await db
    .select({
      at: auditEntries.at,
      action: auditEntries.action,
      actor: auditEntries.actor,
      decision: auditEntries.decision,
      inputs: auditEntries.inputs,
    })
    .from(auditEntries)
    .where(
      and(
        eq(auditEntries.tenantId, who.tenantId),
        gte(auditEntries.at, w.baselineFrom),
        lt(auditEntries.at, w.to),
        or(like(auditEntries.actor, 'agent:%'), sql`${auditEntries.inputs} ? 'agent'`),
        who.personId === undefined
          ? undefined
          : sql`${auditEntries.inputs}->>'person' = ${who.personId}`,
        who.agentId === undefined
          ? undefined
          : or(
              eq(auditEntries.actor, `agent:${who.agentId}`),
              sql`${auditEntries.inputs}->>'agent' = ${who.agentId}`,
            ),
      ),
    );
  // An entry counts for its actor first (summary.ts): one naming the agent only in
  // its inputs may belong to another.
  const summaries = summarize(rows, w).filter(
    (s) => who.agentId === undefined || s.agent === who.agentId,
  );
  const ids = summaries.map((s) => s.agent);
  const names = new Map(
    ids.length === 0
      ? []
      : (
          await db
            .select({ id: clients.id, name: clients.name })
            .from(clients)
            .where(and(eq(clients.tenantId, who.tenantId), inArray(clients.id, ids)))
        ).map((c) => [c.id, c.name] as const),
  );
  return summaries.map((s) => ({ ...s, name: names.get(s.agent) ?? s.agent }));
}
