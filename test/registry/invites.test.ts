import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { invites, users } from '../../src/db/schema.ts';
import { sha256base64url } from '../../src/random.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { consumeInvite, inviteUser } from '../../src/registry/users.ts';
import { TestClock } from '../helpers/clock.ts';
import { closeDatabasesAfterEach, database, failure } from './fixtures.ts';

closeDatabasesAfterEach();

const PUBLIC_URL = 'https://broker.example';
const TTL = 3600;

async function setup() {
  const db = (await database()).owner;
  await createTenant(db, 'alpha');
  await createTenant(db, 'bravo');
  const clock = new TestClock();
  const invite = (email: string, tenant = 'alpha') =>
    inviteUser(db, { tenant, email }, { publicUrl: PUBLIC_URL, inviteTtl: TTL, clock });
  return { db, clock, invite };
}

const secretOf = (url: string) => url.slice(`${PUBLIC_URL}/invite/`.length);

describe('invites', () => {
  it('creates an invited user and a link whose secret is stored only as a hash', async () => {
    const { db, invite } = await setup();
    const { user_id, invite_url } = await invite('  Ada@Example.COM ');
    expect(invite_url).toMatch(/^https:\/\/broker\.example\/invite\/[\w-]{43}$/);
    const [user] = await db.select().from(users).where(eq(users.id, user_id));
    expect(user).toMatchObject({ email: 'ada@example.com', status: 'invited' });
    const [row] = await db.select().from(invites).where(eq(invites.userId, user_id));
    expect(row?.tokenHash).toBe(await sha256base64url(secretOf(invite_url)));
  });

  it('accepts a handle and refuses something that is neither email nor handle', async () => {
    const { invite } = await setup();
    await invite('ada.lovelace');
    expect(await failure(invite('ada lovelace'))).toMatchObject({ code: 'ERR_INVALID' });
    expect(await failure(invite('ada@'))).toMatchObject({ code: 'ERR_INVALID' });
  });

  it('redeems a link once only', async () => {
    const { db, clock, invite } = await setup();
    const { user_id, invite_url } = await invite('ada@example.com');
    const redeemed = await consumeInvite(db, secretOf(invite_url), clock);
    expect(redeemed.userId).toBe(user_id);
    const err = await failure(consumeInvite(db, secretOf(invite_url), clock));
    expect(err).toMatchObject({
      code: 'ERR_INVALID',
      message: 'invite link is invalid, expired or already used',
    });
  });

  it('refuses a link after its lifetime', async () => {
    const { db, clock, invite } = await setup();
    const { invite_url } = await invite('ada@example.com');
    clock.advance(TTL + 1);
    expect(await failure(consumeInvite(db, secretOf(invite_url), clock))).toMatchObject({
      code: 'ERR_INVALID',
    });
  });

  it('invalidates the earlier link when a person is invited again', async () => {
    const { db, clock, invite } = await setup();
    const first = await invite('ada@example.com');
    const second = await invite('ADA@example.com');
    expect(second.user_id).toBe(first.user_id);
    expect(await failure(consumeInvite(db, secretOf(first.invite_url), clock))).toMatchObject({
      code: 'ERR_INVALID',
    });
    expect((await consumeInvite(db, secretOf(second.invite_url), clock)).userId).toBe(
      first.user_id,
    );
  });

  it('treats the same email in two tenants as two people', async () => {
    const { db, clock, invite } = await setup();
    const a = await invite('ada@example.com', 'alpha');
    const b = await invite('ada@example.com', 'bravo');
    expect(b.user_id).not.toBe(a.user_id);
    // Inviting in bravo did not touch alpha's link.
    expect((await consumeInvite(db, secretOf(a.invite_url), clock)).userId).toBe(a.user_id);
  });

  it('refuses to invite or redeem for a disabled person', async () => {
    const { db, clock, invite } = await setup();
    const { user_id, invite_url } = await invite('ada@example.com');
    await db.update(users).set({ status: 'disabled' }).where(eq(users.id, user_id));
    expect(await failure(invite('ada@example.com'))).toMatchObject({ code: 'ERR_CONFLICT' });
    expect(await failure(consumeInvite(db, secretOf(invite_url), clock))).toMatchObject({
      code: 'ERR_INVALID',
    });
  });

  it('refuses an unknown secret and an unknown tenant', async () => {
    const { db, clock, invite } = await setup();
    expect(await failure(consumeInvite(db, 'not-a-secret', clock))).toMatchObject({
      code: 'ERR_INVALID',
    });
    expect(await failure(invite('ada@example.com', 'nope'))).toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
  });
});
