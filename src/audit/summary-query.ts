/**
 * Reads what a summary needs from the ledger: a tenant's entries by agents in the
 * window and its baseline, optionally only those acting for one person (entries
 * about tokens and overruns name the person in their inputs).
 */
import { and, eq, gte, inArray, like, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { auditEntries, clients } from '../db/schema.ts';
import { summarize, type AgentSummary, type SummaryWindow } from './summary.ts';

export const SUMMARY_WINDOWS = { '1h': 1, '24h': 24, '7d': 168 } as const;
export type SummaryWindowName = keyof typeof SUMMARY_WINDOWS;

/** The window ending now, its baseline the seven windows before it, twelve bars. */
export function windowEnding(now: Date, name: SummaryWindowName): SummaryWindow {
  const span = SUMMARY_WINDOWS[name] * 3_600_000;
  return {
    from: new Date(now.getTime() - span),
    to: now,
    baselineFrom: new Date(now.getTime() - 8 * span),
    buckets: 12,
  };
}

export interface NamedAgentSummary extends AgentSummary {
  name: string;
}

export async function agentSummaries(
  db: DbOrTx,
  who: { tenantId: string; personId?: string },
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
      ),
    );
  const summaries = summarize(rows, w);
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
