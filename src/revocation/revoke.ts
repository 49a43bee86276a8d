/**
 * Every revocation goes through here, inside the caller's transaction: the rows
 * change (which is all the status lists read), and one event per API audience is
 * appended and announced, so live verifiers drop the token within a second.
 *
 * Events are appended under a transaction-level advisory lock and announced with
 * NOTIFY, which PostgreSQL delivers only on commit: the lock makes event ids grow
 * in commit order, so a stream that resumes "after id N" can never skip an event
 * that committed late with a smaller id. Revocations are rare next to mints, so
 * serialising their last step costs nothing that matters.
 */
import { and, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../db/database.ts';
import { appendAudit, appendAuditMany } from '../audit/append.ts';
import { grants, issuedTokens, revocationEvents } from '../db/schema.ts';

/** The NOTIFY channel every broker process LISTENs on. */
export const REVOCATION_CHANNEL = 'mandate_revocations';

/** Any 64-bit number, the same in every process; distinct from the migration lock. */
const EVENT_ORDER_LOCK = 0x6d616e64_7265766en; // "mandrevn"

export interface NewRevocationEvent {
  tenantId: string;
  audience: string;
  kind: 'token' | 'grant';
  subject: string;
  expiresAt: Date;
}

export async function appendRevocationEvents(tx: Tx, events: NewRevocationEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.execute(sql`select pg_advisory_xact_lock(${EVENT_ORDER_LOCK.toString()}::bigint)`);
  await tx.insert(revocationEvents).values(events);
  await tx.execute(sql`select pg_notify(${REVOCATION_CHANNEL}, '')`);
}

/**
 * Revokes one token and every token exchanged from it (RFC 8693 lineage: they name
 * it among their ancestors). Returns the jtis revoked now; already revoked ones are
 * left as they were.
 */
export async function revokeTokenTree(
  tx: Tx,
  token: { tenantId: string; grantId: string; jti: string },
  now: Date,
  /** Who revoked it, as the ledger names actors (`agent:…`, `api:…`, `user:…`). */
  actor: string,
): Promise<string[]> {
  const revoked = await tx
    .update(issuedTokens)
    .set({ revokedAt: now })
    .where(
      and(
        eq(issuedTokens.tenantId, token.tenantId),
        // Descendants share the grant: the grant index narrows the search first.
        eq(issuedTokens.grantId, token.grantId),
        or(
          eq(issuedTokens.jti, token.jti),
          sql`${issuedTokens.ancestors} @> ${JSON.stringify([token.jti])}::jsonb`,
        ),
        isNull(issuedTokens.revokedAt),
      ),
    )
    .returning({
      jti: issuedTokens.jti,
      audience: issuedTokens.audience,
      expiresAt: issuedTokens.expiresAt,
    });
  await appendRevocationEvents(
    tx,
    revoked.map((r) => ({
      tenantId: token.tenantId,
      audience: r.audience,
      kind: 'token',
      subject: r.jti,
      expiresAt: r.expiresAt,
    })),
  );
  await appendAuditMany(
    tx,
    revoked.map((r) => ({
      tenantId: token.tenantId,
      at: now,
      action: 'token.revoked',
      actor,
      subject: `token:${r.jti}`,
      inputs: {
        grant: token.grantId,
        audience: r.audience,
        // A descendant dies with the token it was exchanged from.
        ...(r.jti === token.jti ? {} : { because_of: token.jti }),
      },
    })),
  );
  return revoked.map((r) => r.jti);
}

/**
 * Revokes an active grant matching `where` (the caller says whose it must be) and
 * every token minted under it. False when no such active grant exists.
 */
export async function revokeGrantTree(
  tx: Tx,
  grant: { id: string; tenantId: string },
  where: SQL | undefined,
  reason: string,
  now: Date,
  actor: string,
): Promise<boolean> {
  const [row] = await tx
    .update(grants)
    .set({ status: 'revoked', revokedAt: now, revocationReason: reason })
    .where(
      and(
        eq(grants.id, grant.id),
        eq(grants.tenantId, grant.tenantId),
        eq(grants.status, 'active'),
        where,
      ),
    )
    .returning({
      id: grants.id,
      resources: grants.resources,
      userId: grants.userId,
      clientId: grants.clientId,
    });
  if (!row) return false;
  const tokens = await tx
    .update(issuedTokens)
    .set({ revokedAt: now })
    .where(and(eq(issuedTokens.grantId, row.id), isNull(issuedTokens.revokedAt)))
    .returning({ expiresAt: issuedTokens.expiresAt });
  // A verifier may forget the grant once its last live token has expired; tokens
  // minted later are impossible (mints read the grant under a share lock).
  const lastExpiry = tokens.reduce((m, t) => Math.max(m, t.expiresAt.getTime()), now.getTime());
  const audiences = [...new Set(row.resources.map((r) => r.resource))];
  await appendRevocationEvents(
    tx,
    audiences.map((audience) => ({
      tenantId: grant.tenantId,
      audience,
      kind: 'grant',
      subject: row.id,
      expiresAt: new Date(lastExpiry),
    })),
  );
  await appendAudit(tx, {
    tenantId: grant.tenantId,
    at: now,
    action: 'grant.revoked',
    actor,
    subject: `grant:${row.id}`,
    inputs: { reason, person: row.userId, agent: row.clientId, tokens_revoked: tokens.length },
  });
  return true;
}
