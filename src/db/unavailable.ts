/**
 * Whether a failure means the database was out of reach — refused or dropped the
 * connection, or is shutting down — rather than that the request or the code was
 * wrong. Such failures are answered 503 `temporarily_unavailable` with Retry-After
 * (oauth/respond.ts): the broker itself is fine and the same request may succeed
 * in a moment, once the driver has reconnected.
 *
 * Recognised, anywhere in the `cause` chain (drizzle wraps driver errors in a
 * DrizzleQueryError):
 * - postgres.js connection errors (`CONNECTION_CLOSED`, `CONNECT_TIMEOUT`, …) and the
 *   socket errors of a server that is down or restarting (`ECONNREFUSED`, …);
 * - a PostgreSQL error of severity FATAL or PANIC: the server ended the session
 *   (`pg_terminate_backend`, a database not accepting connections, too many
 *   connections, a shutdown);
 * - SQLSTATE class 08 (connection exception) and 57P01–57P03 (operator intervention:
 *   admin or crash shutdown, cannot connect now), whatever the severity;
 * - PGlite used while or after it is closed (`PGlite is closing`, `PGlite is closed`).
 */

const CONNECTION_CODES = new Set([
  // postgres.js
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  // Node sockets
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** How deep to follow `cause`; real chains are one or two links long. */
const MAX_DEPTH = 8;

export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_DEPTH && current instanceof Error; depth++) {
    const { code, severity } = current as Error & { code?: unknown; severity?: unknown };
    if (typeof code === 'string') {
      if (CONNECTION_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
        return true;
      }
    }
    if (severity === 'FATAL' || severity === 'PANIC') return true;
    if (current.message === 'PGlite is closed' || current.message === 'PGlite is closing') {
      return true;
    }
    current = current.cause;
  }
  return false;
}
