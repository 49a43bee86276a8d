/**
 * The API's client authentication at the broker: `private_key_jwt` (RFC 7523 §2.2),
 * a fresh assertion per call (the broker accepts each `jti` once), audience the
 * issuer, short-lived.
 */
import { base64url, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { VerifierClient } from './options.ts';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Seconds an assertion lives: long enough for a slow network, short enough to be useless later. */
const ASSERTION_TTL = 60;

/** Signs one assertion per call; the key is imported once. */
export type AssertionSigner = () => Promise<string>;

export function assertionSigner(
  client: VerifierClient,
  issuer: string,
  now: () => number,
): AssertionSigner {
  const isPrivate = isJwk(client.privateKey)
    ? typeof client.privateKey.d === 'string'
    : client.privateKey.type === 'private';
  if (!isPrivate) throw new TypeError('client.privateKey must be a private key');
  const alg = client.alg ?? algOf(client.privateKey);
  const kid = client.kid ?? (isJwk(client.privateKey) ? client.privateKey.kid : undefined);
  let key: Promise<CryptoKey | Uint8Array> | undefined;
  const signingKey = () =>
    (key ??= isJwk(client.privateKey)
      ? importJWK(client.privateKey, alg)
      : Promise.resolve(client.privateKey));
  return async () => {
    const iat = Math.floor(now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg, ...(kid === undefined ? {} : { kid }) })
      .setIssuer(client.clientId)
      .setSubject(client.clientId)
      .setAudience(issuer)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_TTL)
      .setJti(randomJti())
      .sign(await signingKey());
  };
}

/** The form parameters that authenticate one request. */
export async function clientAuthParams(sign: AssertionSigner): Promise<Record<string, string>> {
  return { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await sign() };
}

function isJwk(key: CryptoKey | JWK): key is JWK {
  return typeof (key as JWK).kty === 'string';
}

/** The JWS algorithm a key implies when none is given. */
function algOf(key: CryptoKey | JWK): string {
  if (isJwk(key)) {
    if (key.alg) return key.alg;
    if (key.kty === 'OKP' && key.crv === 'Ed25519') return 'EdDSA';
    if (key.kty === 'EC' && key.crv === 'P-256') return 'ES256';
    if (key.kty === 'EC' && key.crv === 'P-384') return 'ES384';
    if (key.kty === 'RSA') return 'RS256';
  } else {
    const a = key.algorithm as { name: string; namedCurve?: string };
    if (a.name === 'Ed25519') return 'EdDSA';
    if (a.name === 'ECDSA' && a.namedCurve === 'P-256') return 'ES256';
    if (a.name === 'ECDSA' && a.namedCurve === 'P-384') return 'ES384';
    if (a.name === 'RSASSA-PKCS1-v1_5') return 'RS256';
    if (a.name === 'RSA-PSS') return 'PS256';
  }
  throw new TypeError('client.alg is required: the key does not say which algorithm to sign with');
}

/** 128 random bits, base64url. */
const randomJti = () => base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
