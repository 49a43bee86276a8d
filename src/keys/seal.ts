/**
 * Private JWKs are sealed as compact JWE (`dir`, `A256GCM`) under the KEK. The
 * key id sits in the protected header, which AES-GCM authenticates, so a sealed
 * blob moved onto another key's row fails to open.
 */
import { CompactEncrypt, compactDecrypt, type JWK } from 'jose';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function sealPrivateJwk(jwk: JWK, kek: Uint8Array, kid: string): Promise<string> {
  return new CompactEncrypt(encoder.encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, cty: 'jwk+json' })
    .encrypt(kek);
}

export async function openPrivateJwk(jwe: string, kek: Uint8Array, kid: string): Promise<JWK> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, kek, {
    keyManagementAlgorithms: ['dir'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  if (protectedHeader.kid !== kid) {
    throw new Error(`sealed key is for kid ${String(protectedHeader.kid)}, expected ${kid}`);
  }
  return JSON.parse(decoder.decode(plaintext)) as JWK;
}
