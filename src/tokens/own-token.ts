/**
 * Verifies an access token the broker itself issued, as introspection and
 * revocation receive it: the signature against our own published keys (the same
 * JWKS verifiers fetch), `typ: at+jwt` (RFC 9068 §4), our issuer, only our
 * signing algorithms, every RFC 9068 claim present, and not expired.
 *
 * A token that fails is not an error for these endpoints (RFC 7662 §2.2 answers
 * `active: false`, RFC 7009 §2.2 answers 200), so failure is a result carrying the
 * jose error code, not an exception; anything that is not a JOSE error (a broken
 * database, a bug) still throws.
 */
import { createLocalJWKSet, errors, jwtVerify } from 'jose';
import { SIGNING_ALGS } from '../config.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { ACCESS_TOKEN_TYP, type AccessTokenClaims } from './access-token.ts';

export type OwnTokenResult = { ok: true; claims: AccessTokenClaims } | { ok: false; code: string };

const REQUIRED = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'] as const;

export async function verifyOwnAccessToken(
  keys: Pick<KeyStore, 'jwks'>,
  token: string,
  options: {
    issuer: string;
    now: Date;
    /**
     * Seconds past `exp` still accepted. 0 (the default): our own clock signed it, so
     * no skew; an overrun report may name a token that has just expired.
     */
    acceptExpiredFor?: number;
  },
): Promise<OwnTokenResult> {
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(await keys.jwks()), {
      algorithms: [...SIGNING_ALGS],
      typ: ACCESS_TOKEN_TYP,
      issuer: options.issuer,
      requiredClaims: [...REQUIRED],
      currentDate: options.now,
      clockTolerance: options.acceptExpiredFor ?? 0,
    });
    if (typeof payload.jti !== 'string' || typeof payload.aud !== 'string') {
      return { ok: false, code: 'ERR_CLAIMS_SHAPE' };
    }
    // jose applies clockTolerance to nbf as well as exp: the grace meant for a just-expired
    // token must not also accept one that is not valid yet.
    if (typeof payload.nbf === 'number' && payload.nbf > options.now.getTime() / 1000) {
      return { ok: false, code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' };
    }
    // Signed by us with these claims, so the shape is ours (see mintAccessToken).
    return { ok: true, claims: payload as unknown as AccessTokenClaims };
  } catch (err) {
    if (err instanceof errors.JOSEError) return { ok: false, code: err.code };
    throw err;
  }
}
