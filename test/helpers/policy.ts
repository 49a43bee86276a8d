/** Policy set-ups for tests whose subject is not the policy. */
import { and, eq, isNotNull } from 'drizzle-orm';
import { expect } from 'vitest';
import { auditEntries } from '../../src/db/schema.ts';
import { replayDecision } from '../../src/policy/replay.ts';
import type { TestApp } from './app.ts';

/** A bundle that permits whatever the grant allows: no narrowing, escalation, reuse or denial. */
export const PERMIT_ALL = '@id("permit-all")\npermit (principal, action, resource);\n';

/**
 * Puts the tenant on PERMIT_ALL, for tests of the broker's own rules (scope algebra,
 * lifetimes, overrun thresholds) that many requests would otherwise trip the shipped
 * default's policies over (three overruns in a day deny, admin scopes adapt).
 */
export async function permitAll(t: TestApp, tenantId: string): Promise<void> {
  if (!t.policy) throw new Error('this app decides without a policy engine');
  await t.policy.push(tenantId, PERMIT_ALL, 'test');
}

/**
 * Replays every decision recorded in the tenant's ledger and expects each to reach its
 * recorded outcome, risk score and bundle; returns how many there were.
 */
export async function expectEveryDecisionReplays(t: TestApp, tenantId: string): Promise<number> {
  if (!t.policy) throw new Error('this app decides without a policy engine');
  const decided = await t.owner
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.tenantId, tenantId), isNotNull(auditEntries.decision)));
  for (const e of decided) {
    const replay = await replayDecision(t.policy, {
      tenantId: e.tenantId,
      outcome: e.decision ?? '',
      policyVersion: e.policyVersion ?? -1,
      policyDigest: e.policyDigest ?? '',
      policyId: e.policyId,
      riskScore: e.riskScore,
      inputs: e.inputs,
    });
    expect(replay.differences, `${e.action} #${e.id}`).toEqual([]);
  }
  return decided.length;
}
