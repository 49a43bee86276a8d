/**
 * Sender-constrained tokens (RFC 9449 §7.1, RFC 7800): a token with `cnf.jkt` is
 * presented with the DPoP scheme and a proof by that key, and only such a token;
 * a bound token sent as Bearer is refused, as is the DPoP scheme with an unbound
 * one (§7.2), and a confirmation of any other kind, which this verifier cannot check.
 */
import type { VerifierRequest, Credentials } from './authorization.ts';
import type { MandateClaims } from './claims.ts';
import { checkDpopProof, type DpopCheck } from './dpop-proof.ts';
import { VerifierError } from './errors.ts';

/** The proof's consume step for a bound token (call it last), undefined for an unbound one. */
export async function checkBinding(
  claims: MandateClaims,
  credentials: Credentials,
  req: VerifierRequest,
  dpop: DpopCheck,
  nowMs: number,
): Promise<(() => void) | undefined> {
  const { scheme, token, proof } = credentials;
  if (claims.cnf === undefined) {
    if (scheme === 'DPoP') {
      throw new VerifierError(
        'ERR_DPOP_UNBOUND',
        'invalid_token',
        'this token is not bound to a DPoP key: send it with the Bearer scheme',
        { scheme: 'DPoP' },
      );
    }
    return undefined;
  }
  const jkt = (claims.cnf as { jkt?: unknown } | null)?.jkt;
  if (typeof jkt !== 'string' || jkt === '') {
    throw new VerifierError(
      'ERR_TOKEN_CLAIM',
      'invalid_token',
      'the token is bound by a confirmation method other than DPoP (cnf.jkt)',
      { scheme },
    );
  }
  if (scheme !== 'DPoP') {
    throw new VerifierError(
      'ERR_DPOP_REQUIRED',
      'invalid_token',
      'this token is bound to a DPoP key: send it with the DPoP scheme and a proof',
      { scheme: 'DPoP' },
    );
  }
  return checkDpopProof(dpop, { proof, method: req.method, url: req.url, token, jkt }, nowMs);
}
