/** Policy errors carry a stable code that callers narrow on (panva/jose style). */
export type PolicyErrorCode =
  /** The bundle does not parse, does not validate against the schema, or breaks the annotation rules. */
  | 'ERR_BUNDLE_INVALID'
  /** No such bundle version for the tenant (or no shipped default with that digest). */
  | 'ERR_BUNDLE_NOT_FOUND'
  /** Concurrent pushes kept taking the next version number. */
  | 'ERR_BUNDLE_CONFLICT'
  /** A stored bundle's text no longer hashes to its recorded digest. */
  | 'ERR_BUNDLE_DIGEST'
  /** A decision request (or recorded inputs) is not well formed. */
  | 'ERR_REQUEST_INVALID'
  /** Cedar could not evaluate the request at all. */
  | 'ERR_CEDAR';

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
