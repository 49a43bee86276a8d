/** Shared setup for registry tests: a fresh database per test and key material. */
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterEach } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { randomToken } from '../../src/random.ts';
import { freshDatabase } from '../helpers/db.ts';

let open: TestDatabase[] = [];

/** Registers an afterEach that closes every database a test opened. */
export function closeDatabasesAfterEach(): void {
  afterEach(async () => {
    await Promise.all(open.map((d) => d.close()));
    open = [];
  });
}

export async function database(): Promise<TestDatabase> {
  const handle = await freshDatabase();
  open.push(handle);
  return handle;
}

export async function keyPair(alg: 'EdDSA' | 'ES256' | 'RS256' = 'EdDSA') {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomToken(8);
  return {
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg } as JWK,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg } as JWK,
  };
}

export async function publicJwks(alg: 'EdDSA' | 'ES256' | 'RS256' = 'EdDSA') {
  return { keys: [(await keyPair(alg)).publicJwk] };
}

export const scopes = [
  { name: 'repo:read', description: 'Read repositories', sensitivity: 'read' },
  { name: 'repo:write', description: 'Push to repositories', sensitivity: 'write' },
];

/** The error a rejected promise carries, for asserting on its code and message. */
export async function failure(
  promise: Promise<unknown>,
): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected the call to fail');
}
