/**
 * The shape every client-authenticated form endpoint shares (introspection,
 * revocation, overrun reports): read the form (RFC 6749 §3.2 rules), authenticate
 * the caller with private_key_jwt against this endpoint's URL, then run the action.
 */
import { Hono, type Context } from 'hono';
import type { AuthenticatedClient, ClientAuthenticator } from './client-auth.ts';
import { clientAuthInput } from './client-auth-input.ts';
import { readForm, type OAuthForm } from './form.ts';

export type FormAction = (
  form: OAuthForm,
  caller: AuthenticatedClient,
  c: Context,
) => Promise<Response>;

export function authenticatedFormEndpoint(
  auth: ClientAuthenticator,
  endpoint: string,
  action: FormAction,
): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const form = await readForm(c);
    const caller = await auth.authenticate(clientAuthInput(c, form), endpoint);
    return action(form, caller, c);
  });
  return app;
}
