/**
 * The checks a DPoP proof must pass wherever it is presented (RFC 9449 §4.3 steps
 * 1–11): one compact JWS, `typ: dpop+jwt`, an asymmetric algorithm, a public key in
 * its own `jwk` header that verifies the signature, `htm` and `htu` naming this
 * request, an `iat` inside the window, a usable `jti`. Portable (jose and Web Crypto
 * only): the token endpoint (dpop.ts) and the verifier SDK both run it, then add what
 * is theirs — server nonces and the database replay store there; `ath`, `cnf.jkt` and
 * an in-memory replay set at a resource server.
 */
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { PRIVATE_JWK_MEMBERS } from '../keys/private-members.ts';
import { CLIENT_ASSERTION_ALGS } from './client-jwt.ts';

export const DPOP_TYP = 'dpop+jwt';
/** The same asymmetric algorithms as client assertions; never HMAC or `none` (§4.2). */
export const DPOP_ALGS: readonly string[] = CLIENT_ASSERTION_ALGS;

/** A compact JWS: three base64url parts. A comma means several headers were joined. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_PROOF_LENGTH = 8192;
export const MAX_DPOP_JTI_LENGTH = 256;

/** A proof that fails; the message says what was expected, in words for the client. */
export class DpopProofError extends Error {}

export interface ProofExpectations {
  method: string;
  /** The request URL as the client sees it; query and fragment do not count. */
  url: string;
  now: Date;
  /** How old `iat` may be, seconds. */
  maxAge: number;
  /** Clock tolerance, seconds. */
  leeway: number;
  /**
   * §4.3 step 12: `ath` comes with an access token (at a resource server) and must not
   * be there without one (at the token endpoint). Its value is the caller's to compare.
   */
  ath: 'required' | 'forbidden';
}

export interface CheckedProof {
  jwk: JWK;
  /** RFC 7638 SHA-256 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  iat: number;
  payload: JWTPayload;
}

export async function checkDpopProofJws(
  proof: string,
  expect: ProofExpectations,
): Promise<CheckedProof> {
  // §4.3 step 1: exactly one DPoP header, holding one JWT.
  if (proof.includes(',')) throw new DpopProofError('exactly one DPoP header is allowed');
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    throw new DpopProofError('the DPoP header is not a signed JWT in compact form');
  }
  const jwk = publicJwkOf(proof);
  const payload = await verifySignature(proof, expect);
  if (payload.htm !== expect.method) {
    throw new DpopProofError(
      `the DPoP proof htm is ${String(payload.htm)}, expected ${expect.method}`,
    );
  }
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(expect.url)) {
    throw new DpopProofError(
      `the DPoP proof htu is ${String(payload.htu)}, expected ${String(withoutQuery(expect.url))}`,
    );
  }
  if (expect.ath === 'forbidden' && payload.ath !== undefined) {
    throw new DpopProofError('a DPoP proof at the token endpoint must not carry ath');
  }
  const jti = payload.jti;
  // Without control characters: the jti is stored (§11.1), and PostgreSQL's text refuses U+0000.
  if (
    typeof jti !== 'string' ||
    jti.length === 0 ||
    jti.length > MAX_DPOP_JTI_LENGTH ||
    /\p{Cc}/u.test(jti)
  ) {
    throw new DpopProofError(
      `the DPoP proof jti must be a string of 1 to ${MAX_DPOP_JTI_LENGTH} characters without control characters`,
    );
  }
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  return { jwk, jkt, jti, iat: payload.iat ?? 0, payload };
}

/** §4.3 steps 4–7 on the header alone: type, algorithm, and a public asymmetric jwk. */
function publicJwkOf(proof: string): JWK {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (cause) {
    throw new DpopProofError('the DPoP proof header is not valid JSON', { cause });
  }
  if (header.typ !== DPOP_TYP) {
    throw new DpopProofError(`the DPoP proof typ is ${String(header.typ)}, expected ${DPOP_TYP}`);
  }
  if (typeof header.alg !== 'string' || !DPOP_ALGS.includes(header.alg)) {
    throw new DpopProofError(
      `the DPoP proof alg ${String(header.alg)} is not allowed; use one of ${DPOP_ALGS.join(', ')}`,
    );
  }
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw new DpopProofError('the DPoP proof must carry its public key in the jwk header');
  }
  if (jwk.kty === 'oct' || PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) {
    throw new DpopProofError(
      'the DPoP proof jwk must be a public asymmetric key, with no private members',
    );
  }
  return jwk;
}

/** §4.3 steps 8 and 11: the signature by the embedded key, required claims, iat window. */
async function verifySignature(proof: string, e: ProofExpectations): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: DPOP_TYP,
      algorithms: [...DPOP_ALGS],
      requiredClaims:
        e.ath === 'required' ? ['jti', 'htm', 'htu', 'iat', 'ath'] : ['jti', 'htm', 'htu', 'iat'],
      currentDate: e.now,
      maxTokenAge: e.maxAge,
      clockTolerance: e.leeway,
    });
    return payload;
  } catch (err) {
    throw new DpopProofError(describeFailure(err, e.maxAge), { cause: err });
  }
}

function describeFailure(err: unknown, maxAge: number): string {
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return 'the DPoP proof signature does not verify with the key in its jwk header';
  }
  if (err instanceof errors.JWTExpired && err.claim === 'iat') {
    return `the DPoP proof is too old: iat must be within the last ${maxAge} seconds`;
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `the DPoP proof lacks the ${err.claim} claim`;
    if (err.claim === 'iat') return 'the DPoP proof iat is in the future';
    return `the DPoP proof ${err.claim} claim is invalid: ${err.message}`;
  }
  // Anything else (a malformed jwk, a key the algorithm cannot use) came from the proof.
  return `the DPoP proof does not verify: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * §4.3 step 9: htu matches the request URL without query and fragment. The URL
 * parser applies RFC 3986 §6.2.2–6.2.3 normalisation (case of scheme and host,
 * default port, dot segments), so equivalent spellings compare equal.
 */
function withoutQuery(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  return u.href;
}
