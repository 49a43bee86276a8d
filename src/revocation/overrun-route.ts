/** POST mandate_overrun_endpoint: API authentication, then reportOverrun. */
import type { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import { authenticatedFormEndpoint } from '../oauth/authenticated-form.ts';
import type { ClientAuthenticator } from '../oauth/client-auth.ts';
import { OAuthError } from '../oauth/errors.ts';
import { scopeNameSchema } from '../registry/validate.ts';
import { reportOverrun } from './overrun.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { tenantDb } from '../db/tenancy.ts';

const MAX_TEXT = 2048;
const CONTROL = /\p{Cc}/u;

export function overrunEndpoint(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  auth: ClientAuthenticator,
  endpoint: string,
  policy: PolicyEngine | undefined,
): Hono {
  return authenticatedFormEndpoint(auth, endpoint, async (form, caller, c) => {
    const token = form.get('token');
    const jti = form.get('jti');
    if ((token === undefined) === (jti === undefined)) {
      throw new OAuthError('invalid_request', 'give exactly one of token and jti');
    }
    const attemptedScopes = scopes(form.get('attempted_scope'));
    const attemptedAction = text(form.get('attempted_action'), 'attempted_action');
    if (attemptedScopes.length === 0 && attemptedAction === undefined) {
      throw new OAuthError('invalid_request', 'attempted_scope or attempted_action is required');
    }
    const outcome = await reportOverrun(tenantDb(deps.database.db, caller.tenantId), deps.keys, {
      caller,
      token,
      jti: text(jti, 'jti'),
      attemptedScopes,
      attemptedAction,
      method: text(form.get('method'), 'method'),
      path: text(form.get('path'), 'path'),
      now: deps.clock.now(),
      issuer: deps.config.publicUrl,
      maxTokenTtl: deps.config.accessTokenMaxTtl,
      defaultThreshold: deps.config.overrunThreshold,
      policy,
    });
    return c.json(outcome, 200, { 'cache-control': 'no-store' });
  });
}

function scopes(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const names = raw.split(' ').filter((s) => s.length > 0);
  for (const name of names) {
    if (!scopeNameSchema.safeParse(name).success) {
      throw new OAuthError(
        'invalid_request',
        `attempted_scope ${JSON.stringify(name.slice(0, 64))} is not a scope token`,
      );
    }
  }
  return [...new Set(names)];
}

function text(value: string | undefined, name: string): string | undefined {
  if (value !== undefined && value.length > MAX_TEXT) {
    throw new OAuthError('invalid_request', `${name} is longer than ${MAX_TEXT} characters`);
  }
  // PostgreSQL's text cannot hold U+0000 (the insert would fail as a 500), and no jti,
  // method, path or action description needs a control character.
  if (value !== undefined && CONTROL.test(value)) {
    throw new OAuthError('invalid_request', `${name} must not contain control characters`);
  }
  return value;
}
