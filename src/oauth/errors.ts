/**
 * OAuth errors (RFC 6749 §5.2) with a stable code; one mapper turns them into
 * responses. Anything that is not an OAuthError becomes an opaque server_error.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unsupported_token_type'
  | 'access_denied'
  // OpenID CIBA §11 and §13
  | 'unknown_user_id'
  | 'invalid_binding_message'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  // RFC 9449 §7.1 and §8
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  // RFC 9396 §5
  | 'invalid_authorization_details'
  // a person's page request without a session
  | 'login_required'
  | 'not_found'
  | 'method_not_allowed'
  | 'server_error'
  // HTTP 429 (RFC 6585 §4): a rate limit refused the request (src/ratelimit/guard.ts)
  | 'rate_limited'
  // RFC 6749 §4.1.2.1: the server cannot handle the request for now (here: its database)
  | 'temporarily_unavailable';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 500 | 503 = 400,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(`${error}: ${description}`, options);
    this.headers = options?.headers ?? {};
  }
  readonly headers: Record<string, string>;
}

/** RFC 6749 §5.2: client authentication failed. Deliberately says nothing more. */
export const invalidClient = (cause?: unknown): OAuthError =>
  new OAuthError('invalid_client', 'client authentication failed', 401, { cause });
