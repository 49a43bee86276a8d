/**
 * The operator endpoint: `POST /v1/commands` with `{ command, args }`, answered
 * with the command's JSON result. It exists so that the CLI can reach a running
 * broker whose embedded PGlite no other process may open. It is never mounted on
 * the public listener: the Node entry serves it on its own loopback port, behind
 * a bearer token that only the data dir's owner can read.
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { RegistryError, type RegistryErrorCode } from '../registry/errors.ts';
import { runCommand, type OperatorContext } from './commands.ts';

/** Large enough for a 200-scope catalogue plus a 20-key JWK Set. */
const MAX_BODY_BYTES = 1024 * 1024;

const STATUS: Record<RegistryErrorCode, ContentfulStatusCode> = {
  ERR_INVALID: 400,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
};

export interface OperatorError {
  error: RegistryErrorCode | 'ERR_UNAUTHORIZED' | 'ERR_INTERNAL';
  message: string;
}

const fail = (c: Context, status: ContentfulStatusCode, body: OperatorError) =>
  c.json(body, status, { 'cache-control': 'no-store' });

export function operatorRoutes(
  ctx: OperatorContext,
  token: string,
  log: (message: string) => void,
): Hono {
  const expected = new TextEncoder().encode(`Bearer ${token}`);
  const authorised = (header: string | undefined): boolean => {
    const given = new TextEncoder().encode(header ?? '');
    // timingSafeEqual needs equal lengths; the length itself is public (the token's is fixed).
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const app = new Hono();
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        fail(c, 413, { error: 'ERR_INVALID', message: 'request body larger than 1 MiB' }),
    }),
  );
  app.post('/v1/commands', async (c) => {
    if (!authorised(c.req.header('authorization'))) {
      return fail(c, 401, {
        error: 'ERR_UNAUTHORIZED',
        message: 'operator token missing or wrong',
      });
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return fail(c, 400, { error: 'ERR_INVALID', message: 'body must be JSON' });
    }
    const { command, args } = (body ?? {}) as { command?: unknown; args?: unknown };
    if (typeof command !== 'string') {
      return fail(c, 400, { error: 'ERR_INVALID', message: 'body needs a "command" string' });
    }
    return c.json(await runCommand(ctx, command, args), 200, { 'cache-control': 'no-store' });
  });
  app.notFound((c) => fail(c, 404, { error: 'ERR_NOT_FOUND', message: 'no such endpoint' }));
  app.onError((err, c) => {
    if (err instanceof RegistryError) {
      return fail(c, STATUS[err.code], { error: err.code, message: err.message });
    }
    log(`operator command failed: ${err.stack ?? String(err)}`);
    return fail(c, 500, { error: 'ERR_INTERNAL', message: 'the broker failed; see its log' });
  });
  return app;
}
