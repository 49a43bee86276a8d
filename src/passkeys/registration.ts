/**
 * Registering a passkey: from a one-time invite link (the person's first), or by
 * a signed-in person adding another. Options pin what the broker accepts
 * (discoverable credential, user verification, EdDSA/ES256/RS256); verification
 * consumes the challenge, and for an invite the link, in the same transaction
 * that stores the passkey, so a failure anywhere leaves everything as it was.
 */
import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { and, eq, ne } from 'drizzle-orm';
import { base64url } from 'jose';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Database, DbOrTx } from '../db/database.ts';
import { passkeys, users } from '../db/schema.ts';
import { sha256base64url } from '../random.ts';
import { consumeInvite } from '../registry/users.ts';
import { findOpenInvite } from '../registry/open-invite.ts';
import { consumeChallenge, issueChallenge } from './challenge-store.ts';
import { claimedChallenge, PasskeyError, refusalReason } from './errors.ts';
import { inviteTenant } from '../db/lookups.ts';
import { nameTenant, tenantDb } from '../db/tenancy.ts';
import { relyingParty } from './rp.ts';

export interface RegistrationDeps {
  db: Database;
  config: Pick<Config, 'publicUrl' | 'webauthnChallengeTtl'>;
  clock: Clock;
}

export interface Person {
  tenantId: string;
  userId: string;
  email: string;
}

const badInvite = () =>
  new PasskeyError('ERR_PASSKEY_INVITE', 'invite link is invalid, expired or already used');

/** The person an open invite is for: the page's check (findOpenInvite), which mirrors consumeInvite. */
async function inviteeOf(deps: RegistrationDeps, secret: unknown): Promise<Person> {
  if (typeof secret !== 'string') throw badInvite();
  const open = await findOpenInvite(deps.db, secret, deps.clock);
  if (!open) throw badInvite();
  return { tenantId: open.tenantId, userId: open.userId, email: open.email };
}

async function optionsFor(
  deps: RegistrationDeps,
  person: Person,
  context: Record<string, unknown>,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const rp = relyingParty(deps.config);
  const db = tenantDb(deps.db, person.tenantId);
  const existing = await db
    .select({ id: passkeys.id, transports: passkeys.transports })
    .from(passkeys)
    .where(eq(passkeys.userId, person.userId));
  const options = await generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpID,
    userName: person.email,
    userDisplayName: person.email,
    // The user handle is the opaque user id, never the email (WebAuthn §14.6.1).
    userID: new TextEncoder().encode(person.userId),
    attestationType: 'none',
    excludeCredentials: existing,
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: [-8, -7, -257],
    timeout: deps.config.webauthnChallengeTtl * 1000,
  });
  await issueChallenge(db, {
    purpose: 'registration',
    challenge: options.challenge,
    tenantId: person.tenantId,
    userId: person.userId,
    context,
    now: deps.clock.now(),
    ttl: deps.config.webauthnChallengeTtl,
  });
  return options;
}

export async function inviteRegistrationOptions(
  deps: RegistrationDeps,
  inviteSecret: unknown,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const person = await inviteeOf(deps, inviteSecret);
  return optionsFor(deps, person, { invite: await sha256base64url(inviteSecret as string) });
}

export async function addPasskeyOptions(
  deps: RegistrationDeps,
  person: Person,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return optionsFor(deps, person, { add: true });
}

/**
 * Verifies a registration response inside `tx` and stores the passkey. `expect`
 * says which ceremony it must answer: an invite (by its secret) or a signed-in
 * person adding a passkey.
 */
export async function completeRegistration(
  tx: DbOrTx,
  deps: RegistrationDeps,
  response: RegistrationResponseJSON,
  expect: { invite: string } | { person: Person },
): Promise<Person & { passkeyId: string }> {
  const now = deps.clock.now();
  const inviteHash = 'invite' in expect ? await sha256base64url(expect.invite) : undefined;
  // The invite (or the signed-in person) names the tenant; the rest happens in its scope.
  const tenantId = inviteHash
    ? await inviteTenant(tx, inviteHash)
    : (expect as { person: Person }).person.tenantId;
  if (tenantId !== undefined) await nameTenant(tx, tenantId);
  const challenge = claimedChallenge(response.response.clientDataJSON);
  const row =
    challenge && tenantId !== undefined
      ? await consumeChallenge(tx, { challenge, purpose: 'registration', now })
      : undefined;
  const matches =
    row &&
    (inviteHash
      ? row.context.invite === inviteHash
      : 'person' in expect && row.context.add === true && row.userId === expect.person.userId);
  if (!row || !challenge || !matches || !row.userId || !row.tenantId) {
    throw new PasskeyError(
      'ERR_PASSKEY_CHALLENGE',
      'this passkey response does not answer a current registration; start again',
    );
  }
  const rp = relyingParty(deps.config);
  let info;
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpID,
      requireUserVerification: true,
      supportedAlgorithmIDs: [-8, -7, -257],
    });
    if (!result.verified) throw new Error('the attestation does not verify');
    info = result.registrationInfo;
  } catch (cause) {
    throw new PasskeyError(
      'ERR_PASSKEY_VERIFY',
      `the passkey was not accepted: ${refusalReason(cause, rp)}`,
      { cause },
    );
  }
  if (inviteHash && 'invite' in expect) {
    try {
      const redeemed = await consumeInvite(tx, expect.invite, deps.clock);
      if (redeemed.userId !== row.userId) throw badInvite();
    } catch (cause) {
      if (cause instanceof PasskeyError) throw cause;
      throw badInvite();
    }
  }
  // A credential id is globally unique (WebAuthn §6.1): a client that ignores excludeCredentials,
  // or replays someone else's attestation, gets a 400 rather than a primary-key violation (500).
  const [stored] = await tx
    .insert(passkeys)
    .values({
      id: info.credential.id,
      tenantId: row.tenantId,
      userId: row.userId,
      publicKey: base64url.encode(info.credential.publicKey),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
      createdAt: now,
    })
    .onConflictDoNothing({ target: passkeys.id })
    .returning({ id: passkeys.id });
  if (!stored) {
    throw new PasskeyError('ERR_PASSKEY_VERIFY', 'this passkey is already registered; use another');
  }
  const [person] = await tx
    .update(users)
    .set({ status: 'active' })
    .where(and(eq(users.id, row.userId), ne(users.status, 'disabled')))
    .returning({ tenantId: users.tenantId, userId: users.id, email: users.email });
  if (!person) throw badInvite();
  return { ...person, passkeyId: info.credential.id };
}
