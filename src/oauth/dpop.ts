/**
 * DPoP proofs at the token endpoint (RFC 9449 §4.3): the checks every proof must pass
 * (dpop-proof-check.ts), then what is the token endpoint's own: no `ath`, the server's
 * nonce when nonces are on (§8), and a `jti` never seen before (a database table, so
 * every broker process shares it). The proof key's RFC 7638 thumbprint is what grants
 * and tokens get bound to (`cnf.jkt`, §6.1).
 *
 * Every failure is `invalid_dpop_proof` (§5) with a description saying what was
 * expected; a missing or stale nonce is `use_dpop_nonce` with a fresh `DPoP-Nonce`.
 */
import { lt } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { DbOrTx } from '../db/database.ts';
import { dpopProofJtis } from '../db/schema.ts';
import type { DpopNonces } from './dpop-nonce.ts';
import { checkDpopProofJws, DpopProofError } from './dpop-proof-check.ts';
import { OAuthError } from './errors.ts';

export { DPOP_ALGS } from './dpop-proof-check.ts';

export const DPOP_NONCE_HEADER = 'DPoP-Nonce';

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
  let checked;
  try {
    checked = await checkDpopProofJws(proof, {
      method: request.method,
      url: request.url,
      now: v.clock.now(),
      maxAge: v.maxAge,
      leeway: v.clockSkew,
      ath: 'forbidden',
    });
  } catch (err) {
    if (err instanceof DpopProofError) throw invalid(err.message, err.cause);
    throw err;
  }
  if (v.nonces) await checkNonce(v.nonces, checked.payload.nonce);

  const { jkt, jti, iat } = checked;
  // Kept until the proof would be refused as too old anyway (iat + max age + skew).
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
