/**
 * The rules a JWT signed by a client must meet to speak for it (RFC 7523 §3): a
 * client assertion at any endpoint, and the sub-agent's `actor_token` in a token
 * exchange. iss = sub = the client, an accepted audience, only asymmetric
 * algorithms, `exp` soon (at most `maxTtl` ahead), `iat` not in the future, and a
 * usable `jti` for the caller to remember.
 */
import { jwtVerify, type JWTVerifyGetKey } from 'jose';

/** Asymmetric only: HMAC would need a shared secret, and `none` is no signature. */
// 'Ed25519' is RFC 9864's fully specified name for EdDSA over Ed25519; openid-client v6 signs with it.
export const CLIENT_ASSERTION_ALGS = [
  'EdDSA',
  'Ed25519',
  'ES256',
  'ES384',
  'PS256',
  'RS256',
] as const;

export type ClientJwtProblem =
  'ERR_SIGNATURE' | 'ERR_TYP' | 'ERR_TOO_LONG_LIVED' | 'ERR_FUTURE' | 'ERR_JTI';

/**
 * `typ` values a client's own JWT may carry: none, the generic `JWT`, or the explicit
 * type of draft-ietf-oauth-rfc7523bis (`client-authentication+jwt`). Any other explicit
 * type says the JWT was made for something else (an access token, a DPoP proof), and
 * RFC 8725 §3.11 asks that such JWTs never be accepted in each other's place.
 */
const CLIENT_JWT_TYPES = ['jwt', 'client-authentication+jwt'];

export class ClientJwtError extends Error {
  constructor(
    readonly code: ClientJwtProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ClientJwtRules {
  clientId: string;
  audiences: string[];
  now: Date;
  clockSkew: number;
  /** Longest `exp - now` accepted, seconds. */
  maxTtl: number;
}

export async function verifyClientJwt(
  jwt: string,
  getKey: JWTVerifyGetKey,
  rules: ClientJwtRules,
): Promise<{ jti: string; exp: number }> {
  let payload;
  let typ: unknown;
  try {
    ({
      payload,
      protectedHeader: { typ },
    } = await jwtVerify(jwt, getKey, {
      algorithms: [...CLIENT_ASSERTION_ALGS],
      issuer: rules.clientId,
      subject: rules.clientId,
      audience: rules.audiences,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: rules.clockSkew,
      currentDate: rules.now,
    }));
  } catch (cause) {
    throw new ClientJwtError('ERR_SIGNATURE', 'signature, issuer, subject, audience or expiry', {
      cause,
    });
  }
  // Media types compare case-insensitively, with or without `application/` (RFC 7515 §4.1.9).
  if (
    typ !== undefined &&
    (typeof typ !== 'string' ||
      !CLIENT_JWT_TYPES.includes(typ.toLowerCase().replace(/^application\//, '')))
  ) {
    throw new ClientJwtError('ERR_TYP', `typ ${JSON.stringify(typ)} is not a client JWT's`);
  }
  const nowSeconds = Math.floor(rules.now.getTime() / 1000);
  const exp = payload.exp as number;
  if (exp - nowSeconds > rules.maxTtl) {
    throw new ClientJwtError('ERR_TOO_LONG_LIVED', `expires more than ${rules.maxTtl} s ahead`);
  }
  if (typeof payload.iat === 'number' && payload.iat > nowSeconds + rules.clockSkew) {
    throw new ClientJwtError('ERR_FUTURE', 'issued in the future');
  }
  const jti = payload.jti;
  // The jti is stored to refuse replays, and PostgreSQL's text refuses U+0000: no control characters.
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256 || /\p{Cc}/u.test(jti)) {
    throw new ClientJwtError('ERR_JTI', 'jti unusable');
  }
  return { jti, exp };
}
