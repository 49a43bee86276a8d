/** The key-encryption key that seals private signing keys at rest. */
import { base64url } from 'jose';

export class KekError extends Error {
  readonly code = 'ERR_KEK';
}

/** MANDATE_KEK is 32 random bytes, base64url (e.g. `openssl rand 32 | basenc --base64url`). */
export function parseKek(encoded: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64url.decode(encoded.trim().replace(/=+$/, ''));
  } catch (cause) {
    throw new KekError('MANDATE_KEK is not base64url', { cause });
  }
  if (bytes.length !== 32) {
    throw new KekError(`MANDATE_KEK must decode to 32 bytes, got ${bytes.length}`);
  }
  return bytes;
}

export function generateKek(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}
