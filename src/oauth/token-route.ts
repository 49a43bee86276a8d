/**
 * POST token_endpoint. For now it authenticates the client and refuses every
 * grant type, truthfully: metadata advertises none yet. Grants arrive with the
 * delegation and task-token capabilities.
 */
import { Hono } from 'hono';
import type { ClientAuthenticator } from './client-auth.ts';
import { clientAuthInput } from './client-auth-input.ts';
import { OAuthError } from './errors.ts';
import { readForm } from './form.ts';

export function tokenRoutes(auth: ClientAuthenticator, endpoint: string): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const form = await readForm(c, ['resource']);
    await auth.authenticate(clientAuthInput(c, form), endpoint);
    const grantType = form.get('grant_type');
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
  });
  return app;
}
