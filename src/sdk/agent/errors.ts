/**
 * The agent SDK's one error class. Callers narrow on `code` (stable strings, as
 * jose does) and, for a refusal by the broker, on the OAuth `error` it sent
 * (RFC 6749 §5.2, OpenID CIBA §11, RFC 8693 §2.2.2).
 */
import { ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';

export type AgentErrorCode =
  /** The broker answered with an OAuth error; see `error` and `errorDescription`. */
  | 'ERR_AGENT_OAUTH'
  /** Waiting was aborted by the caller's signal, or the request's own expiry passed. */
  | 'ERR_AGENT_ABORTED'
  /** An option given to the SDK cannot work (e.g. plain http to a non-loopback issuer). */
  | 'ERR_AGENT_OPTION'
  /** A key file is missing, malformed, or readable by others. */
  | 'ERR_AGENT_KEY'
  /** The broker's answer was not what the protocol promises, or the request failed in transit. */
  | 'ERR_AGENT_RESPONSE';

export class MandateAgentError extends Error {
  override readonly name = 'MandateAgentError';
  readonly code: AgentErrorCode;
  /** The OAuth error code, for ERR_AGENT_OAUTH (e.g. `access_denied`, `invalid_scope`). */
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  /** The HTTP status of the broker's answer, when there was one. */
  readonly status: number | undefined;

  constructor(
    code: AgentErrorCode,
    message: string,
    options: { cause?: unknown; error?: string; errorDescription?: string; status?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.error = options.error;
    this.errorDescription = options.errorDescription;
    this.status = options.status;
  }
}

/**
 * openid-client's errors, translated. OAuth refusals keep their `error`; an aborted
 * or timed-out wait becomes ERR_AGENT_ABORTED; anything else is ERR_AGENT_RESPONSE
 * with the original as `cause` (never swallowed).
 */
export function toAgentError(err: unknown, doing: string): MandateAgentError {
  if (err instanceof MandateAgentError) return err;
  if (err instanceof ResponseBodyError) {
    const description = err.error_description ?? undefined;
    return new MandateAgentError(
      'ERR_AGENT_OAUTH',
      `${doing}: the broker answered ${err.status} ${err.error}${description ? `: ${description}` : ''}`,
      { cause: err, error: err.error, errorDescription: description, status: err.status },
    );
  }
  if (err instanceof WWWAuthenticateChallengeError) {
    // A 401 from the token endpoint carries its error in WWW-Authenticate (RFC 6750 §3).
    const challenge = err.cause[0];
    const error = challenge?.parameters.error ?? 'invalid_client';
    const description = challenge?.parameters.error_description;
    return new MandateAgentError(
      'ERR_AGENT_OAUTH',
      `${doing}: the broker answered ${err.status} ${error}${description ? `: ${description}` : ''}`,
      { cause: err, error, errorDescription: description, status: err.status },
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  if (
    code === 'OAUTH_ABORT' ||
    code === 'OAUTH_TIMEOUT' ||
    name === 'AbortError' ||
    name === 'TimeoutError'
  ) {
    return new MandateAgentError('ERR_AGENT_ABORTED', `${doing}: stopped waiting`, { cause: err });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new MandateAgentError('ERR_AGENT_RESPONSE', `${doing}: ${detail}`, { cause: err });
}
