/** POST revocation_endpoint (RFC 7009 §2): agent authentication, then revokeToken. */
import type { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import { authenticatedFormEndpoint } from './authenticated-form.ts';
import type { ClientAuthenticator } from './client-auth.ts';
import { OAuthError } from './errors.ts';
import { revokeToken } from './revocation.ts';
import { tenantDb } from '../db/tenancy.ts';

export function revocationEndpoint(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  auth: ClientAuthenticator,
  endpoint: string,
): Hono {
  return authenticatedFormEndpoint(auth, endpoint, async (form, caller, c) => {
    const token = form.get('token');
    if (token === undefined) throw new OAuthError('invalid_request', 'token is required');
    await revokeToken(tenantDb(deps.database.db, caller.tenantId), deps.keys, {
      caller,
      token,
      tokenTypeHint: form.get('token_type_hint'),
      now: deps.clock.now(),
      issuer: deps.config.publicUrl,
    });
    // RFC 7009 §2.2: 200 whether or not anything was revoked; the body is ignored by clients.
    return c.body(null, 200, { 'cache-control': 'no-store', pragma: 'no-cache' });
  });
}
