/**
 * DPoP at a resource server (RFC 9449 §7.1 and §4.3): a token bound to a key
 * (`cnf.jkt`) is only good with a fresh proof of possession of that key, made for
 * this request (method and URL), this token (`ath`), and never seen before.
 */
import { base64url, calculateJwkThumbprint } from 'jose';
import { dpopInvalid as invalid, publicJwkOf, verifyProofSignature } from './dpop-jws.ts';
import type { ExpiringSet } from './expiring-set.ts';

/** A compact JWS: three base64url parts. A comma means several DPoP headers were joined. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;

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
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    throw invalid('ERR_DPOP_PROOF_INVALID', 'the DPoP header must hold exactly one signed JWT');
  }
  const jwk = publicJwkOf(proof);
  const payload = await verifyProofSignature(proof, nowMs, check.maxAge, check.leeway);
  if (payload.htm !== input.method) {
    throw invalid(
      'ERR_DPOP_PROOF_INVALID',
      `the DPoP proof htm is ${String(payload.htm)}, expected ${input.method}`,
    );
  }
  const expected = withoutQuery(input.url);
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== expected) {
    throw invalid(
      'ERR_DPOP_PROOF_INVALID',
      `the DPoP proof htu is ${String(payload.htu)}, expected ${String(expected)}`,
    );
  }
  const ath = base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input.token))),
  );
  if (payload.ath !== ath) {
    throw invalid('ERR_DPOP_PROOF_INVALID', 'the DPoP proof ath is not the hash of this token');
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw invalid('ERR_DPOP_PROOF_INVALID', `the DPoP proof jti must be 1 to 256 characters`);
  }
  // §6.1 via §7.1: the proof's key must be the one the token is bound to.
  if ((await calculateJwkThumbprint(jwk, 'sha256')) !== input.jkt) {
    throw invalid(
      'ERR_DPOP_KEY_MISMATCH',
      'the DPoP proof is signed with another key than the token is bound to',
    );
  }
  const key = `${input.jkt}:${jti}`;
  // Remembered until the proof would be refused as too old anyway.
  const expiresAt = ((payload.iat ?? 0) + check.maxAge + check.leeway) * 1000;
  if (check.seen.has(key)) {
    throw invalid('ERR_DPOP_PROOF_REPLAYED', 'the DPoP proof was used before');
  }
  return () => {
    if (!check.seen.addIfAbsent(key, expiresAt)) {
      throw invalid('ERR_DPOP_PROOF_REPLAYED', 'the DPoP proof was used before');
    }
  };
}

/** §4.3 step 9: the URL without query and fragment, normalised by the URL parser (RFC 3986 §6). */
function withoutQuery(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  return u.href;
}
