/** Shared setup for page tests: people, invites and sessions made straight in the database. */
import { eq } from 'drizzle-orm';
import { sessions, tenants, users } from '../../src/db/schema.ts';
import { cookieSettings } from '../../src/passkeys/session.ts';
import { randomToken, sha256base64url } from '../../src/random.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { inviteUser } from '../../src/registry/users.ts';
import type { TestApp } from '../helpers/app.ts';

/** An invite link for a new person in a new tenant; `secret` is the link's last segment. */
export async function invite(
  t: Pick<TestApp, 'deps' | 'clock' | 'owner'>,
  email = 'ada@example.com',
  tenant = 'acme',
): Promise<{ userId: string; url: string; secret: string }> {
  const db = t.owner;
  const [existing] = await db.select().from(tenants).where(eq(tenants.slug, tenant));
  if (!existing) await createTenant(db, tenant);
  const { user_id, invite_url } = await inviteUser(
    db,
    { tenant, email },
    { publicUrl: t.deps.config.publicUrl, inviteTtl: t.deps.config.inviteTtl, clock: t.clock },
  );
  return { userId: user_id, url: invite_url, secret: invite_url.split('/').pop() ?? '' };
}

/**
 * A signed-in person without a passkey ceremony: an active user and a session row,
 * as the passkey endpoints would leave them. Returns the Cookie header and CSRF token.
 */
export async function signedIn(
  t: Pick<TestApp, 'deps' | 'clock' | 'owner'>,
  email = 'ada@example.com',
): Promise<{ cookie: string; csrf: string }> {
  const db = t.owner;
  const { userId } = await invite(t, email);
  await db.update(users).set({ status: 'active' }).where(eq(users.id, userId));
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new Error('user vanished');
  const secret = randomToken(32);
  const csrf = randomToken(32);
  const now = t.clock.now();
  await db.insert(sessions).values({
    idHash: await sha256base64url(secret),
    tenantId: user.tenantId,
    userId,
    csrfToken: csrf,
    createdAt: now,
    expiresAt: new Date(now.getTime() + t.deps.config.sessionTtl * 1000),
  });
  return { cookie: `${cookieSettings(t.deps.config).name}=${secret}`, csrf };
}

/** Everything a strict CSP would block or a reviewer would flag as inline code. */
export function inlineCode(html: string): string[] {
  const patterns = [
    /<script(?![^>]*\ssrc=)[^>]*>/gi, // a script without src is inline
    /<style[\s>]/gi,
    /\sstyle=/gi,
    /\son[a-z]+=/gi, // inline event handlers
    /javascript:/gi,
  ];
  return patterns.flatMap((p) => html.match(p) ?? []);
}
