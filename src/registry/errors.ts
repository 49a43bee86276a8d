/**
 * Registry errors carry a stable code that callers narrow on (panva/jose style);
 * the operator endpoint maps them to 400 / 404 / 409.
 */
export type RegistryErrorCode = 'ERR_INVALID' | 'ERR_NOT_FOUND' | 'ERR_CONFLICT';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** PostgreSQL's unique_violation (SQLSTATE 23505). */
const UNIQUE_VIOLATION = '23505';

/**
 * The name of the unique constraint a failed write hit, or undefined if it failed
 * for another reason. Drizzle wraps driver errors, so we walk the cause chain;
 * postgres.js calls the field `constraint_name`, PGlite `constraint`.
 */
export function violatedUniqueConstraint(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const fields = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown };
    if (fields.code === UNIQUE_VIOLATION) {
      const name = fields.constraint_name ?? fields.constraint;
      return typeof name === 'string' ? name : '';
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Turns a unique violation on one of `constraints` into ERR_CONFLICT; rethrows
 * anything else untouched. Checking beforehand would still race a concurrent
 * writer, so the database's constraint is the authority.
 */
export function conflictOn(err: unknown, constraints: Record<string, string>): never {
  const hit = violatedUniqueConstraint(err);
  if (hit !== undefined && hit in constraints) {
    throw new RegistryError('ERR_CONFLICT', constraints[hit] ?? 'already exists', { cause: err });
  }
  throw err;
}
