/**
 * Forged WebAuthn assertions at the approval ceremony (the passkey signature that
 * turns a delegation request into a grant) and forged attestations at registration,
 * in-process with a software authenticator (test/helpers/soft-authenticator.ts) that
 * signs whatever it is told, correctly. Sign-in gets the same attacks in
 * test/passkeys/sign-in.test.ts and, through Chromium's virtual authenticator, in
 * test/passkeys/attacks.browser.test.ts (as does an approval signed with another
 * person's passkey); they are not repeated here. Every refusal leaves the database
 * as it was: no grant, no counter change, the challenge still unused.
 */
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorld, REPOS, startRequest, type World } from '../delegation/world.ts';
import type { Ceremony } from '../helpers/soft-authenticator.ts';
import {
  authenticatorFor,
  csrfOf,
  expectRefused,
  postJson,
  register,
  registeredPerson,
  signIn,
  signInOptions,
  type Registered,
} from '../passkeys/ceremonies.ts';
import { invite } from '../ui/fixtures.ts';
import { withoutStateChange } from './state.ts';

let w: World;
let ada: Registered;
let requestId: string;

beforeEach(async () => {
  w = await createWorld();
  ada = await registeredPerson(w.t, 'ada@example.com', 'acme');
  requestId = (await startRequest(w)).requestId;
});
afterEach(async () => w.t.close());

const headers = async () => ({
  cookie: ada.cookie,
  'x-csrf-token': await csrfOf(w.t, ada.userId),
  origin: 'http://localhost:8787',
});

async function approvalOptions(id = requestId): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const answer = await postJson(
    w.t,
    `/requests/${id}/approval/options`,
    { resources: [{ resource: REPOS, scopes: ['repo:read'] }], duration: 3600 },
    await headers(),
  );
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as unknown as PublicKeyCredentialRequestOptionsJSON;
}

const verify = async (response: unknown, id = requestId) =>
  postJson(w.t, `/requests/${id}/approval/verify`, { response }, await headers());

/** Refused with 400 invalid_request saying `says`, with nothing stored. */
async function refusedApproval(response: unknown, says: RegExp, id = requestId) {
  await withoutStateChange(w.t, async () => {
    const answer = await verify(response, id);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
    expect(String(answer.body.error_description)).toMatch(says);
  });
}

describe('a passkey approval', () => {
  it('is accepted when nothing is forged (the authenticator is faithful)', async () => {
    const answer = await verify(await ada.auth.assert(await approvalOptions()));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('approved');
  });

  it.each([
    [
      'another origin',
      { origin: 'https://evil.example' },
      /origin "https:\/\/evil.example", expected "http:\/\/localhost:8787"/,
    ],
    ['a look-alike origin', { origin: 'http://1ocalhost:8787' }, /origin "http:\/\/1ocalhost/],
    ['another RP ID', { rpId: 'evil.example' }, /another RP ID, expected "localhost"/],
    ['a parent-domain RP ID', { rpId: 'com' }, /another RP ID, expected "localhost"/],
    ['no user verification', { uv: false }, /User verification required/],
    ['no user presence', { up: false }, /User not present/],
    [
      'a registration ceremony type',
      { type: 'webauthn.create' },
      /authentication response type: webauthn.create/,
    ],
  ] as [string, Ceremony, RegExp][])('is refused with %s', async (_, ceremony, says) => {
    const response = await ada.auth.assert(await approvalOptions(), ceremony);
    await refusedApproval(response, says);
  });

  it('is refused when the signature counter goes back', async () => {
    expect((await signIn(w.t, ada.auth, { counter: 7 })).status).toBe(200);
    const response = await ada.auth.assert(await approvalOptions(), { counter: 4 });
    await refusedApproval(response, /counter value 4 was lower than expected 7/);
  });

  it('is refused when replayed after it was used', async () => {
    const response = await ada.auth.assert(await approvalOptions());
    expect((await verify(response)).status).toBe(200);
    await refusedApproval(response, /does not answer an approval of this request/);
  });

  it('is refused for another request than the one it answers', async () => {
    const other = (await startRequest(w)).requestId;
    await approvalOptions(other);
    const response = await ada.auth.assert(await approvalOptions());
    await refusedApproval(response, /does not answer an approval of this request/, other);
  });

  it('is refused when it answers a sign-in challenge instead', async () => {
    await approvalOptions();
    const response = await ada.auth.assert(await signInOptions(w.t));
    await refusedApproval(response, /does not answer an approval of this request/);
  });

  it('is refused when it answers a challenge the broker never issued', async () => {
    await approvalOptions();
    const made = await ada.auth.assert(
      { challenge: 'bm90LWEtY2hhbGxlbmdlLWZyb20tdGhlLWJyb2tlcg', rpId: 'localhost' },
      {},
    );
    await refusedApproval(made, /does not answer an approval of this request/);
  });

  it('is refused with a signature over edited authenticator data', async () => {
    const response = await ada.auth.assert(await approvalOptions());
    const data = response.response.authenticatorData;
    // Set the AT flag in the flags byte; the signature stays the original one.
    const bytes = Buffer.from(data, 'base64url');
    bytes[32] = (bytes[32] ?? 0) ^ 0x40;
    const edited = {
      ...response,
      response: { ...response.response, authenticatorData: bytes.toString('base64url') },
    };
    await refusedApproval(edited, /^the passkey response was refused/);
  });
});

describe('a passkey registration from an invite', () => {
  it.each([
    ['another origin', { origin: 'https://evil.example' }, /origin/],
    ['another RP ID', { rpId: 'evil.example' }, /RP ID/],
    ['no user verification', { uv: false }, /User verification/],
  ] as [string, Ceremony, RegExp][])('is refused with %s', async (_, ceremony, says) => {
    const { secret } = await invite(w.t, 'carol@example.com', 'acme');
    const auth = await authenticatorFor(w.t);
    // The options are fetched first: their challenge row is state the attack must not spend.
    const options = await postJson(w.t, '/passkeys/register/options', { invite: secret });
    expect(options.status).toBe(200);
    await withoutStateChange(w.t, async () => {
      const response = await auth.register(
        options.body as unknown as Parameters<typeof auth.register>[0],
        ceremony,
      );
      expectRefused(
        await postJson(w.t, '/passkeys/register/verify', { invite: secret, response }),
        says,
      );
    });
    // The invite still works for an honest ceremony.
    expect((await register(w.t, secret, auth)).status).toBe(200);
  });
});
