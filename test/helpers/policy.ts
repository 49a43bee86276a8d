/** Policy set-ups for tests whose subject is not the policy. */
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
