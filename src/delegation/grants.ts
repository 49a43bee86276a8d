/**
 * A person's view of their delegations, and revocation of a grant. Every query
 * names the tenant and the person, so a guessed id from elsewhere finds nothing.
 */
import { and, desc, eq, gt, lte, ne, or } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { cibaRequests, clients, grants, type ResourceScopes } from '../db/schema.ts';
import { revokeGrantTree } from '../revocation/revoke.ts';
import { isUuid, sha256base64url } from '../random.ts';
import { agentTask } from './request-view.ts';

export interface Who {
  tenantId: string;
  userId: string;
}

export interface PendingRequest {
  id: string;
  agentName: string;
  purpose: string | undefined;
  bindingMessage: string | null;
  resources: ResourceScopes[];
  expiresAt: Date;
  createdAt: Date;
}

export interface GrantSummary {
  id: string;
  agentName: string;
  resources: ResourceScopes[];
  purpose: string | undefined;
  createdAt: Date;
  expiresAt: Date;
  status: 'active' | 'revoked' | 'expired';
  revokedAt: Date | null;
  revocationReason: string | null;
}

export interface Activity {
  at: Date;
  agentName: string;
  what: 'approved' | 'denied' | 'expired' | 'revoked';
  purpose: string | undefined;
}

export async function pendingRequests(db: DbOrTx, who: Who, now: Date): Promise<PendingRequest[]> {
  const rows = await db
    .select({ r: cibaRequests, agentName: clients.name })
    .from(cibaRequests)
    .innerJoin(clients, eq(clients.id, cibaRequests.clientId))
    .where(
      and(
        eq(cibaRequests.tenantId, who.tenantId),
        eq(cibaRequests.userId, who.userId),
        eq(cibaRequests.status, 'pending'),
        gt(cibaRequests.expiresAt, now),
      ),
    )
    .orderBy(desc(cibaRequests.createdAt));
  return rows.map(({ r, agentName }) => ({
    id: r.id,
    agentName,
    purpose: agentTask(r.authorizationDetails).purpose,
    bindingMessage: r.bindingMessage,
    resources: r.requested,
    expiresAt: r.expiresAt,
    createdAt: r.createdAt,
  }));
}

export async function activeGrants(db: DbOrTx, who: Who, now: Date): Promise<GrantSummary[]> {
  const rows = await db
    .select({ g: grants, agentName: clients.name })
    .from(grants)
    .innerJoin(clients, eq(clients.id, grants.clientId))
    .where(
      and(
        eq(grants.tenantId, who.tenantId),
        eq(grants.userId, who.userId),
        eq(grants.status, 'active'),
        gt(grants.expiresAt, now),
      ),
    )
    .orderBy(desc(grants.createdAt));
  return rows.map(({ g, agentName }) => summary(g, agentName, now));
}

function summary(g: typeof grants.$inferSelect, agentName: string, now: Date): GrantSummary {
  return {
    id: g.id,
    agentName,
    resources: g.resources,
    purpose: agentTask(g.authorizationDetails).purpose,
    createdAt: g.createdAt,
    expiresAt: g.expiresAt,
    status: g.status === 'active' && g.expiresAt <= now ? 'expired' : g.status,
    revokedAt: g.revokedAt,
    revocationReason: g.revocationReason,
  };
}

/** The latest decisions on this person's requests and revocations of their grants, newest first. */
export async function recentActivity(
  db: DbOrTx,
  who: Who,
  now: Date,
  limit = 10,
): Promise<Activity[]> {
  const requests = await db
    .select({ r: cibaRequests, agentName: clients.name })
    .from(cibaRequests)
    .innerJoin(clients, eq(clients.id, cibaRequests.clientId))
    .where(
      and(
        eq(cibaRequests.tenantId, who.tenantId),
        eq(cibaRequests.userId, who.userId),
        or(ne(cibaRequests.status, 'pending'), lte(cibaRequests.expiresAt, now)),
      ),
    )
    .orderBy(desc(cibaRequests.createdAt))
    .limit(limit);
  const revoked = await db
    .select({ g: grants, agentName: clients.name })
    .from(grants)
    .innerJoin(clients, eq(clients.id, grants.clientId))
    .where(
      and(
        eq(grants.tenantId, who.tenantId),
        eq(grants.userId, who.userId),
        eq(grants.status, 'revoked'),
      ),
    )
    .orderBy(desc(grants.revokedAt))
    .limit(limit);
  const events: Activity[] = [
    ...requests.map(({ r, agentName }) => ({
      at: r.decidedAt ?? r.expiresAt,
      agentName,
      what: r.status === 'pending' ? ('expired' as const) : r.status,
      purpose: agentTask(r.authorizationDetails).purpose,
    })),
    ...revoked.map(({ g, agentName }) => ({
      at: g.revokedAt ?? g.createdAt,
      agentName,
      what: 'revoked' as const,
      purpose: agentTask(g.authorizationDetails).purpose,
    })),
  ];
  return events.sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, limit);
}

/**
 * Revokes one of this person's active grants and every token minted under it, in
 * one transaction. Returns false when there is no such active grant (already
 * revoked, expired, or not theirs), so a double click is harmless.
 */
export async function revokeGrant(
  db: DbOrTx,
  who: Who,
  grantId: string,
  reason: string,
  now: Date,
  /** Who revokes it for the ledger; the person by default. */
  actor = `user:${who.userId}`,
): Promise<boolean> {
  if (!isUuid(grantId)) return false;
  return db.transaction((tx) =>
    revokeGrantTree(
      tx,
      { id: grantId, tenantId: who.tenantId },
      eq(grants.userId, who.userId),
      reason,
      now,
      actor,
    ),
  );
}

/** A short digest of which requests wait and which grants live: equal digests, same dashboard. */
export function dashboardState(pending: PendingRequest[], grants: GrantSummary[]): Promise<string> {
  const ids = [...pending.map((r) => `r:${r.id}`), ...grants.map((g) => `g:${g.id}`)].sort();
  return sha256base64url(ids.join(','));
}
