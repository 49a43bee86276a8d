/**
 * verifyPasskeyAssertion, the check the approval flow calls inside its own
 * transaction: only the named person's own passkey may answer, user
 * verification is required, the counter may not go back, and a success
 * advances the counter and last-used time in that transaction.
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { passkeys } from '../../src/db/schema.ts';
import { relyingParty } from '../../src/passkeys/rp.ts';
import {
  verifyPasskeyAssertion,
  type OwnedAssertionInput,
} from '../../src/passkeys/verify-assertion.ts';
import { randomToken } from '../../src/random.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import type { Ceremony } from '../helpers/soft-authenticator.ts';
import { registeredPerson, snapshot, type Registered } from './ceremonies.ts';

let t: TestApp | undefined;
afterEach(async () => t?.close());

/** An approval-like challenge (the real one is a document hash) and a signed answer to it. */
async function answer(p: Registered, c: Ceremony = {}) {
  const challenge = randomToken(32);
  const response = await p.auth.assert({ challenge, rpId: 'localhost' }, c);
  return { challenge, response };
}

function verify(
  t: TestApp,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
  owner: Pick<OwnedAssertionInput, 'tenantId' | 'userId'>,
) {
  const { rpID, origin } = relyingParty(t.deps.config);
  return t.owner.transaction((tx) =>
    verifyPasskeyAssertion(tx, {
      response,
      expectedChallenge,
      ...owner,
      rp: { rpID, origin },
      now: t.clock.now(),
    }),
  );
}

describe('verifyPasskeyAssertion', () => {
  it("verifies the person's own passkey and advances its counter in the transaction", async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    t.clock.advance(30);
    const { challenge, response } = await answer(ada);
    const result = await verify(t, response, challenge, ada);
    expect(result).toMatchObject({
      passkeyId: ada.auth.credentialId,
      newCounter: 1,
      authenticatorData: response.response.authenticatorData,
      clientDataJSON: response.response.clientDataJSON,
      signature: response.response.signature,
      userHandle: response.response.userHandle,
    });
    const [key] = await t.owner
      .select()
      .from(passkeys)
      .where(eq(passkeys.id, ada.auth.credentialId));
    expect(key).toMatchObject({ counter: 1, lastUsedAt: t.clock.now() });
  });

  it("refuses another person's passkey in the same tenant", async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const bob = await registeredPerson(t, 'bob@example.com');
    const { challenge, response } = await answer(bob);
    const before = await snapshot(t);
    await expect(verify(t, response, challenge, ada)).rejects.toMatchObject({
      name: 'PasskeyError',
      code: 'ERR_PASSKEY_UNKNOWN',
    });
    expect(await snapshot(t)).toEqual(before);
  });

  it("refuses another tenant's passkey, even under that person's own user id", async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const eve = await registeredPerson(t, 'eve@example.com', 'globex');
    const { challenge, response } = await answer(eve);
    const before = await snapshot(t);
    for (const owner of [ada, { tenantId: ada.tenantId, userId: eve.userId }]) {
      await expect(verify(t, response, challenge, owner)).rejects.toMatchObject({
        code: 'ERR_PASSKEY_UNKNOWN',
      });
    }
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a call that names no owner', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const { challenge, response } = await answer(ada);
    await expect(
      verify(t, response, challenge, { tenantId: '', userId: ada.userId }),
    ).rejects.toMatchObject({ code: 'ERR_PASSKEY_UNKNOWN' });
  });

  it.each([
    ['without user verification', { uv: false }, 'ERR_PASSKEY_VERIFY'],
    ['from another origin', { origin: 'https://evil.example' }, 'ERR_PASSKEY_VERIFY'],
    ['for another RP ID', { rpId: 'evil.example' }, 'ERR_PASSKEY_VERIFY'],
    ['with a counter that did not increase', { counter: 0 }, 'ERR_PASSKEY_VERIFY'],
  ])('refuses an assertion %s', async (_, ceremony, code) => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    // Move the stored counter off zero so that 0 is a regression, not "no counter".
    const first = await answer(ada, { counter: 3 });
    await verify(t, first.response, first.challenge, ada);
    const { challenge, response } = await answer(ada, ceremony);
    const before = await snapshot(t);
    await expect(verify(t, response, challenge, ada)).rejects.toMatchObject({ code });
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses an answer to another challenge', async () => {
    t = await createTestApp();
    const ada = await registeredPerson(t);
    const { response } = await answer(ada);
    const refused: unknown = await verify(t, response, randomToken(32), ada).catch(
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: 'ERR_PASSKEY_VERIFY' });
    expect(String(refused)).toMatch(/Unexpected authentication response challenge/);
  });
});
