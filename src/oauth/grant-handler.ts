/** A grant type at the token endpoint: given the form and the authenticated client, a token response. */
import type { AuthenticatedClient } from './client-auth.ts';
import type { OAuthForm } from './form.ts';

export type GrantHandler = (
  form: OAuthForm,
  client: AuthenticatedClient,
) => Promise<Record<string, unknown>>;
