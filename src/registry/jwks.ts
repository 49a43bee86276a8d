/**
 * Validates a client's JWK Set before it is stored. Clients authenticate with
 * private_key_jwt (RFC 7523), so we accept only public asymmetric signing keys
 * that client authentication will actually verify with.
 */
import { base64url, importJWK, type JSONWebKeySet, type JWK } from 'jose';
import { CLIENT_ASSERTION_ALGS } from '../oauth/client-auth.ts';
import { RegistryError } from './errors.ts';
import { PRIVATE_JWK_MEMBERS } from '../keys/private-members.ts';

const MAX_KEYS = 20;
const MAX_JSON_BYTES = 64 * 1024;
const MIN_RSA_BITS = 2048;
const ACCEPTED_ALGS: readonly string[] = CLIENT_ASSERTION_ALGS;
const EC_ALGS: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384' };

const invalid = (message: string, cause?: unknown) =>
  new RegistryError('ERR_INVALID', `invalid JWKS: ${message}`, { cause });

/** Returns the set unchanged when every key is acceptable; throws ERR_INVALID naming the first problem. */
export async function validatePublicJwks(value: unknown): Promise<JSONWebKeySet> {
  if (!isRecord(value) || !Array.isArray(value.keys)) {
    throw invalid('expected a JWK Set, an object with a "keys" array');
  }
  if (JSON.stringify(value).length > MAX_JSON_BYTES)
    throw invalid(`larger than ${MAX_JSON_BYTES} bytes`);
  const keys: unknown[] = value.keys;
  if (keys.length === 0) throw invalid('"keys" is empty');
  if (keys.length > MAX_KEYS) throw invalid(`at most ${MAX_KEYS} keys, got ${keys.length}`);

  const kids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (!isRecord(key)) throw invalid(`keys[${i}] is not an object`);
    await checkKey(key, `keys[${i}]`);
    // With several keys, the assertion's `kid` is what picks one; without it jose cannot choose.
    if (keys.length > 1) {
      if (typeof key.kid !== 'string' || key.kid === '')
        throw invalid(`keys[${i}] needs a "kid" when the set has several keys`);
      if (kids.has(key.kid)) throw invalid(`keys[${i}] repeats kid "${key.kid}"`);
      kids.add(key.kid);
    }
  }
  return { keys: keys as JWK[] };
}

async function checkKey(jwk: JWK, where: string): Promise<void> {
  if (jwk.kty === 'oct')
    throw invalid(`${where} is a symmetric key (kty "oct"); only public keys are accepted`);
  if (jwk.kty !== 'OKP' && jwk.kty !== 'EC' && jwk.kty !== 'RSA') {
    throw invalid(`${where} has kty ${JSON.stringify(jwk.kty)}; expected OKP, EC or RSA`);
  }
  const secret = PRIVATE_JWK_MEMBERS.filter((m) => m in jwk);
  if (secret.length > 0) {
    throw invalid(
      `${where} contains private key material (${secret.join(', ')}); register the public key only`,
    );
  }
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid.length > 256)) {
    throw invalid(`${where} has an unusable kid`);
  }
  if (jwk.use !== undefined && jwk.use !== 'sig')
    throw invalid(`${where} has use ${JSON.stringify(jwk.use)}; expected "sig"`);
  if (
    jwk.key_ops !== undefined &&
    !(Array.isArray(jwk.key_ops) && jwk.key_ops.every((op) => op === 'verify'))
  ) {
    throw invalid(`${where} has key_ops other than "verify"`);
  }
  const alg = jwk.alg ?? defaultAlg(jwk);
  if (!alg || !ACCEPTED_ALGS.includes(alg)) {
    throw invalid(
      `${where}: ${alg ? `alg ${JSON.stringify(alg)}` : `no default alg for this ${jwk.kty} key`} is not ` +
        `accepted for client authentication (expected one of ${ACCEPTED_ALGS.join(', ')})`,
    );
  }
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK(jwk, alg);
  } catch (cause) {
    throw invalid(
      `${where} cannot be imported as an ${alg} key: ${(cause as Error).message}`,
      cause,
    );
  }
  if (key instanceof Uint8Array || key.type !== 'public')
    throw invalid(`${where} is not a public key`);
  if (jwk.kty === 'RSA' && rsaBits(jwk) < MIN_RSA_BITS) {
    throw invalid(`${where}: RSA keys need at least ${MIN_RSA_BITS} bits`);
  }
}

/** What jose would need as `alg` for a key that does not name one. */
function defaultAlg(jwk: JWK): string | undefined {
  if (jwk.kty === 'OKP') return jwk.crv === 'Ed25519' ? 'EdDSA' : undefined;
  if (jwk.kty === 'EC') return EC_ALGS[jwk.crv ?? ''];
  return 'RS256';
}

/** Called after importJWK succeeded, so `n` is valid base64url. */
function rsaBits(jwk: JWK): number {
  const n = base64url.decode(jwk.n ?? '');
  return (n.length - (n[0] === 0 ? 1 : 0)) * 8;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
