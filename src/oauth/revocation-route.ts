/** POST revocation_endpoint (RFC 7009 §2): agent authentication, then revokeToken. */
import { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import type { ClientAuthenticator } from './client-auth.ts';
import { clientAuthInput } from './client-auth-input.ts';
import { OAuthError } from './errors.ts';
import { readForm } from './form.ts';
import { revokeToken } from './revocation.ts';

export function revocationEndpoint(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  auth: ClientAuthenticator,
  endpoint: string,
): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const form = await readForm(c);
    const caller = await auth.authenticate(clientAuthInput(c, form), endpoint);
    const token = form.get('token');
    if (token === undefined) throw new OAuthError('invalid_request', 'token is required');
    await revokeToken(deps.database.db, deps.keys, {
      caller,
      token,
      tokenTypeHint: form.get('token_type_hint'),
      now: deps.clock.now(),
      issuer: deps.config.publicUrl,
    });
    // RFC 7009 §2.2: 200 whether or not anything was revoked; the body is ignored by clients.
    return c.body(null, 200, { 'cache-control': 'no-store', pragma: 'no-cache' });
  });
  return app;
}
