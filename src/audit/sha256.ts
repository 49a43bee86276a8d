/**
 * SHA-256, synchronous and portable, from @noble/hashes (audited, no dependencies).
 * The ledger hashes one short input per entry and per link, and a chain's links must
 * be hashed one after another: with Web Crypto's asynchronous digest each step waits
 * for a turn of the event loop, which under load (32 requests in flight) took 3.5 ms
 * a link and left the chainer behind the writers. Synchronously it is microseconds.
 * Checked against Web Crypto's digest in test/audit/sha256.test.ts.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { base64url } from 'jose';

export function sha256(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(nobleSha256(data));
}

/** SHA-256 of the UTF-8 bytes of `text`, base64url without padding. */
export function sha256Base64url(text: string): string {
  return base64url.encode(nobleSha256(new TextEncoder().encode(text)));
}
