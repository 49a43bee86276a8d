/**
 * The one place errors become HTTP responses. OAuth errors show their code and
 * description; a database out of reach is 503 `temporarily_unavailable` with
 * Retry-After (the client should simply try again); anything else is logged and
 * answered as an opaque server_error (node-oidc-provider's rule: details only
 * below 500).
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { OAuthError } from './errors.ts';

/** Seconds a client is asked to wait after a database outage answer; reconnecting takes less. */
export const UNAVAILABLE_RETRY_AFTER = 1;

export function errorResponse(err: unknown, c: Context, log: (m: string) => void): Response {
  if (err instanceof OAuthError) {
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...err.headers };
    return c.json({ error: err.error, error_description: err.description }, err.status, headers);
  }
  if (err instanceof HTTPException && err.status < 500) {
    const status = err.status;
    // Hono's own 4xx (e.g. a malformed body it parsed for us): still an OAuth-shaped answer.
    const description = err.message || 'bad request';
    return c.json({ error: 'invalid_request', error_description: description }, status, {
      'cache-control': 'no-store',
    });
  }
  if (isDatabaseUnavailable(err)) {
    // Expected while PostgreSQL restarts or drops connections: one line, no stack.
    log(`database unavailable on ${c.req.method} ${c.req.path}: ${describe(err)}`);
    return errorResponse(
      new OAuthError(
        'temporarily_unavailable',
        'the service is temporarily unavailable; retry shortly',
        503,
        { headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER) } },
      ),
      c,
      log,
    );
  }
  log(
    `unhandled error on ${c.req.method} ${c.req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  return c.json(
    { error: 'server_error', error_description: 'the server could not complete the request' },
    500,
    { 'cache-control': 'no-store' },
  );
}

/** The innermost cause's message: drizzle's wrapper repeats the whole query text. */
function describe(err: unknown): string {
  let current = err;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
