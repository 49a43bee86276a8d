/**
 * Registering a first passkey from an invite link, in-process with a software
 * authenticator. Verification consumes the challenge and the invite, stores the
 * passkey, activates the person and signs them in — all in one transaction, so
 * every refusal below must leave the database exactly as it was and the link
 * still usable.
 */
import { eq } from 'drizzle-orm';
import { base64url } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { invites, passkeys, users } from '../../src/db/schema.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { invite } from '../ui/fixtures.ts';
import {
  authenticatorFor,
  cookieOf,
  expectRefused,
  postJson,
  register,
  registrationOptions,
  snapshot,
} from './ceremonies.ts';

let t: TestApp | undefined;
afterEach(async () => t?.close());

const app = async () => (t = await createTestApp());
const db = (app: TestApp) => app.owner;
const NOT_CURRENT = /does not answer a current registration/;
const BAD_INVITE = /invite link is invalid, expired or already used/;

describe('registration from an invite', () => {
  it('offers options pinned to a discoverable, user-verified passkey for this person', async () => {
    const t = await app();
    const { userId, secret } = await invite(t);
    const options = await registrationOptions(t, secret);
    expect(options.rp).toEqual({ id: 'localhost', name: 'Mandate' });
    expect(options.user.name).toBe('ada@example.com');
    expect(options.user.id).toBe(base64url.encode(new TextEncoder().encode(userId)));
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      requireResidentKey: true,
      userVerification: 'required',
    });
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual([-8, -7, -257]);
    expect(options.excludeCredentials).toEqual([]);
    expect(options.timeout).toBe(t.deps.config.webauthnChallengeTtl * 1000);
    expect(base64url.decode(options.challenge)).toHaveLength(32);
    // Asking for options does not use up the link.
    const [row] = await db(t).select().from(invites).where(eq(invites.userId, userId));
    expect(row?.usedAt).toBeNull();
  });

  it('stores the passkey, activates the person, uses the invite and signs them in', async () => {
    const t = await app();
    const { userId, secret } = await invite(t);
    const auth = await authenticatorFor(t);
    const answer = await register(t, secret, auth);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toEqual({ ok: true, redirect: '/' });

    const [stored] = await db(t).select().from(passkeys);
    expect(stored).toMatchObject({
      id: auth.credentialId,
      userId,
      counter: 0,
      transports: ['internal'],
      deviceType: 'singleDevice',
      backedUp: false,
      aaguid: '00000000-0000-0000-0000-000000000000',
    });
    const [person] = await db(t).select().from(users).where(eq(users.id, userId));
    expect(person?.status).toBe('active');
    const [link] = await db(t).select().from(invites).where(eq(invites.userId, userId));
    expect(link?.usedAt).toEqual(t.clock.now());

    const html = await (await t.request('/', { headers: { cookie: cookieOf(answer.res) } })).text();
    expect(html).toContain('Signed in as');
  });

  it('refuses an unknown invite before issuing any challenge', async () => {
    const t = await app();
    const before = await snapshot(t);
    const answer = await postJson(t, '/passkeys/register/options', { invite: 'nope' });
    expectRefused(answer, BAD_INVITE);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a malformed request body', async () => {
    const t = await app();
    const { secret } = await invite(t);
    const answer = await postJson(t, '/passkeys/register/verify', { invite: secret });
    expectRefused(answer, /malformed passkey request/);
  });

  it('refuses a replayed registration response', async () => {
    const t = await app();
    const { secret } = await invite(t);
    const auth = await authenticatorFor(t);
    const options = await registrationOptions(t, secret);
    const response = await auth.register(options);
    const first = await postJson(t, '/passkeys/register/verify', { invite: secret, response });
    expect(first.status).toBe(200);
    const before = await snapshot(t);
    const replay = await postJson(t, '/passkeys/register/verify', { invite: secret, response });
    expectRefused(replay, NOT_CURRENT);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses an answer to an expired challenge and leaves the invite usable', async () => {
    const t = await app();
    const { secret } = await invite(t);
    const auth = await authenticatorFor(t);
    const response = await auth.register(await registrationOptions(t, secret));
    t.clock.advance(t.deps.config.webauthnChallengeTtl + 1);
    const before = await snapshot(t);
    const late = await postJson(t, '/passkeys/register/verify', { invite: secret, response });
    expectRefused(late, NOT_CURRENT);
    expect(await snapshot(t)).toEqual(before);
    expect((await register(t, secret, auth)).status).toBe(200);
  });

  it.each([
    [
      'another origin',
      { origin: 'https://evil.example' },
      /origin "https:\/\/evil.example", expected "http:\/\/localhost:8787"/,
    ],
    ['another RP ID', { rpId: 'evil.example' }, /another RP ID, expected "localhost"/],
    ['no user verification', { uv: false }, /User verification was required/],
    ['no user presence', { up: false }, /User presence was required/],
    [
      'a sign-in ceremony type',
      { type: 'webauthn.get' },
      /registration response type: webauthn.get/,
    ],
  ])(
    'refuses a response with %s, writes nothing and keeps the invite usable',
    async (_, ceremony, says) => {
      const t = await app();
      const { secret } = await invite(t);
      const auth = await authenticatorFor(t);
      const options = await registrationOptions(t, secret);
      const before = await snapshot(t);
      const response = await auth.register(options, ceremony);
      const answer = await postJson(t, '/passkeys/register/verify', { invite: secret, response });
      expectRefused(answer, says);
      expect(await snapshot(t)).toEqual(before);
      // The rollback also kept the challenge: an honest answer to the same options succeeds.
      const honest = await auth.register(options);
      const ok = await postJson(t, '/passkeys/register/verify', {
        invite: secret,
        response: honest,
      });
      expect(ok.status).toBe(200);
    },
  );

  it('uses an invite only once, even with two ceremonies started from it', async () => {
    const t = await app();
    const { secret } = await invite(t);
    const first = await registrationOptions(t, secret);
    const second = await registrationOptions(t, secret);
    const ok = await postJson(t, '/passkeys/register/verify', {
      invite: secret,
      response: await (await authenticatorFor(t)).register(first),
    });
    expect(ok.status).toBe(200);
    const before = await snapshot(t);
    const again = await postJson(t, '/passkeys/register/verify', {
      invite: secret,
      response: await (await authenticatorFor(t)).register(second),
    });
    expectRefused(again, BAD_INVITE);
    expect(await snapshot(t)).toEqual(before);
    expectRefused(await postJson(t, '/passkeys/register/options', { invite: secret }), BAD_INVITE);
  });

  it('refuses an expired invite, at options and at verification', async () => {
    const t = await app();
    const { userId, secret } = await invite(t);
    const options = await registrationOptions(t, secret);
    // The link lapses while the person is at the authenticator prompt.
    await db(t).update(invites).set({ expiresAt: t.clock.now() }).where(eq(invites.userId, userId));
    const before = await snapshot(t);
    const response = await (await authenticatorFor(t)).register(options);
    const answer = await postJson(t, '/passkeys/register/verify', { invite: secret, response });
    expectRefused(answer, BAD_INVITE);
    expect(await snapshot(t)).toEqual(before);

    const { secret: later } = await invite(t, 'bob@example.com');
    t.clock.advance(t.deps.config.inviteTtl + 1);
    expectRefused(await postJson(t, '/passkeys/register/options', { invite: later }), BAD_INVITE);
  });

  it("refuses a disabled person's invite, at options and at verification", async () => {
    const t = await app();
    const { userId, secret } = await invite(t);
    const options = await registrationOptions(t, secret);
    await db(t).update(users).set({ status: 'disabled' }).where(eq(users.id, userId));
    expectRefused(await postJson(t, '/passkeys/register/options', { invite: secret }), BAD_INVITE);
    const before = await snapshot(t);
    const response = await (await authenticatorFor(t)).register(options);
    const answer = await postJson(t, '/passkeys/register/verify', { invite: secret, response });
    expectRefused(answer, BAD_INVITE);
    expect(await snapshot(t)).toEqual(before);
  });

  it("refuses a response to a challenge issued for another person's invite", async () => {
    const t = await app();
    const ada = await invite(t, 'ada@example.com');
    const bob = await invite(t, 'bob@example.com');
    const bobsOptions = await registrationOptions(t, bob.secret);
    const auth = await authenticatorFor(t);
    const before = await snapshot(t);
    const answer = await postJson(t, '/passkeys/register/verify', {
      invite: ada.secret,
      response: await auth.register(bobsOptions),
    });
    expectRefused(answer, NOT_CURRENT);
    expect(await snapshot(t)).toEqual(before);
    // Bob's ceremony is untouched and still completes for Bob.
    const bobs = await postJson(t, '/passkeys/register/verify', {
      invite: bob.secret,
      response: await auth.register(bobsOptions),
    });
    expect(bobs.status).toBe(200);
    const [stored] = await db(t).select().from(passkeys);
    expect(stored?.userId).toBe(bob.userId);
  });

  it('refuses a credential id that is already registered, with 400 not 500', async () => {
    const t = await app();
    const ada = await invite(t, 'ada@example.com');
    const bob = await invite(t, 'bob@example.com');
    const auth = await authenticatorFor(t);
    expect((await register(t, ada.secret, auth)).status).toBe(200);
    const before = await snapshot(t);
    // A client ignoring excludeCredentials, or replaying Ada's attestation for Bob.
    expectRefused(await register(t, bob.secret, auth), /already registered/);
    const after = await snapshot(t);
    expect({ ...after, challenges: [] }).toEqual({ ...before, challenges: [] });
  });
});
