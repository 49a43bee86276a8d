/**
 * ESCALATE (docs/POLICY.md): the policy wants the person to approve one task afresh
 * under a grant they already gave. The escalation is a pending request on the same
 * table and page as a CIBA request, so the person finds it on their dashboard and
 * approves it with a passkey the same way; approving creates no grant, it records
 * the assertion and lets one mint (or exchange) of exactly that task through.
 *
 * The agent is never handed an auth_req_id: it retries the same token request and
 * sees `authorization_pending` until the person has answered, `access_denied` if
 * they refused.
 */
import { and, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../db/database.ts';
import { cibaRequests, type EscalationKey, type ResourceScopes } from '../db/schema.ts';
import { randomToken, sha256base64url } from '../random.ts';

export type { EscalationKey };

export interface Escalation {
  id: string;
  status: 'pending' | 'approved' | 'denied';
  redeemed: boolean;
}

export function escalationKey(
  action: EscalationKey['action'],
  resource: string,
  scopes: readonly string[],
  taskId: string | undefined,
): EscalationKey {
  return { action, resource, scopes: [...new Set(scopes)].sort(), task_id: taskId ?? '' };
}

/** The newest unexpired escalation of this task under the grant, if any. */
export async function findEscalation(
  tx: Tx,
  q: { tenantId: string; grantId: string; key: EscalationKey; now: Date },
): Promise<Escalation | undefined> {
  const [row] = await tx
    .select({
      id: cibaRequests.id,
      status: cibaRequests.status,
      redeemedAt: cibaRequests.redeemedAt,
    })
    .from(cibaRequests)
    .where(
      and(
        eq(cibaRequests.escalatesGrantId, q.grantId),
        eq(cibaRequests.tenantId, q.tenantId),
        sql`${cibaRequests.escalation} = ${JSON.stringify(q.key)}::jsonb`,
        gt(cibaRequests.expiresAt, q.now),
      ),
    )
    .orderBy(desc(cibaRequests.createdAt))
    .limit(1);
  return row && { id: row.id, status: row.status, redeemed: row.redeemedAt !== null };
}

export interface NewEscalation {
  tenantId: string;
  grant: { id: string; clientId: string; userId: string; expiresAt: Date };
  key: EscalationKey;
  /** The API the task acts on, as the grant names it. */
  target: ResourceScopes;
  authorizationDetails: Record<string, unknown>[] | null;
  /** Seconds the person has to answer. */
  expiresIn: number;
  interval: number;
  now: Date;
}

/** Opens a pending escalation; the person approves or denies it on /requests/{id}. */
export async function openEscalation(tx: Tx, e: NewEscalation): Promise<{ id: string }> {
  const grantLeft = Math.floor((e.grant.expiresAt.getTime() - e.now.getTime()) / 1000);
  const [row] = await tx
    .insert(cibaRequests)
    .values({
      // Never handed out: an escalation is answered through the token request that raised it.
      authReqIdHash: await sha256base64url(randomToken(32)),
      tenantId: e.tenantId,
      clientId: e.grant.clientId,
      userId: e.grant.userId,
      requested: [{ ...e.target, scopes: e.key.scopes }],
      authorizationDetails: e.authorizationDetails,
      bindingMessage: null,
      // The page's duration control reads this; a fresh approval never outlives its grant.
      requestedGrantTtl: Math.max(60, grantLeft),
      pollInterval: e.interval,
      expiresAt: new Date(e.now.getTime() + Math.min(e.expiresIn, grantLeft) * 1000),
      escalatesGrantId: e.grant.id,
      escalation: e.key,
      createdAt: e.now,
    })
    .returning({ id: cibaRequests.id });
  if (!row) throw new Error('escalation insert returned nothing');
  return row;
}

/** Uses up an approved escalation (one token per fresh approval); false if another request did. */
export async function redeemEscalation(tx: Tx, id: string, now: Date): Promise<boolean> {
  const rows = await tx
    .update(cibaRequests)
    .set({ redeemedAt: now })
    .where(
      and(
        eq(cibaRequests.id, id),
        eq(cibaRequests.status, 'approved'),
        isNull(cibaRequests.redeemedAt),
      ),
    )
    .returning({ id: cibaRequests.id });
  return rows.length === 1;
}
