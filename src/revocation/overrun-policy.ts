/**
 * When an overrun costs the agent its whole grant, not just the token: at once when
 * the attempt lies outside what the person granted, otherwise when the grant's
 * overruns (reported by APIs and refused at the token endpoint alike) reach the
 * threshold. The threshold is the API's own, else the tenant's, else the broker's
 * MANDATE_OVERRUN_THRESHOLD. That is the shipped default bundle's
 * `overrun-revokes-grant`: the decision is the policy's (action HandleOverrun, DENY
 * revokes the grant); the counting stays here and reaches it as context.
 */
import { and, count, eq } from 'drizzle-orm';
import type { Tx } from '../db/database.ts';
import { apis, grants, overrunAttempts, tenants } from '../db/schema.ts';
import { revokeGrantTree } from './revoke.ts';
import type { Decision, PolicyEngine } from '../policy/engine.ts';
import { gatherFacts, sensitivityKey } from '../policy/signals.ts';

export const GRANT_REVOKED_FOR_OVERRUN = 'revoked after a scope overrun';

export async function overrunThreshold(
  tx: Tx,
  where: { tenantId: string; apiClientId?: string | undefined },
  fallback: number,
): Promise<number> {
  if (where.apiClientId !== undefined) {
    const [api] = await tx
      .select({ threshold: apis.overrunThreshold })
      .from(apis)
      .where(and(eq(apis.clientId, where.apiClientId), eq(apis.tenantId, where.tenantId)));
    if (api?.threshold != null) return api.threshold;
  }
  const [tenant] = await tx
    .select({ threshold: tenants.overrunThreshold })
    .from(tenants)
    .where(eq(tenants.id, where.tenantId));
  return tenant?.threshold ?? fallback;
}

export interface GrantVerdict {
  /** Overruns recorded against the grant, this one included. */
  overruns: number;
  threshold: number;
  grantRevoked: boolean;
  /** The policy's decision (undefined only when the app decides without a policy). */
  decision: Decision | undefined;
}

export interface Judgement {
  outsideGrant: boolean;
  threshold: number;
  now: Date;
  actor: string;
  policy: PolicyEngine | undefined;
  /** The API the attempt was at, and what was attempted there. */
  target: { resource: string; apiClientId: string | undefined; scopes: string[] };
}

/**
 * Counts the grant's overruns (call it after recording the new one, in the same
 * transaction, with the grant row locked FOR UPDATE so two reports cannot both
 * count below the threshold) and revokes the grant when the verdict says so.
 */
export async function judgeGrant(
  tx: Tx,
  grant: { id: string; tenantId: string; clientId: string; userId: string },
  p: Judgement,
): Promise<GrantVerdict> {
  const [row] = await tx
    .select({ n: count() })
    .from(overrunAttempts)
    .where(
      and(eq(overrunAttempts.grantId, grant.id), eq(overrunAttempts.tenantId, grant.tenantId)),
    );
  const overruns = row?.n ?? 0;
  const decision = p.policy && (await decide(tx, p.policy, grant, overruns, p));
  const due = decision ? decision.outcome === 'DENY' : p.outsideGrant || overruns >= p.threshold;
  const grantRevoked = due
    ? await revokeGrantTree(tx, grant, undefined, GRANT_REVOKED_FOR_OVERRUN, p.now, p.actor)
    : false;
  return { overruns, threshold: p.threshold, grantRevoked, decision };
}

async function decide(
  tx: Tx,
  policy: PolicyEngine,
  grant: { tenantId: string; clientId: string; userId: string },
  overruns: number,
  p: Judgement,
): Promise<Decision> {
  const { target } = p;
  const facts = await gatherFacts(tx, {
    tenantId: grant.tenantId,
    clientId: grant.clientId,
    audiences: [target.resource],
    now: p.now,
    ...(target.apiClientId === undefined
      ? {}
      : { apiScopes: [{ apiClientId: target.apiClientId, names: target.scopes }] }),
  });
  const sensitivity = (name: string) =>
    (target.apiClientId === undefined
      ? undefined
      : facts.sensitivities.get(sensitivityKey(target.apiClientId, name))) ?? 'admin';
  return policy.decide(
    grant.tenantId,
    {
      action: 'HandleOverrun',
      agent: grant.clientId,
      person: grant.userId,
      targets: [
        {
          audience: target.resource,
          scopes: target.scopes.map((name) => ({ name, sensitivity: sensitivity(name) })),
        },
      ],
      requestedTtl: 0,
      ttlCeiling: 0,
      at: p.now,
      signals: facts.signals,
      overrun: { grantOverruns: overruns, threshold: p.threshold, outsideGrant: p.outsideGrant },
    },
    { db: tx },
  );
}

/** Locks the grant for the verdict; undefined when it is not the tenant's. */
export async function lockGrant(
  tx: Tx,
  grantId: string,
  tenantId: string,
): Promise<typeof grants.$inferSelect | undefined> {
  const [grant] = await tx
    .select()
    .from(grants)
    .where(and(eq(grants.id, grantId), eq(grants.tenantId, tenantId)))
    .for('update');
  return grant;
}
