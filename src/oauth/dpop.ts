/**
 * DPoP proofs at the token endpoint (RFC 9449 §4.3): a JWT of type `dpop+jwt`,
 * signed with an asymmetric key carried in its own `jwk` header, for this method
 * and this URL, recent, with the server's nonce when nonces are on (§8), and never
 * seen before. The proof key's RFC 7638 thumbprint is what grants and tokens get
 * bound to (`cnf.jkt`, §6.1).
 *
 * Every failure is `invalid_dpop_proof` (§5) with a description saying what was
 * expected; a missing or stale nonce is `use_dpop_nonce` with a fresh `DPoP-Nonce`.
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
import { lt } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { DbOrTx } from '../db/database.ts';
import { dpopProofJtis } from '../db/schema.ts';
import { CLIENT_ASSERTION_ALGS } from './client-auth.ts';
import type { DpopNonces } from './dpop-nonce.ts';
import { PRIVATE_MEMBERS } from '../registry/jwks.ts';
import { OAuthError } from './errors.ts';

/** The same asymmetric algorithms as client assertions; never HMAC or `none` (§4.2). */
export const DPOP_ALGS: readonly string[] = CLIENT_ASSERTION_ALGS;

export const DPOP_NONCE_HEADER = 'DPoP-Nonce';

/** A compact JWS: three base64url parts. A comma means several headers were joined. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;

export interface DpopVerifier {
  db: DbOrTx;
  clock: Clock;
  /** How old `iat` may be, seconds (MANDATE_DPOP_PROOF_MAX_AGE). */
  maxAge: number;
  clockSkew: number;
  /** Present when MANDATE_DPOP_REQUIRE_NONCE is on: every proof must carry one of ours. */
  nonces?: DpopNonces | undefined;
}

export interface DpopRequest {
  /** The `DPoP` header as the platform gives it: several headers arrive joined by ", ". */
  header: string | undefined;
  method: string;
  /** The endpoint's public URL (PUBLIC_URL + path), which `htu` must name. */
  url: string;
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url. */
  jkt: string;
}

const invalid = (description: string, cause?: unknown) =>
  new OAuthError('invalid_dpop_proof', description, 400, { cause });

/**
 * Verifies the request's DPoP proof. Undefined when the request carries none (the
 * token is then a Bearer token); throws OAuthError when it carries a bad one. The
 * proof's `jti` is stored only once the signature holds (§11.1), so strangers
 * cannot fill the replay table, and the caller must have authenticated the client.
 */
export async function verifyDpopProof(
  v: DpopVerifier,
  request: DpopRequest,
): Promise<DpopProof | undefined> {
  const proof = request.header;
  if (proof === undefined) return undefined;
  // §4.3 step 1: exactly one DPoP header, holding one JWT.
  if (proof.includes(',')) throw invalid('exactly one DPoP header is allowed');
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    throw invalid('the DPoP header is not a signed JWT in compact form');
  }
  const jwk = publicJwkOf(proof);
  const payload = await verifySignature(v, proof);

  if (payload.htm !== request.method) {
    throw invalid(`the DPoP proof htm is ${String(payload.htm)}, expected ${request.method}`);
  }
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(request.url)) {
    throw invalid(`the DPoP proof htu is ${String(payload.htu)}, expected ${request.url}`);
  }
  // §4.3 step 12 asks for ath only where an access token is presented; here none is.
  if (payload.ath !== undefined) {
    throw invalid('a DPoP proof at the token endpoint must not carry ath');
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw invalid(`the DPoP proof jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (v.nonces) await checkNonce(v.nonces, payload.nonce);

  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  // Kept until the proof would be refused as too old anyway (iat + max age + skew).
  const iat = payload.iat ?? 0;
  const fresh = await v.db
    .insert(dpopProofJtis)
    .values({ jkt, jti, expiresAt: new Date((iat + v.maxAge + v.clockSkew) * 1000) })
    .onConflictDoNothing()
    .returning({ jti: dpopProofJtis.jti });
  if (fresh.length === 0) throw invalid('the DPoP proof jti was used before');
  return { jkt };
}

/** Drops replay records of proofs too old to be accepted again. */
export async function pruneDpopProofJtis(db: DbOrTx, now: Date): Promise<void> {
  await db.delete(dpopProofJtis).where(lt(dpopProofJtis.expiresAt, now));
}

/** §4.3 steps 4–7 on the header alone: type, algorithm, and a public asymmetric jwk. */
function publicJwkOf(proof: string): JWK {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (cause) {
    throw invalid('the DPoP proof header is not valid JSON', cause);
  }
  if (header.typ !== 'dpop+jwt') {
    throw invalid(`the DPoP proof typ is ${String(header.typ)}, expected dpop+jwt`);
  }
  if (typeof header.alg !== 'string' || !DPOP_ALGS.includes(header.alg)) {
    throw invalid(
      `the DPoP proof alg ${String(header.alg)} is not allowed; use one of ${DPOP_ALGS.join(', ')}`,
    );
  }
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw invalid('the DPoP proof must carry its public key in the jwk header');
  }
  if (jwk.kty === 'oct' || PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw invalid('the DPoP proof jwk must be a public asymmetric key, with no private members');
  }
  return jwk;
}

/** §4.3 steps 8 and 11: the signature by the embedded key, required claims, iat window. */
async function verifySignature(v: DpopVerifier, proof: string): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGS],
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      currentDate: v.clock.now(),
      maxTokenAge: v.maxAge,
      clockTolerance: v.clockSkew,
    });
    return payload;
  } catch (err) {
    throw invalid(describeFailure(err, v.maxAge), err);
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

/** §8: a proof without our current nonce gets a fresh one to retry with. */
async function checkNonce(nonces: DpopNonces, nonce: unknown): Promise<void> {
  if (typeof nonce === 'string' && (await nonces.accepts(nonce))) return;
  const description =
    nonce === undefined
      ? 'the DPoP proof must carry the nonce from the DPoP-Nonce header'
      : 'the DPoP proof nonce is stale or unknown; use the one in the DPoP-Nonce header';
  throw new OAuthError('use_dpop_nonce', description, 400, {
    headers: { [DPOP_NONCE_HEADER]: await nonces.issue() },
  });
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
