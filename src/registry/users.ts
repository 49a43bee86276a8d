/**
 * People and their invites. An invite link carries a 32-byte secret; only its
 * SHA-256 is stored, so a database leak does not hand out usable links. Links
 * are single use and expire (DESIGN.md, Operator CLI).
 */
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { Database, DbOrTx } from '../db/database.ts';
import { invites, users } from '../db/schema.ts';
import { randomToken, sha256base64url } from '../random.ts';
import { RegistryError } from './errors.ts';
import { tenantIdOf } from './tenants.ts';
import { emailSchema, parseInput } from './validate.ts';
import { inTenant, nameTenant } from '../db/tenancy.ts';
import { inviteTenant } from '../db/lookups.ts';

export interface InviteOptions {
  /** The broker's public URL, without trailing slash; the link points at its invite page. */
  publicUrl: string;
  /** Seconds the link stays usable. */
  inviteTtl: number;
  clock: Clock;
}

export interface Invitation {
  user_id: string;
  invite_url: string;
}

/**
 * Creates the person if new (status `invited`) and a fresh invite link. Earlier
 * unused links of that person expire now, so only the newest link works.
 */
export async function inviteUser(
  db: Database,
  input: { tenant: string; email: string },
  options: InviteOptions,
): Promise<Invitation> {
  const email = parseInput(emailSchema, input.email, 'email');
  const secret = randomToken(32);
  const tokenHash = await sha256base64url(secret);
  const now = options.clock.now();
  const userId = await db.transaction(async (tx) => {
    const tenantId = await tenantIdOf(tx, input.tenant);
    // The slug names the tenant; what follows writes its rows only (src/db/tenancy.ts).
    await nameTenant(tx, tenantId);
    await tx.insert(users).values({ tenantId, email }).onConflictDoNothing();
    const [user] = await tx
      .select({ id: users.id, status: users.status })
      .from(users)
      .where(and(eq(users.tenantId, tenantId), eq(users.email, email)));
    if (!user) throw new Error('user row vanished inside its own transaction');
    if (user.status === 'disabled') {
      throw new RegistryError('ERR_CONFLICT', `user "${email}" is disabled; not inviting`);
    }
    await tx
      .update(invites)
      .set({ expiresAt: now })
      .where(and(eq(invites.userId, user.id), isNull(invites.usedAt), gt(invites.expiresAt, now)));
    await tx.insert(invites).values({
      tenantId,
      userId: user.id,
      tokenHash,
      expiresAt: new Date(now.getTime() + options.inviteTtl * 1000),
      createdAt: now,
    });
    return user.id;
  });
  return { user_id: userId, invite_url: `${options.publicUrl}/invite/${secret}` };
}

/**
 * Redeems an invite secret exactly once. The single UPDATE … WHERE used_at IS NULL
 * is a compare-and-swap: of two concurrent redemptions only one matches a row.
 * Pass a transaction to make the redemption part of a larger write (e.g. storing
 * the passkey), so that a failure there leaves the link usable.
 */
export async function consumeInvite(
  db: DbOrTx,
  secret: string,
  clock: Clock,
): Promise<{ tenantId: string; userId: string }> {
  // One message for unknown, used and expired links: the caller learns nothing more.
  const refused = new RegistryError(
    'ERR_INVALID',
    'invite link is invalid, expired or already used',
  );
  if (typeof secret !== 'string' || secret.length === 0 || secret.length > 128) throw refused;
  const tokenHash = await sha256base64url(secret);
  const now = clock.now();
  // The link names the invite, the invite its tenant: redeemed in that tenant's scope.
  const tenantId = await inviteTenant(db, tokenHash);
  if (tenantId === undefined) throw refused;
  return inTenant(db, tenantId, async (tx) => {
    const [invite] = await tx
      .update(invites)
      .set({ usedAt: now })
      .where(
        and(eq(invites.tokenHash, tokenHash), isNull(invites.usedAt), gt(invites.expiresAt, now)),
      )
      .returning({ tenantId: invites.tenantId, userId: invites.userId });
    if (!invite) throw refused;
    const [user] = await tx
      .select({ status: users.status })
      .from(users)
      .where(eq(users.id, invite.userId));
    // Throwing rolls the redemption back; a disabled person's link stays unused but useless.
    if (user?.status === 'disabled') throw refused;
    return invite;
  });
}
