/**
 * Giving authority back (RFC 7009): an access token, or the grant handle, which ends
 * the grant and every token minted or exchanged under it.
 */
import * as oidc from 'openid-client';
import type { AgentContext } from './connect.ts';
import { toAgentError } from './errors.ts';
import type { Grant } from './grant.ts';
import type { AccessToken } from './token-response.ts';

export async function revokeToken(ctx: AgentContext, token: AccessToken | string): Promise<void> {
  try {
    await oidc.tokenRevocation(ctx.config, typeof token === 'string' ? token : token.token, {
      token_type_hint: 'access_token',
    });
  } catch (err) {
    throw toAgentError(err, 'revoking a token');
  }
}

export async function revokeGrant(ctx: AgentContext, grant: Grant | string): Promise<void> {
  try {
    await oidc.tokenRevocation(ctx.config, typeof grant === 'string' ? grant : grant.handle, {
      token_type_hint: 'refresh_token',
    });
  } catch (err) {
    throw toAgentError(err, 'revoking a grant');
  }
}
