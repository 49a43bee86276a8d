/**
 * The passkey endpoints the pages' script calls (same-origin JSON), and sign-out.
 * Thin: ceremonies live in registration.ts and sign-in.ts. Every refusal is a 400
 * `invalid_request` saying what went wrong; nothing is written unless all of a
 * ceremony succeeds.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import { OAuthError } from '../oauth/errors.ts';
import { PasskeyError } from './errors.ts';
import {
  addPasskeyOptions,
  completeRegistration,
  inviteRegistrationOptions,
  type RegistrationDeps,
} from './registration.ts';
import {
  endSession,
  loadSession,
  refuseCrossSite,
  requireCsrf,
  startSession,
  type SessionEnv,
} from './session.ts';
import { completeSignIn, signInOptions } from './sign-in.ts';
import { inTenant } from '../db/tenancy.ts';

/** A WebAuthn response as @simplewebauthn/browser sends it; the library checks the rest. */
const credential = z.looseObject({
  id: z.string().max(1024),
  rawId: z.string().max(1024),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: z.string().max(8192) }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

async function body<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  // JSON only: a cross-site form can POST a JSON-looking text/plain body without a CORS
  // preflight, and the anonymous ceremonies below start sessions (login CSRF).
  if (!/^application\/json(\s*;|$)/i.test(c.req.header('content-type') ?? '')) {
    throw new OAuthError('invalid_request', 'body must be application/json');
  }
  const value: unknown = await c.req.json().catch(() => undefined);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new OAuthError('invalid_request', 'malformed passkey request');
  return parsed.data;
}

function refuse(err: unknown): never {
  if (err instanceof PasskeyError) {
    throw new OAuthError('invalid_request', err.message, 400, { cause: err });
  }
  throw err;
}

const noStore = { 'cache-control': 'no-store' };

export function passkeyRoutes(deps: Deps): Hono<SessionEnv> {
  const { config, clock } = deps;
  const db = deps.database.db;
  const ceremony: RegistrationDeps = { db, config, clock };
  const sessionDeps = { db, config, clock };
  const session = loadSession(sessionDeps);
  const csrf = requireCsrf(config);
  const app = new Hono<SessionEnv>();
  // The anonymous ceremonies have no session to carry a CSRF token; they start one, so a
  // cross-site page must not be able to drive them (login CSRF).
  const sameOrigin: MiddlewareHandler = async (c, next) => {
    refuseCrossSite(c, config.publicUrl);
    await next();
  };

  app.post('/passkeys/register/options', sameOrigin, async (c) => {
    const { invite } = await body(c, z.object({ invite: z.string().max(128) }));
    return c.json(await inviteRegistrationOptions(ceremony, invite).catch(refuse), 200, noStore);
  });

  app.post('/passkeys/register/verify', sameOrigin, async (c) => {
    const { invite, response } = await body(
      c,
      z.object({ invite: z.string().max(128), response: credential }),
    );
    await db
      .transaction(async (tx) => {
        const who = await completeRegistration(
          tx,
          ceremony,
          response as unknown as RegistrationResponseJSON,
          { invite },
        );
        await startSession(c, { ...sessionDeps, db: tx }, who);
      })
      .catch(refuse);
    return c.json({ ok: true, redirect: '/' }, 200, noStore);
  });

  app.post('/passkeys/signin/options', sameOrigin, async (c) => {
    await body(c, z.object({}));
    return c.json(await signInOptions(ceremony), 200, noStore);
  });

  app.post('/passkeys/signin/verify', sameOrigin, async (c) => {
    const { response } = await body(c, z.object({ response: credential }));
    await db
      .transaction(async (tx) => {
        const who = await completeSignIn(
          tx,
          ceremony,
          response as unknown as AuthenticationResponseJSON,
        );
        await startSession(c, { ...sessionDeps, db: tx }, who);
      })
      .catch(refuse);
    return c.json({ ok: true, redirect: '/' }, 200, noStore);
  });

  app.post('/passkeys/add/options', session, csrf, async (c) => {
    const who = c.get('session');
    if (!who) throw new OAuthError('login_required', 'sign in first', 401);
    return c.json(await addPasskeyOptions(ceremony, who).catch(refuse), 200, noStore);
  });

  app.post('/passkeys/add/verify', session, csrf, async (c) => {
    const who = c.get('session');
    if (!who) throw new OAuthError('login_required', 'sign in first', 401);
    const { response } = await body(c, z.object({ response: credential }));
    await inTenant(db, who.tenantId, (tx) =>
      completeRegistration(tx, ceremony, response as unknown as RegistrationResponseJSON, {
        person: who,
      }),
    ).catch(refuse);
    return c.json({ ok: true, redirect: '/' }, 200, noStore);
  });

  app.post('/signout', session, csrf, async (c) => {
    await endSession(c, sessionDeps);
    return c.redirect('/', 303);
  });

  return app;
}
