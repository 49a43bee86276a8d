/**
 * The DPoP proof as a JWS (RFC 9449 §4.3 steps 4–8 and 11): `typ: dpop+jwt`, an
 * asymmetric algorithm, a public key in its own `jwk` header that verifies its
 * signature, the claims every proof has, and an `iat` inside the window. What the
 * proof must say about the request is checked in dpop-proof.ts.
 */
import {
  decodeProtectedHeader,
  EmbeddedJWK,
  errors,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { DPOP_ALGS, VerifierError, type VerifierErrorCode } from './errors.ts';

export const DPOP_TYP = 'dpop+jwt';
/** JWK members only a private (or symmetric) key has (RFC 7517, RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Every DPoP refusal at a resource server: 401 with a DPoP challenge (RFC 9449 §7.1). */
export const dpopInvalid = (code: VerifierErrorCode, description: string, cause?: unknown) =>
  new VerifierError(code, 'invalid_dpop_proof', description, {
    status: 401,
    scheme: 'DPoP',
    cause,
  });

/** §4.3 steps 4–7 on the header alone: type, algorithm, a public asymmetric jwk. */
export function publicJwkOf(proof: string): JWK {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (cause) {
    throw dpopInvalid('ERR_DPOP_PROOF_INVALID', 'the DPoP proof header is not valid JSON', cause);
  }
  if (header.typ !== DPOP_TYP) {
    throw dpopInvalid('ERR_DPOP_PROOF_INVALID', `the DPoP proof typ must be ${DPOP_TYP}`);
  }
  if (typeof header.alg !== 'string' || !DPOP_ALGS.includes(header.alg)) {
    throw dpopInvalid(
      'ERR_DPOP_PROOF_INVALID',
      `the DPoP proof alg must be one of ${DPOP_ALGS.join(', ')}`,
    );
  }
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw dpopInvalid('ERR_DPOP_PROOF_INVALID', 'the DPoP proof must carry its public key as jwk');
  }
  if (jwk.kty === 'oct' || PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw dpopInvalid('ERR_DPOP_PROOF_INVALID', 'the DPoP proof jwk must be a public key');
  }
  return jwk;
}

/** §4.3 steps 8, 11: the embedded key's signature, required claims, an iat inside the window. */
export async function verifyProofSignature(
  proof: string,
  nowMs: number,
  maxAge: number,
  leeway: number,
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: DPOP_TYP,
      algorithms: [...DPOP_ALGS],
      requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'],
      currentDate: new Date(nowMs),
      maxTokenAge: maxAge,
      clockTolerance: leeway,
    });
    return payload;
  } catch (err) {
    throw dpopInvalid('ERR_DPOP_PROOF_INVALID', describe(err, maxAge), err);
  }
}

function describe(err: unknown, maxAge: number): string {
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return 'the DPoP proof signature does not verify with its own jwk';
  }
  if (err instanceof errors.JWTExpired) return `the DPoP proof is older than ${maxAge} seconds`;
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `the DPoP proof lacks the ${err.claim} claim`;
    if (err.claim === 'iat') return 'the DPoP proof iat is in the future';
    return `the DPoP proof ${err.claim} claim is invalid`;
  }
  return 'the DPoP proof does not verify';
}
