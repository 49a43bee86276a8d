/**
 * Verifies a passkey assertion against the stored credential and advances its
 * signature counter, inside the caller's transaction. Used by sign-in (any
 * person) and by approvals (only the signed-in person's own passkeys).
 */
import {
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
} from '@simplewebauthn/server';
import { and, eq } from 'drizzle-orm';
import { base64url } from 'jose';
import type { DbOrTx } from '../db/database.ts';
import { passkeys } from '../db/schema.ts';
import { PasskeyError, refusalReason } from './errors.ts';
import type { RelyingParty } from './rp.ts';

export interface AssertionInput {
  response: AuthenticationResponseJSON;
  /** base64url; the caller has already consumed it from the challenge store. */
  expectedChallenge: string;
  /** When given, the credential must belong to this tenant and person. */
  tenantId?: string;
  userId?: string;
  /** Only the RP ID and origin matter here; callers may pass the whole relyingParty(config). */
  rp: Pick<RelyingParty, 'rpID' | 'origin'>;
  now: Date;
}

export interface VerifiedAssertion {
  passkeyId: string;
  tenantId: string;
  userId: string;
  newCounter: number;
  /** As the authenticator returned them, base64url: the evidence an approval keeps. */
  authenticatorData: string;
  clientDataJSON: string;
  signature: string;
  userHandle: string | undefined;
}

export async function verifyPasskeyAssertion(
  db: DbOrTx,
  a: AssertionInput,
): Promise<VerifiedAssertion> {
  const id = a.response.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 1024) {
    throw new PasskeyError('ERR_PASSKEY_UNKNOWN', 'this passkey is not registered here');
  }
  const [key] = await db
    .select()
    .from(passkeys)
    .where(
      and(
        eq(passkeys.id, id),
        ...(a.tenantId ? [eq(passkeys.tenantId, a.tenantId)] : []),
        ...(a.userId ? [eq(passkeys.userId, a.userId)] : []),
      ),
    );
  // One message whether the credential is unknown or someone else's.
  if (!key) throw new PasskeyError('ERR_PASSKEY_UNKNOWN', 'this passkey is not registered here');

  let newCounter: number;
  try {
    const result = await verifyAuthenticationResponse({
      response: a.response,
      expectedChallenge: a.expectedChallenge,
      expectedOrigin: a.rp.origin,
      expectedRPID: a.rp.rpID,
      credential: {
        id: key.id,
        publicKey: new Uint8Array(base64url.decode(key.publicKey)),
        counter: key.counter,
        transports: key.transports,
      },
      // Passkeys here stand for the person, not just a device: UV is required (WebAuthn §6.2.3).
      requireUserVerification: true,
    });
    if (!result.verified) throw new Error('the signature does not verify');
    newCounter = result.authenticationInfo.newCounter;
  } catch (cause) {
    // The library's message says what was expected and what came (origin, RP ID, counter…).
    throw new PasskeyError(
      'ERR_PASSKEY_VERIFY',
      `the passkey response was refused: ${refusalReason(cause, a.rp)}`,
      { cause },
    );
  }
  // Compare-and-swap on the counter: two assertions racing with the same counter cannot both land.
  const [updated] = await db
    .update(passkeys)
    .set({ counter: newCounter, lastUsedAt: a.now })
    .where(and(eq(passkeys.id, key.id), eq(passkeys.counter, key.counter)))
    .returning({ id: passkeys.id });
  if (!updated) {
    throw new PasskeyError('ERR_PASSKEY_VERIFY', 'the passkey was used concurrently; try again');
  }
  return {
    passkeyId: key.id,
    tenantId: key.tenantId,
    userId: key.userId,
    newCounter,
    authenticatorData: a.response.response.authenticatorData,
    clientDataJSON: a.response.response.clientDataJSON,
    signature: a.response.response.signature,
    userHandle: a.response.response.userHandle,
  };
}
