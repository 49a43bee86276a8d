/**
 * WebAuthn challenges: 32 random bytes (or, for approvals, a document hash), bound
 * to one ceremony by `purpose`, expiring, and consumed exactly once: consumption is
 * a DELETE … RETURNING, so of two answers racing for one challenge only one wins.
 */
import { and, eq, gt, lte } from 'drizzle-orm';
import type { Database, DbOrTx } from '../db/database.ts';
import { webauthnChallenges } from '../db/schema.ts';
import { forEachTenant } from '../db/tenancy.ts';

export type ChallengePurpose = 'registration' | 'authentication' | 'approval';

export interface IssueChallenge {
  purpose: ChallengePurpose;
  /** base64url, as it appears in the options and in clientDataJSON. */
  challenge: string;
  tenantId?: string | undefined;
  userId?: string | undefined;
  context?: Record<string, unknown>;
  now: Date;
  /** Seconds until it can no longer be answered. */
  ttl: number;
}

export async function issueChallenge(db: DbOrTx, c: IssueChallenge): Promise<void> {
  await db.insert(webauthnChallenges).values({
    challenge: c.challenge,
    purpose: c.purpose,
    tenantId: c.tenantId ?? null,
    userId: c.userId ?? null,
    context: c.context ?? {},
    createdAt: c.now,
    expiresAt: new Date(c.now.getTime() + c.ttl * 1000),
  });
}

export type StoredChallenge = typeof webauthnChallenges.$inferSelect;

/** Removes and returns the challenge if it exists for this purpose and has not expired. */
export async function consumeChallenge(
  db: DbOrTx,
  c: { challenge: string; purpose: ChallengePurpose; now: Date },
): Promise<StoredChallenge | undefined> {
  if (c.challenge.length === 0 || c.challenge.length > 128) return undefined;
  const [row] = await db
    .delete(webauthnChallenges)
    .where(
      and(
        eq(webauthnChallenges.challenge, c.challenge),
        eq(webauthnChallenges.purpose, c.purpose),
        gt(webauthnChallenges.expiresAt, c.now),
      ),
    )
    .returning();
  return row;
}

/** Deletes expired challenges: a discoverable sign-in's (no tenant yet), then each tenant's. */
export async function pruneChallenges(db: Database, now: Date): Promise<void> {
  const expired = lte(webauthnChallenges.expiresAt, now);
  await db.delete(webauthnChallenges).where(expired);
  await forEachTenant(db, async (scoped) => {
    await scoped.delete(webauthnChallenges).where(expired);
  });
}
