/**
 * An RFC 9068 access token from the broker: signed with one of the broker's keys
 * (JWKS) under one of the algorithms it uses, `typ: at+jwt` (§4 step 1, which keeps
 * an ID token or any other JWT of the same issuer from passing as an access
 * token), this issuer, this API's audience, within its lifetime, with every claim
 * Mandate tokens carry.
 */
import { compactVerify, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BrokerError } from './broker-error.ts';
import type { MandateClaims } from './claims.ts';
import { VerifierError, type AuthScheme, type VerifierErrorCode } from './errors.ts';

/** The broker's signing algorithms; never `none`, never HMAC (a public key is not a secret). */
export const TOKEN_ALGS = ['EdDSA', 'ES256', 'RS256'];
export const ACCESS_TOKEN_TYP = 'at+jwt';

export interface AccessTokenCheck {
  issuer: string;
  audience: string;
  leeway: number;
  getKey: JWTVerifyGetKey;
}

const REQUIRED = ['iss', 'aud', 'exp', 'iat', 'jti', 'sub', 'client_id', 'scope'];

export async function verifyAccessToken(
  check: AccessTokenCheck,
  token: string,
  nowMs: number,
  scheme: AuthScheme,
): Promise<MandateClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, check.getKey, {
      algorithms: TOKEN_ALGS,
      typ: ACCESS_TOKEN_TYP,
      issuer: check.issuer,
      audience: check.audience,
      requiredClaims: REQUIRED,
      clockTolerance: check.leeway,
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    throw refusal(err, scheme);
  }
  for (const claim of ['sub', 'jti', 'client_id', 'scope'] as const) {
    if (typeof payload[claim] !== 'string' || (claim !== 'scope' && payload[claim] === '')) {
      throw invalid('ERR_TOKEN_CLAIM', `the token's ${claim} claim must be a string`, scheme);
    }
  }
  if (typeof payload.iat !== 'number') {
    throw invalid('ERR_TOKEN_CLAIM', "the token's iat claim must be a number", scheme);
  }
  if (payload.grant_id !== undefined && typeof payload.grant_id !== 'string') {
    throw invalid('ERR_TOKEN_CLAIM', "the token's grant_id claim must be a string", scheme);
  }
  return payload as MandateClaims;
}

/**
 * Only that the token is the broker's own access token (signature, algorithm, typ,
 * issuer), whatever its audience or expiry: enough to act on a report about it.
 */
export async function verifyIssuedToken(
  check: AccessTokenCheck,
  token: string,
): Promise<Partial<MandateClaims>> {
  let verified: Awaited<ReturnType<typeof compactVerify>>;
  try {
    verified = await compactVerify(token, check.getKey, { algorithms: TOKEN_ALGS });
  } catch (err) {
    throw refusal(err, 'Bearer');
  }
  if (verified.protectedHeader.typ?.toLowerCase() !== ACCESS_TOKEN_TYP) {
    throw invalid('ERR_TOKEN_TYP', `the token typ must be ${ACCESS_TOKEN_TYP}`, 'Bearer');
  }
  let claims: Partial<MandateClaims> | null;
  try {
    claims = JSON.parse(
      new TextDecoder().decode(verified.payload),
    ) as Partial<MandateClaims> | null;
  } catch (cause) {
    throw invalid('ERR_TOKEN_MALFORMED', 'the access token is not a valid JWT', 'Bearer', cause);
  }
  if (!claims || typeof claims !== 'object' || claims.iss !== check.issuer) {
    throw invalid('ERR_TOKEN_ISSUER', 'the access token is from another issuer', 'Bearer');
  }
  return claims;
}

const invalid = (
  code: VerifierErrorCode,
  description: string,
  scheme: AuthScheme,
  cause?: unknown,
) => new VerifierError(code, 'invalid_token', description, { scheme, cause });

/**
 * jose's reasons as stable codes with words for the client. Failures to fetch the
 * keys are not the token's fault: they are BrokerErrors.
 */
function refusal(err: unknown, scheme: AuthScheme): VerifierError | BrokerError {
  if (err instanceof errors.JWTExpired) {
    return invalid('ERR_TOKEN_EXPIRED', 'the access token has expired', scheme, err);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = err;
    if (reason === 'check_failed' && claim === 'nbf') {
      return invalid('ERR_TOKEN_NOT_YET_VALID', 'the access token is not valid yet', scheme, err);
    }
    if (claim === 'typ') {
      return invalid('ERR_TOKEN_TYP', `the token typ must be ${ACCESS_TOKEN_TYP}`, scheme, err);
    }
    if (reason === 'missing') {
      return invalid('ERR_TOKEN_CLAIM', `the access token lacks the ${claim} claim`, scheme, err);
    }
    if (claim === 'aud') {
      return invalid('ERR_TOKEN_AUDIENCE', 'the access token is for another API', scheme, err);
    }
    if (claim === 'iss') {
      return invalid('ERR_TOKEN_ISSUER', 'the access token is from another issuer', scheme, err);
    }
    return invalid('ERR_TOKEN_CLAIM', `the token's ${claim} claim is invalid`, scheme, err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return invalid(
      'ERR_TOKEN_ALG',
      `the access token must be signed with one of ${TOKEN_ALGS.join(', ')}`,
      scheme,
      err,
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid('ERR_TOKEN_KEY', 'the access token names no key of the broker', scheme, err);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('ERR_TOKEN_SIGNATURE', 'the access token signature is invalid', scheme, err);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return invalid('ERR_TOKEN_MALFORMED', 'the access token is not a valid JWT', scheme, err);
  }
  return new BrokerError('ERR_BROKER_UNAVAILABLE', 'the broker’s signing keys are unavailable', {
    cause: err,
  });
}
