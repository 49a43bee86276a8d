/** Passkey refusals, with a stable code; routes answer them as 400 invalid_request. */
import { base64url } from 'jose';

export type PasskeyErrorCode =
  'ERR_PASSKEY_CHALLENGE' | 'ERR_PASSKEY_UNKNOWN' | 'ERR_PASSKEY_VERIFY' | 'ERR_PASSKEY_INVITE';

export class PasskeyError extends Error {
  override readonly name = 'PasskeyError';
  constructor(
    readonly code: PasskeyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The library's reason for refusing a response, as a client-safe sentence. Its
 * messages already say expected vs got (origin, challenge, counter), except for
 * the RP ID, where only a hash came in: name the RP ID we expected instead.
 */
export function refusalReason(cause: unknown, rp: { rpID: string }): string {
  if (!(cause instanceof Error)) return 'the response does not verify';
  if (cause.name === 'UnexpectedRPIDHash') {
    return `authenticator data is for another RP ID, expected "${rp.rpID}"`;
  }
  return cause.message;
}

/** The challenge a WebAuthn response claims to answer, from its clientDataJSON; undefined if unreadable. */
export function claimedChallenge(clientDataJSON: unknown): string | undefined {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length > 8192) return undefined;
  try {
    const text = new TextDecoder().decode(base64url.decode(clientDataJSON));
    const data = JSON.parse(text) as { challenge?: unknown };
    return typeof data.challenge === 'string' ? data.challenge : undefined;
  } catch {
    return undefined; // malformed: the caller refuses it like an unknown challenge
  }
}
