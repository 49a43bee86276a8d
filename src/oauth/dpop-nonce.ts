/**
 * Server-issued DPoP nonces (RFC 9449 §8): stateless and rotating. A nonce is
 * HMAC-SHA256(key, "mandate dpop nonce <w>") for the current time window `w`;
 * one from the current or the previous window is accepted, so a nonce lives
 * between one and two windows and nothing has to be stored or shared at run time.
 *
 * The HMAC key is derived with HKDF-SHA256 from the KEK when one is configured:
 * every broker instance sharing a PostgreSQL database must share MANDATE_KEK, so
 * a nonce one instance hands out is accepted by any other behind a load balancer,
 * and the HKDF `info` keeps this key unrelated to the KEK's own use (sealing keys).
 * Without MANDATE_KEK the broker runs on embedded PGlite, which is one process,
 * so a random per-process key serves; a restart merely makes clients fetch a new
 * nonce. All of it is Web Crypto, so the Workers build runs it unchanged.
 */
import { base64url } from 'jose';
import { epochSeconds, type Clock } from '../clock.ts';

const HKDF_SALT = new TextEncoder().encode('mandate');
const HKDF_INFO = new TextEncoder().encode('mandate dpop nonce v1');
const HMAC = { name: 'HMAC', hash: 'SHA-256', length: 256 } as const;
/** An HMAC-SHA256 output, base64url without padding: 43 characters. */
const NONCE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface DpopNonceOptions {
  /** The KEK's 32 bytes; undefined means a random key for this process. */
  secret: Uint8Array | undefined;
  /** Length of a window in seconds; a nonce is accepted for one to two windows. */
  window: number;
  clock: Clock;
}

export class DpopNonces {
  private key: Promise<CryptoKey> | undefined;

  constructor(private readonly options: DpopNonceOptions) {
    if (!Number.isInteger(options.window) || options.window <= 0) {
      throw new RangeError(`a DPoP nonce window must be a positive whole number of seconds`);
    }
  }

  /** A nonce for the current window, for the `DPoP-Nonce` response header. */
  async issue(): Promise<string> {
    const signature = await crypto.subtle.sign('HMAC', await this.hmacKey(), this.input(0));
    return base64url.encode(new Uint8Array(signature));
  }

  /** True when `nonce` was issued in the current or the previous window. */
  async accepts(nonce: string): Promise<boolean> {
    // Checked first so that decoding cannot fail: anything else is simply not ours.
    if (!NONCE_SHAPE.test(nonce)) return false;
    const signature = new Uint8Array(base64url.decode(nonce));
    const key = await this.hmacKey();
    // subtle.verify compares in constant time, so the check leaks nothing about the MAC.
    for (const back of [0, 1]) {
      if (await crypto.subtle.verify('HMAC', key, signature, this.input(back))) return true;
    }
    return false;
  }

  private input(windowsBack: number): Uint8Array<ArrayBuffer> {
    const w = Math.floor(epochSeconds(this.options.clock) / this.options.window) - windowsBack;
    return new TextEncoder().encode(`mandate dpop nonce ${w}`);
  }

  private hmacKey(): Promise<CryptoKey> {
    this.key ??= deriveKey(this.options.secret);
    return this.key;
  }
}

async function deriveKey(secret: Uint8Array | undefined): Promise<CryptoKey> {
  if (secret === undefined) {
    return crypto.subtle.generateKey(HMAC, false, ['sign', 'verify']);
  }
  const ikm = await crypto.subtle.importKey('raw', new Uint8Array(secret), 'HKDF', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: HKDF_SALT, info: HKDF_INFO },
    ikm,
    HMAC,
    false,
    ['sign', 'verify'],
  );
}
