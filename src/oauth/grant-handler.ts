/** A grant type at the token endpoint: given the form and the authenticated client, a token response. */
import type { AuthenticatedClient } from './client-auth.ts';
import type { DpopProof } from './dpop.ts';
import type { OAuthForm } from './form.ts';

export type GrantHandler = (
  form: OAuthForm,
  client: AuthenticatedClient,
  /** The request's verified DPoP proof (RFC 9449), when it carried one. */
  dpop?: DpopProof,
) => Promise<Record<string, unknown>>;
