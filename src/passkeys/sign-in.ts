/**
 * Signing in with a discoverable passkey: the options name no credential (the
 * authenticator offers the person's own), user verification is required, and the
 * challenge is single use.
 */
import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { users } from '../db/schema.ts';
import { verifyPasskeyAssertion } from './assertion.ts';
import { consumeChallenge, issueChallenge } from './challenge-store.ts';
import { claimedChallenge, PasskeyError } from './errors.ts';
import type { Person, RegistrationDeps } from './registration.ts';
import { passkeyTenant } from '../db/lookups.ts';
import { nameTenant } from '../db/tenancy.ts';
import { relyingParty } from './rp.ts';

export async function signInOptions(
  deps: RegistrationDeps,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({
    rpID: relyingParty(deps.config).rpID,
    userVerification: 'required',
    timeout: deps.config.webauthnChallengeTtl * 1000,
  });
  await issueChallenge(deps.db, {
    purpose: 'authentication',
    challenge: options.challenge,
    now: deps.clock.now(),
    ttl: deps.config.webauthnChallengeTtl,
  });
  return options;
}

export async function completeSignIn(
  tx: DbOrTx,
  deps: RegistrationDeps,
  response: AuthenticationResponseJSON,
): Promise<Person & { passkeyId: string }> {
  const now = deps.clock.now();
  const challenge = claimedChallenge(response.response.clientDataJSON);
  const row = challenge
    ? await consumeChallenge(tx, { challenge, purpose: 'authentication', now })
    : undefined;
  if (!row || !challenge) {
    throw new PasskeyError(
      'ERR_PASSKEY_CHALLENGE',
      'this passkey response does not answer a current sign-in; start again',
    );
  }
  // Any passkey may answer a discoverable sign-in: its credential id names the tenant,
  // and the rest of the ceremony happens in that tenant's scope.
  const tenantId =
    typeof response.id === 'string' && response.id.length <= 1024
      ? await passkeyTenant(tx, response.id)
      : undefined;
  if (tenantId === undefined) {
    throw new PasskeyError('ERR_PASSKEY_UNKNOWN', 'this passkey is not registered here');
  }
  await nameTenant(tx, tenantId);
  const verified = await verifyPasskeyAssertion(tx, {
    response,
    expectedChallenge: challenge,
    rp: relyingParty(deps.config),
    now,
  });
  const [person] = await tx
    .select({
      tenantId: users.tenantId,
      userId: users.id,
      email: users.email,
      status: users.status,
    })
    .from(users)
    .where(eq(users.id, verified.userId));
  if (!person || person.status !== 'active') {
    throw new PasskeyError('ERR_PASSKEY_UNKNOWN', 'this passkey is not registered here');
  }
  return {
    tenantId: person.tenantId,
    userId: person.userId,
    email: person.email,
    passkeyId: verified.passkeyId,
  };
}
