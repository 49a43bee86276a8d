/**
 * The agent's own key pair: private_key_jwt client authentication (RFC 7523), actor
 * tokens for sub-agent exchange (RFC 8693), and, if wanted, DPoP proofs (RFC 9449).
 * Portable: Web Crypto through jose, no Node APIs. Saving to disk is key-file.ts.
 *
 * The published JWK carries a `kid` (its RFC 7638 thumbprint) and `use: sig`, but no
 * `alg`: openid-client signs Ed25519 assertions as `Ed25519` (RFC 9864) while others
 * write `EdDSA`, and a JWK pinned to one name would not match the other.
 */
import { PRIVATE_JWK_MEMBERS } from '../../keys/private-members.ts';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';
import { MandateAgentError } from './errors.ts';

/** Key types an agent may hold: Ed25519 (the default) or ECDSA P-256. */
export type AgentKeyAlgorithm = 'EdDSA' | 'ES256';

export interface AgentKey {
  /** Signs client assertions, actor tokens and DPoP proofs. Extractable, so it can be saved. */
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** RFC 7638 thumbprint of the public key; sent as `kid` in every signed header. */
  kid: string;
  /** The public half as registered with the broker: `{ kty, crv, x, (y), kid, use }`. */
  publicJwk: JWK;
}

/**
 * A fresh key pair for an agent.
 *
 * @example
 * const key = await generateAgentKey();
 * await writeFile('agent.jwks.json', JSON.stringify(publicJwks(key))); // for `mandate agent add --jwks`
 */
export async function generateAgentKey(alg: AgentKeyAlgorithm = 'EdDSA'): Promise<AgentKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return describe(privateKey, publicKey, await exportJWK(publicKey));
}

/**
 * The JWK Set to register for this agent (`mandate agent add --jwks FILE`): public keys only.
 *
 * @example
 * const jwks = publicJwks(key); // { keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid, use: 'sig' }] }
 */
export function publicJwks(...keys: AgentKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => ({ ...k.publicJwk })) };
}

/**
 * The private JWK, for storage (key-file.ts writes it with mode 0600). Treat it as a secret.
 *
 * @example
 * const jwk = await exportPrivateJwk(key); // { kty, crv, x, d, kid }
 */
export async function exportPrivateJwk(key: AgentKey): Promise<JWK> {
  if (!key.privateKey.extractable) {
    throw new MandateAgentError('ERR_AGENT_KEY', 'this private key is not extractable');
  }
  return { ...(await exportJWK(key.privateKey)), kid: key.kid };
}

/**
 * The key back from a private JWK (as exportPrivateJwk wrote it).
 *
 * @example
 * const key = await importAgentKey(JSON.parse(secretFromVault));
 */
export async function importAgentKey(jwk: JWK): Promise<AgentKey> {
  const alg = algorithmOf(jwk);
  if (typeof jwk.d !== 'string') {
    throw new MandateAgentError('ERR_AGENT_KEY', 'the JWK has no private part (d)');
  }
  const publicJwk: JWK = { ...jwk };
  for (const member of PRIVATE_JWK_MEMBERS) delete publicJwk[member];
  for (const member of ['key_ops', 'ext', 'kid', 'use', 'alg'] as const) delete publicJwk[member];
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = (await importJWK({ ...jwk, ext: true }, alg, { extractable: true })) as CryptoKey;
    publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
  } catch (cause) {
    throw new MandateAgentError('ERR_AGENT_KEY', 'the JWK is not a usable private key', { cause });
  }
  return describe(privateKey, publicKey, publicJwk);
}

/** The JWS alg to sign with: RFC 9864's `Ed25519` (as openid-client does) or `ES256`. */
export function signingAlg(key: CryptoKey): 'Ed25519' | 'ES256' {
  const name = key.algorithm.name;
  if (name === 'Ed25519' || name === 'EdDSA') return 'Ed25519';
  if (name === 'ECDSA' && (key.algorithm as EcKeyAlgorithm).namedCurve === 'P-256') return 'ES256';
  throw new MandateAgentError('ERR_AGENT_KEY', `keys of type ${name} are not supported`);
}

function algorithmOf(jwk: JWK): AgentKeyAlgorithm {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new MandateAgentError(
    'ERR_AGENT_KEY',
    `expected an Ed25519 (OKP) or P-256 (EC) key, got kty ${String(jwk.kty)} crv ${String(jwk.crv)}`,
  );
}

async function describe(privateKey: CryptoKey, publicKey: CryptoKey, jwk: JWK): Promise<AgentKey> {
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, publicKey, kid, publicJwk: { ...jwk, kid, use: 'sig' } };
}
