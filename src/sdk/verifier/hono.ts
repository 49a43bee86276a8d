/**
 * Hono middleware: `mandateAuth` verifies the request's token and puts it on the
 * context; `requireScope` refuses a token without the route's scopes (RFC 6750
 * §3.1 insufficient_scope) and reports the overrun to the broker, which revokes
 * the token everywhere, and by policy its whole grant.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { internalsOf } from './create-verifier.ts';
import { VerifierError } from './errors.ts';
import type { Verifier, VerifiedToken } from './types.ts';

/** The context variables the middleware sets: `c.var.mandate`. */
export interface MandateEnv {
  Variables: {
    mandate: VerifiedToken;
    mandateVerifier: Verifier;
  };
}

/** RFC 6749 §3.3 scope-token: printable ASCII without space, quote or backslash. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const FALLBACK_TIMEOUT_MS = 2000;

/** The RFC 6750 / RFC 9449 answer to a refused request. */
export function errorResponse(c: Context, err: VerifierError): Response {
  return c.json({ error: err.error, error_description: err.message }, err.status, {
    'www-authenticate': err.wwwAuthenticate,
    'cache-control': 'no-store',
  });
}

/**
 * Verifies the request's access token; on success `c.var.mandate` holds it. Refused
 * requests get 400, 401 or 403 with WWW-Authenticate; a broker failure propagates to
 * the app's error handler.
 *
 * @example
 * const app = new Hono<MandateEnv>();
 * app.use('/api/*', mandateAuth(verifier));
 * app.get('/api/me', (c) => c.json({ person: c.var.mandate.claims.sub }));
 */
export function mandateAuth(verifier: Verifier): MiddlewareHandler<MandateEnv> {
  if (!verifier || typeof verifier.verifyRequest !== 'function') {
    throw new TypeError('mandateAuth needs a verifier from createVerifier()');
  }
  return createMiddleware<MandateEnv>(async (c, next) => {
    let token: VerifiedToken;
    try {
      token = await verifier.verifyRequest({
        method: c.req.method,
        url: c.req.url,
        headers: c.req.raw.headers,
      });
    } catch (err) {
      if (err instanceof VerifierError) return errorResponse(c, err);
      throw err;
    }
    c.set('mandate', token);
    c.set('mandateVerifier', verifier);
    await next();
    return undefined;
  });
}

/**
 * Lets the request through only if its token carries every one of `scopes`.
 * Otherwise answers 403 insufficient_scope and reports the overrun (the missing
 * scopes, method and path) to the broker, waiting for it at most the verifier's
 * `overrunTimeout`; the verifier drops the token at once either way.
 *
 * @example
 * app.post('/api/repos/:id/tags', requireScope('repo:write'), (c) => c.text('tagged'));
 */
export function requireScope(...scopes: string[]): MiddlewareHandler<MandateEnv> {
  if (scopes.length === 0) throw new TypeError('requireScope needs at least one scope');
  for (const s of scopes) {
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) {
      throw new TypeError(`requireScope: ${JSON.stringify(s)} is not a scope token`);
    }
  }
  const required = [...new Set(scopes)];
  return createMiddleware<MandateEnv>(async (c, next) => {
    const token = c.get('mandate') as VerifiedToken | undefined;
    const verifier = c.get('mandateVerifier') as Verifier | undefined;
    if (!token || !verifier) {
      throw new Error('requireScope runs after mandateAuth: no verified token on the context');
    }
    const missing = required.filter((s) => !token.scopes.includes(s));
    if (missing.length === 0) {
      await next();
      return undefined;
    }
    await reportWithin(verifier, token, missing, c);
    return errorResponse(
      c,
      new VerifierError(
        'ERR_INSUFFICIENT_SCOPE',
        'insufficient_scope',
        `this request needs the scope ${missing.join(' ')}, which the token does not carry`,
        { scheme: token.scheme, scope: required.join(' ') },
      ),
    );
  });
}

/** Sends the report and waits a bounded time; failures go to the verifier's onError. */
async function reportWithin(
  verifier: Verifier,
  token: VerifiedToken,
  missing: string[],
  c: Context,
): Promise<void> {
  const { overrunTimeout, onError } = internalsOf(verifier) ?? {
    overrunTimeout: FALLBACK_TIMEOUT_MS,
    onError: (e: unknown) => console.warn('[mandate/verifier]', e),
  };
  const report = verifier
    .reportOverrun({ token, attemptedScope: missing, method: c.req.method, path: c.req.path })
    .then(() => undefined, onError);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, overrunTimeout);
  });
  await Promise.race([report, timeout]);
  clearTimeout(timer);
}
