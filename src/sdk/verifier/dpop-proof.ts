/**
 * DPoP at a resource server (RFC 9449 §7.1 and §4.3): a token bound to a key
 * (`cnf.jkt`) is only good with a fresh proof of possession of that key, made for
 * this request (method and URL), this token (`ath`), and never seen before.
 */
import { base64url } from 'jose';
import { checkDpopProofJws, DpopProofError } from '../../oauth/dpop-proof-check.ts';
import { VerifierError, type VerifierErrorCode } from './errors.ts';
import type { ExpiringSet } from './expiring-set.ts';

/** Every DPoP refusal at a resource server: 401 with a DPoP challenge (RFC 9449 §7.1). */
const invalid = (code: VerifierErrorCode, description: string, cause?: unknown) =>
  new VerifierError(code, 'invalid_dpop_proof', description, {
    status: 401,
    scheme: 'DPoP',
    cause,
  });

export interface DpopCheck {
  /** Seconds a proof's iat may lie in the past. */
  maxAge: number;
  leeway: number;
  /** Proof ids seen, per key, until they would be too old anyway. */
  seen: ExpiringSet;
}

export interface DpopInput {
  proof: string | undefined;
  method: string;
  url: string;
  token: string;
  /** The token's cnf.jkt. */
  jkt: string;
}

/**
 * Checks the proof fully and returns a function that consumes its `jti`: the
 * caller calls it last, once every other check on the request has passed, so a
 * refused request does not burn the proof and a stranger cannot fill the cache.
 */
export async function checkDpopProof(
  check: DpopCheck,
  input: DpopInput,
  nowMs: number,
): Promise<() => void> {
  const proof = input.proof;
  if (proof === undefined || proof === '') {
    throw invalid('ERR_DPOP_PROOF_MISSING', 'a DPoP-bound token needs a DPoP proof header');
  }
  let checked;
  try {
    // §4.3 steps 1–11, shared with the token endpoint; ath must be present (§7.1).
    checked = await checkDpopProofJws(proof, {
      method: input.method,
      url: input.url,
      now: new Date(nowMs),
      maxAge: check.maxAge,
      leeway: check.leeway,
      ath: 'required',
    });
  } catch (err) {
    if (err instanceof DpopProofError) throw invalid('ERR_DPOP_PROOF_INVALID', err.message, err);
    throw err;
  }
  const { payload, jti } = checked;
  const ath = base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input.token))),
  );
  if (payload.ath !== ath) {
    throw invalid('ERR_DPOP_PROOF_INVALID', 'the DPoP proof ath is not the hash of this token');
  }
  // §6.1 via §7.1: the proof's key must be the one the token is bound to.
  if (checked.jkt !== input.jkt) {
    throw invalid(
      'ERR_DPOP_KEY_MISMATCH',
      'the DPoP proof is signed with another key than the token is bound to',
    );
  }
  const key = `${input.jkt}:${jti}`;
  // Remembered until the proof would be refused as too old anyway.
  const expiresAt = (checked.iat + check.maxAge + check.leeway) * 1000;
  if (check.seen.has(key)) {
    throw invalid('ERR_DPOP_PROOF_REPLAYED', 'the DPoP proof was used before');
  }
  return () => {
    if (!check.seen.addIfAbsent(key, expiresAt)) {
      throw invalid('ERR_DPOP_PROOF_REPLAYED', 'the DPoP proof was used before');
    }
  };
}
