/**
 * The broker's or the network's failures: the request could not be judged (keys,
 * discovery, a status list out of reach) or the broker refused what the verifier
 * asked of it. An API answers these with a 5xx of its own, never with a 401.
 */

/** Stable codes of BrokerError. */
export type BrokerErrorCode =
  | 'ERR_DISCOVERY'
  | 'ERR_BROKER_UNAVAILABLE'
  | 'ERR_BROKER_REFUSED'
  | 'ERR_NO_CLIENT'
  | 'ERR_CLOSED';

/**
 * The broker could not be asked, or refused what the verifier asked of it
 * (discovery, keys, a status list, an overrun report, the event stream).
 *
 * @example
 * try {
 *   await verifier.reportOverrun({ token, attemptedScope: ['repo:admin'] });
 * } catch (err) {
 *   if (err instanceof BrokerError && err.oauthError === 'access_denied') {
 *     // the token was not issued for this API: nothing was revoked
 *   }
 * }
 */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    readonly details: {
      /** The broker's HTTP status, when it answered. */
      status?: number;
      /** The broker's OAuth `error`, when it sent one. */
      oauthError?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: details.cause });
  }
  get status(): number | undefined {
    return this.details.status;
  }
  get oauthError(): string | undefined {
    return this.details.oauthError;
  }
}

/** A broker error from a non-success response, with its OAuth error if the body has one. */
export async function refused(what: string, res: Response): Promise<BrokerError> {
  // Not JSON: the status alone says it.
  const body = (await res.json().catch(() => ({}))) as {
    error?: unknown;
    error_description?: unknown;
  };
  const oauthError = typeof body.error === 'string' ? body.error : undefined;
  const description =
    typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
  return new BrokerError(
    'ERR_BROKER_REFUSED',
    `${what} answered ${res.status}${oauthError ? ` ${oauthError}` : ''}${description}`,
    { status: res.status, ...(oauthError === undefined ? {} : { oauthError }) },
  );
}
