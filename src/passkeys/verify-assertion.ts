/**
 * Verifies a passkey assertion made by one known person — the check the approval
 * flow builds on. Unlike sign-in (where any registered passkey may answer a
 * discoverable challenge), the credential here must belong to this tenant and
 * person: the owner is required by the type and checked again at run time, so a
 * caller that forgets it cannot accept someone else's passkey.
 *
 * @example
 * const challenge = claimedChallenge(response.response.clientDataJSON);
 * // …consume `challenge` from the challenge store inside `tx` first, then:
 * const { passkeyId, newCounter, authenticatorData, clientDataJSON, signature, userHandle } =
 *   await verifyPasskeyAssertion(tx, {
 *     response, expectedChallenge: challenge, tenantId, userId,
 *     rp: relyingParty(config), now: clock.now(),
 *   });
 * // Throws PasskeyError: ERR_PASSKEY_UNKNOWN (not this person's passkey) or
 * // ERR_PASSKEY_VERIFY (origin, RP ID, UV, signature, counter regression…).
 */
import type { DbOrTx } from '../db/database.ts';
import {
  verifyPasskeyAssertion as verifyAnyPasskeyAssertion,
  type AssertionInput,
  type VerifiedAssertion,
} from './assertion.ts';
import { PasskeyError } from './errors.ts';

export type OwnedAssertionInput = AssertionInput & { tenantId: string; userId: string };

/** Verifies, requires UV, refuses counter regression, and advances counter and last_used_at in `tx`. */
export async function verifyPasskeyAssertion(
  tx: DbOrTx,
  input: OwnedAssertionInput,
): Promise<VerifiedAssertion> {
  if (!input.tenantId || !input.userId) {
    throw new PasskeyError('ERR_PASSKEY_UNKNOWN', 'this passkey is not registered here');
  }
  return verifyAnyPasskeyAssertion(tx, input);
}

export type { VerifiedAssertion };
export { PasskeyError, type PasskeyErrorCode } from './errors.ts';
