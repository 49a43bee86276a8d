/** Audit errors carry a stable code that callers narrow on (STYLE.md §4). */
export type AuditErrorCode =
  /** An entry that cannot be recorded faithfully (bad field, lone surrogate, non-finite number). */
  | 'ERR_AUDIT_INVALID'
  /** The ledger cannot be checkpointed (e.g. no signing key). */
  | 'ERR_AUDIT_CHECKPOINT';

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
