/** Pulls the client-authentication parameters out of a request. */
import type { Context } from 'hono';
import type { ClientAuthInput } from './client-auth.ts';
import type { OAuthForm } from './form.ts';

export function clientAuthInput(c: Context, form: OAuthForm): ClientAuthInput {
  return {
    clientId: form.get('client_id'),
    clientAssertionType: form.get('client_assertion_type'),
    clientAssertion: form.get('client_assertion'),
    clientSecret: form.get('client_secret'),
    authorizationHeader: c.req.header('authorization'),
  };
}
