/** The ledger's synchronous SHA-256 agrees with Web Crypto's, byte for byte. */
import fc from 'fast-check';
import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { sha256, sha256Base64url } from '../../src/audit/sha256.ts';

const webCrypto = async (data: Uint8Array<ArrayBuffer>) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', data));

describe('sha256', () => {
  it('gives the FIPS 180-4 test vectors', () => {
    const hex = (s: string) => Buffer.from(sha256(new TextEncoder().encode(s))).toString('hex');
    expect(hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('agrees with Web Crypto at every length around the block boundaries', async () => {
    for (let length = 0; length <= 260; length++) {
      const data = crypto.getRandomValues(new Uint8Array(length));
      expect(sha256(data)).toEqual(await webCrypto(data));
    }
    const large = crypto.getRandomValues(new Uint8Array(65_536));
    large.set(crypto.getRandomValues(new Uint8Array(65_536)).subarray(0, 1000), 1);
    expect(sha256(large)).toEqual(await webCrypto(large));
  });

  it('agrees with Web Crypto on any text, through UTF-8 and base64url', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 400 }), async (text) => {
        const expected = base64url.encode(await webCrypto(new TextEncoder().encode(text)));
        expect(sha256Base64url(text)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
