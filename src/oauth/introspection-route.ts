/** POST introspection_endpoint (RFC 7662 §2): API authentication, then introspectToken. */
import type { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import { authenticatedFormEndpoint } from './authenticated-form.ts';
import type { ClientAuthenticator } from './client-auth.ts';
import { OAuthError } from './errors.ts';
import { introspectToken } from './introspection.ts';
import { tenantDb } from '../db/tenancy.ts';

export function introspectionEndpoint(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  auth: ClientAuthenticator,
  endpoint: string,
): Hono {
  return authenticatedFormEndpoint(auth, endpoint, async (form, caller, c) => {
    const token = form.get('token');
    if (token === undefined) throw new OAuthError('invalid_request', 'token is required');
    // token_type_hint is only a hint (RFC 7662 §2.1); we have one kind an API may ask about.
    const answer = await introspectToken(tenantDb(deps.database.db, caller.tenantId), deps.keys, {
      caller,
      token,
      now: deps.clock.now(),
      issuer: deps.config.publicUrl,
    });
    // The answer describes a live credential: never cached (RFC 7662 §4).
    return c.json(answer, 200, { 'cache-control': 'no-store', pragma: 'no-cache' });
  });
}
