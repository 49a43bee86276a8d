/**
 * A VerifierError is the request's fault and has an HTTP answer (RFC 6750 §3 for
 * Bearer, RFC 9449 §7.1 for DPoP): status, OAuth error code, and the
 * WWW-Authenticate challenge to send. (The broker's failures are BrokerErrors,
 * see broker-error.ts.)
 */
import { DPOP_ALGS } from '../../oauth/dpop-proof-check.ts';

/** Stable codes a caller can narrow on (`err.code === 'ERR_TOKEN_EXPIRED'`). */
export type VerifierErrorCode =
  | 'ERR_NO_TOKEN'
  | 'ERR_AUTHORIZATION_MALFORMED'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_ALG'
  | 'ERR_TOKEN_TYP'
  | 'ERR_TOKEN_KEY'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_CLAIM'
  | 'ERR_TOKEN_REVOKED'
  | 'ERR_STATUS_LIST_URI'
  | 'ERR_STATUS_UNAVAILABLE'
  | 'ERR_DPOP_REQUIRED'
  | 'ERR_DPOP_UNBOUND'
  | 'ERR_DPOP_PROOF_MISSING'
  | 'ERR_DPOP_PROOF_INVALID'
  | 'ERR_DPOP_PROOF_REPLAYED'
  | 'ERR_DPOP_KEY_MISMATCH'
  | 'ERR_INSUFFICIENT_SCOPE';

export type VerifierErrorKind =
  'invalid_token' | 'insufficient_scope' | 'invalid_request' | 'invalid_dpop_proof';

/** The authentication scheme a challenge is issued for. */
export type AuthScheme = 'Bearer' | 'DPoP';

/**
 * Why a request was refused, with the HTTP answer already worked out.
 *
 * @example
 * try {
 *   const token = await verifier.verifyRequest(req);
 * } catch (err) {
 *   if (err instanceof VerifierError) {
 *     return new Response(JSON.stringify({ error: err.error, error_description: err.message }), {
 *       status: err.status,
 *       headers: { 'www-authenticate': err.wwwAuthenticate },
 *     });
 *   }
 *   throw err; // a BrokerError: answer 503
 * }
 */
export class VerifierError extends Error {
  override readonly name = 'VerifierError';
  readonly status: 400 | 401 | 403;
  /** The value for the response's WWW-Authenticate header. */
  readonly wwwAuthenticate: string;

  constructor(
    readonly code: VerifierErrorCode,
    readonly error: VerifierErrorKind,
    description: string,
    options: {
      status?: 400 | 401 | 403;
      scheme?: AuthScheme;
      /** RFC 6750 §3: the scopes the resource needs, for insufficient_scope. */
      scope?: string;
      cause?: unknown;
    } = {},
  ) {
    super(description, { cause: options.cause });
    this.status = options.status ?? statusOf(error);
    this.wwwAuthenticate = challenge(options.scheme ?? 'Bearer', {
      // RFC 6750 §3.1: a request without credentials gets a challenge without an error.
      ...(code === 'ERR_NO_TOKEN' ? {} : { error, error_description: description }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
    });
  }
}

function statusOf(error: VerifierErrorKind): 400 | 401 | 403 {
  if (error === 'insufficient_scope') return 403;
  if (error === 'invalid_request') return 400;
  return 401;
}

/**
 * The algorithms this verifier accepts in DPoP proofs, announced in every DPoP
 * challenge (RFC 9449 §7.1) so a client knows what to sign with.
 */
export { DPOP_ALGS };

/** One auth-param challenge; quotes and backslashes escaped (RFC 9110 §11.2 quoted-string). */
export function challenge(scheme: AuthScheme, params: Record<string, string>): string {
  const all = scheme === 'DPoP' ? { ...params, algs: DPOP_ALGS.join(' ') } : params;
  const parts = Object.entries(all).map(([k, v]) => `${k}="${quoted(v)}"`);
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}

function quoted(value: string): string {
  // Control characters cannot appear in a header value at all.
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/(["\\])/g, '\\$1');
}
