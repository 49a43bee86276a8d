/** POST introspection_endpoint (RFC 7662 §2): API authentication, then introspectToken. */
import { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import type { ClientAuthenticator } from './client-auth.ts';
import { clientAuthInput } from './client-auth-input.ts';
import { OAuthError } from './errors.ts';
import { readForm } from './form.ts';
import { introspectToken } from './introspection.ts';

export function introspectionEndpoint(
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
    // token_type_hint is only a hint (RFC 7662 §2.1); we have one kind an API may ask about.
    const answer = await introspectToken(deps.database.db, deps.keys, {
      caller,
      token,
      now: deps.clock.now(),
      issuer: deps.config.publicUrl,
    });
    // The answer describes a live credential: never cached (RFC 7662 §4).
    return c.json(answer, 200, { 'cache-control': 'no-store', pragma: 'no-cache' });
  });
  return app;
}
