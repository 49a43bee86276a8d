/**
 * Whether an invite link can still be redeemed, without redeeming it: the invite page
 * only shows it; the passkey endpoint consumes it (consumeInvite in src/registry/users.ts)
 * in the same transaction that stores the passkey. The conditions mirror consumeInvite's.
 */
import { and, eq, gt, isNull, ne } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { DbOrTx } from '../db/database.ts';
import { invites, tenants, users } from '../db/schema.ts';
import { inviteTenant } from '../db/lookups.ts';
import { inTenant } from '../db/tenancy.ts';
import { sha256base64url } from '../random.ts';

export interface OpenInvite {
  tenantId: string;
  userId: string;
  email: string;
  tenant: string;
  expiresAt: Date;
}

export async function findOpenInvite(
  db: DbOrTx,
  secret: string,
  clock: Clock,
): Promise<OpenInvite | undefined> {
  // Same bound as consumeInvite: anything longer was never one of our secrets.
  if (secret.length === 0 || secret.length > 128) return undefined;
  const tokenHash = await sha256base64url(secret);
  // The link names the invite, the invite its tenant: read in that tenant's scope.
  const tenantId = await inviteTenant(db, tokenHash);
  if (tenantId === undefined) return undefined;
  const [row] = await inTenant(db, tenantId, (tx) =>
    tx
      .select({
        tenantId: users.tenantId,
        userId: users.id,
        email: users.email,
        tenant: tenants.slug,
        expiresAt: invites.expiresAt,
      })
      .from(invites)
      .innerJoin(users, eq(users.id, invites.userId))
      .innerJoin(tenants, eq(tenants.id, invites.tenantId))
      .where(
        and(
          eq(invites.tokenHash, tokenHash),
          isNull(invites.usedAt),
          gt(invites.expiresAt, clock.now()),
          ne(users.status, 'disabled'),
        ),
      ),
  );
  return row;
}
