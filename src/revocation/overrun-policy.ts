/**
 * When an overrun costs the agent its whole grant, not just the token: at once when
 * the attempt lies outside what the person granted, otherwise when the grant's
 * overruns (reported by APIs and refused at the token endpoint alike) reach the
 * threshold. The threshold is the API's own, else the tenant's, else the broker's
 * MANDATE_OVERRUN_THRESHOLD. The policy issue moves this decision into Cedar; the
 * counting stays here.
 */
import { and, count, eq } from 'drizzle-orm';
import type { Tx } from '../db/database.ts';
import { apis, grants, overrunAttempts, tenants } from '../db/schema.ts';
import { revokeGrantTree } from './revoke.ts';

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
}

/**
 * Counts the grant's overruns (call it after recording the new one, in the same
 * transaction, with the grant row locked FOR UPDATE so two reports cannot both
 * count below the threshold) and revokes the grant when the verdict says so.
 */
export async function judgeGrant(
  tx: Tx,
  grant: { id: string; tenantId: string },
  p: { outsideGrant: boolean; threshold: number; now: Date; actor: string },
): Promise<GrantVerdict> {
  const [row] = await tx
    .select({ n: count() })
    .from(overrunAttempts)
    .where(
      and(eq(overrunAttempts.grantId, grant.id), eq(overrunAttempts.tenantId, grant.tenantId)),
    );
  const overruns = row?.n ?? 0;
  const due = p.outsideGrant || overruns >= p.threshold;
  const grantRevoked = due
    ? await revokeGrantTree(tx, grant, undefined, GRANT_REVOKED_FOR_OVERRUN, p.now, p.actor)
    : false;
  return { overruns, threshold: p.threshold, grantRevoked };
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
