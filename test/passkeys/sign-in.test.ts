/**
 * Discoverable sign-in, sign-out and adding a passkey, in-process with software
 * authenticators. Every refused assertion must leave no session, no counter
 * change and no last-used time behind.
 */
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { passkeys, sessions, users } from '../../src/db/schema.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { invite } from '../ui/fixtures.ts';
import {
  authenticatorFor,
  cookieOf,
  csrfOf,
  expectRefused,
  postJson,
  registeredPerson,
  signIn,
  signInOptions,
  snapshot,
} from './ceremonies.ts';

let t: TestApp | undefined;
afterEach(async () => t?.close());

type CreationOptions = PublicKeyCredentialCreationOptionsJSON;
const db = (app: TestApp) => app.owner;
const NOT_CURRENT = /does not answer a current sign-in/;
const UNKNOWN = /^this passkey is not registered here$/;

const signedInPage = async (t: TestApp, cookie: string) =>
  (await (await t.request('/', { headers: { cookie } })).text()).includes('Signed in as');

describe('passkey sign-in', () => {
  it('offers discoverable options: no allowCredentials, user verification required', async () => {
    t = await createTestApp();
    const options = await signInOptions(t);
    expect(options.rpId).toBe('localhost');
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.timeout).toBe(t.deps.config.webauthnChallengeTtl * 1000);
  });

  it('registers from an invite, signs out, and signs in again with the same passkey', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    expect(ada.cookie).toMatch(/^mandate_session=[\w-]{43}$/);
    expect(await signedInPage(t, ada.cookie)).toBe(true);

    const out = await t.request('/signout', {
      method: 'POST',
      headers: {
        cookie: ada.cookie,
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://localhost:8787',
      },
      body: `csrf=${await csrfOf(t, ada.userId)}`,
    });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/');
    expect(out.headers.get('set-cookie')).toMatch(/^mandate_session=;.*Max-Age=0/);
    expect(await signedInPage(t, ada.cookie)).toBe(false);

    t.clock.advance(60);
    const again = await signIn(t, ada.auth);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toEqual({ ok: true, redirect: '/' });
    const header = again.res.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Strict/);
    expect(header).not.toMatch(/Secure/);
    expect(await signedInPage(t, cookieOf(again.res))).toBe(true);
    const [key] = await db(t).select().from(passkeys);
    expect(key).toMatchObject({ counter: 1, lastUsedAt: t.clock.now() });
  });

  it('signs out from fetch with the CSRF header too', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const out = await t.request('/signout', {
      method: 'POST',
      headers: { cookie: ada.cookie, 'x-csrf-token': await csrfOf(t, ada.userId) },
    });
    expect(out.status).toBe(303);
    expect(await db(t).select().from(sessions)).toHaveLength(0);
  });

  it('sets a __Host- Secure cookie when PUBLIC_URL is https', async () => {
    t = await createTestApp({ PUBLIC_URL: 'https://broker.example' });
    const ada = await registeredPerson(t);
    expect(ada.cookie).toMatch(/^__Host-mandate_session=/);
    const again = await signIn(t, ada.auth);
    const header = again.res.headers.get('set-cookie') ?? '';
    expect(header).toMatch(/^__Host-mandate_session=[\w-]{43};/);
    expect(header).toMatch(/Secure/);
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Strict/);
    expect(header).toMatch(/Path=\//);
    expect(header).not.toMatch(/Domain=/i);
  });

  it('refuses a replayed sign-in response', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const response = await ada.auth.assert(await signInOptions(t));
    expect((await postJson(t, '/passkeys/signin/verify', { response })).status).toBe(200);
    const before = await snapshot(t);
    expectRefused(await postJson(t, '/passkeys/signin/verify', { response }), NOT_CURRENT);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses an answer to an expired challenge', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const response = await ada.auth.assert(await signInOptions(t));
    t.clock.advance(t.deps.config.webauthnChallengeTtl + 1);
    const before = await snapshot(t);
    expectRefused(await postJson(t, '/passkeys/signin/verify', { response }), NOT_CURRENT);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses an answer to a registration challenge', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const { secret } = await invite(t, 'bob@example.com');
    const reg = await postJson(t, '/passkeys/register/options', { invite: secret });
    const before = await snapshot(t);
    const answer = await signIn(t, ada.auth, { challenge: String(reg.body.challenge) });
    expectRefused(answer, NOT_CURRENT);
    expect({ ...(await snapshot(t)), challenges: [] }).toEqual({ ...before, challenges: [] });
  });

  it.each([
    [
      'another origin',
      { origin: 'https://evil.example' },
      /origin "https:\/\/evil.example", expected "http:\/\/localhost:8787"/,
    ],
    ['another RP ID', { rpId: 'evil.example' }, /another RP ID, expected "localhost"/],
    ['no user verification', { uv: false }, /User verification required/],
    ['no user presence', { up: false }, /User not present/],
    [
      'a registration ceremony type',
      { type: 'webauthn.create' },
      /authentication response type: webauthn.create/,
    ],
  ])('refuses an assertion with %s and changes nothing', async (_, ceremony, says) => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const options = await signInOptions(t);
    const before = await snapshot(t);
    const answer = await postJson(t, '/passkeys/signin/verify', {
      response: await ada.auth.assert(options, ceremony),
    });
    expectRefused(answer, says);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a signature over edited data', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const response = await ada.auth.assert(await signInOptions(t));
    const before = await snapshot(t);
    const [first = '', ...rest] = response.response.signature;
    const tampered = {
      ...response,
      response: { ...response.response, signature: [first === 'A' ? 'B' : 'A', ...rest].join('') },
    };
    expectRefused(await postJson(t, '/passkeys/signin/verify', { response: tampered }), /refused/);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a signature counter that did not increase', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    expect((await signIn(t, ada.auth, { counter: 5 })).status).toBe(200);
    const before = await snapshot(t);
    for (const counter of [5, 3]) {
      const answer = await signIn(t, ada.auth, { counter });
      expectRefused(answer, new RegExp(`counter value ${counter} was lower than expected 5`));
    }
    expect({ ...(await snapshot(t)), challenges: [] }).toEqual({ ...before, challenges: [] });
    const [key] = await db(t).select().from(passkeys);
    expect(key?.counter).toBe(5);
    expect((await signIn(t, ada.auth, { counter: 6 })).status).toBe(200);
  });

  it('accepts authenticators that keep the counter at zero', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    expect((await signIn(t, ada.auth, { counter: 0 })).status).toBe(200);
    expect((await signIn(t, ada.auth, { counter: 0 })).status).toBe(200);
  });

  it('gives one generic answer for an unknown passkey and for a disabled person', async () => {
    t = await createTestApp();
    const stranger = await authenticatorFor(t);
    const options = await signInOptions(t);
    let before = await snapshot(t);
    const unknown = await postJson(t, '/passkeys/signin/verify', {
      response: await stranger.assert(options),
    });
    expectRefused(unknown, UNKNOWN);
    expect(await snapshot(t)).toEqual(before);

    const ada = await registeredPerson(t);
    await db(t).update(users).set({ status: 'disabled' }).where(eq(users.id, ada.userId));
    const response = await ada.auth.assert(await signInOptions(t));
    before = await snapshot(t);
    const disabled = await postJson(t, '/passkeys/signin/verify', { response });
    expectRefused(disabled, UNKNOWN);
    expect(disabled.body).toEqual(unknown.body);
    expect(await snapshot(t)).toEqual(before);
  });
});

describe('adding a passkey while signed in', () => {
  it('registers a second passkey that signs in on its own', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const headers = { cookie: ada.cookie, 'x-csrf-token': await csrfOf(t, ada.userId) };
    const options = await postJson(t, '/passkeys/add/options', {}, headers);
    expect(options.status).toBe(200);
    expect(options.body.excludeCredentials).toEqual([
      { id: ada.auth.credentialId, type: 'public-key', transports: ['internal'] },
    ]);
    const second = await authenticatorFor(t);
    const response = await second.register(options.body as unknown as CreationOptions);
    const added = await postJson(t, '/passkeys/add/verify', { response }, headers);
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body).toEqual({ ok: true, redirect: '/' });
    const keys = await db(t).select().from(passkeys).where(eq(passkeys.userId, ada.userId));
    expect(keys.map((k) => k.id).sort()).toEqual(
      [ada.auth.credentialId, second.credentialId].sort(),
    );
    expect((await signIn(t, second)).status).toBe(200);
    expect((await signIn(t, ada.auth)).status).toBe(200);
  });

  it('needs a session and the CSRF token', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const anonymous = await postJson(t, '/passkeys/add/options', {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('login_required');
    const noCsrf = await postJson(t, '/passkeys/add/options', {}, { cookie: ada.cookie });
    expect(noCsrf.status).toBe(403);
    const crossSite = await postJson(
      t,
      '/passkeys/add/options',
      {},
      {
        cookie: ada.cookie,
        'x-csrf-token': await csrfOf(t, ada.userId),
        origin: 'https://evil.example',
      },
    );
    expect(crossSite.status).toBe(403);
  });

  it("refuses to add a passkey with another person's registration challenge", async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const bob = await registeredPerson(t, 'bob@example.com');
    const bobsOptions = await postJson(
      t,
      '/passkeys/add/options',
      {},
      {
        cookie: bob.cookie,
        'x-csrf-token': await csrfOf(t, bob.userId),
      },
    );
    const before = await snapshot(t);
    const response = await (
      await authenticatorFor(t)
    ).register(bobsOptions.body as unknown as CreationOptions);
    const answer = await postJson(
      t,
      '/passkeys/add/verify',
      { response },
      {
        cookie: ada.cookie,
        'x-csrf-token': await csrfOf(t, ada.userId),
      },
    );
    expectRefused(answer, /does not answer a current registration/);
    expect(await snapshot(t)).toEqual(before);
  });
});
