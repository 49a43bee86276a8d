/**
 * A sub-agent trades its parent's access token for an attenuated one (RFC 8693): it
 * authenticates as itself (private_key_jwt), sends the parent token as `subject_token`
 * and its own signed `actor_token`, and gets a token with the same person, API and task,
 * a scope no wider and a life no longer than the parent's, and `act` nested with the
 * sub-agent outermost. Revoking the parent (or its grant) revokes the child.
 */
import * as oidc from 'openid-client';
import { signActorToken } from './actor-token.ts';
import type { AgentContext } from './connect.ts';
import { toAgentError } from './errors.ts';
import { list } from './grant.ts';
import { VC_TOKEN_TYPE } from './task-token.ts';
import { toAccessToken, type AccessToken } from './token-response.ts';

export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export interface ExchangeRequest {
  /** A narrower scope than the parent's (default: the parent's). */
  scope?: string | string[];
  /** The parent's audience, if you want the broker to check it; it never changes. */
  resource?: string;
  /** `vc` asks for the verifiable-credential form. */
  format?: 'jwt' | 'vc';
}

export async function exchangeToken(
  ctx: AgentContext,
  parent: AccessToken | string,
  req: ExchangeRequest = {},
): Promise<AccessToken> {
  const params = new URLSearchParams({
    subject_token: typeof parent === 'string' ? parent : parent.token,
    subject_token_type: ACCESS_TOKEN_TYPE,
    actor_token: await signActorToken(ctx.key, ctx.clientId, ctx.issuer),
    actor_token_type: JWT_TOKEN_TYPE,
  });
  if (req.scope !== undefined) params.set('scope', list(req.scope).join(' '));
  if (req.resource !== undefined) params.set('resource', req.resource);
  if (req.format === 'vc') params.set('requested_token_type', VC_TOKEN_TYPE);
  try {
    const res = await oidc.genericGrantRequest(
      ctx.config,
      TOKEN_EXCHANGE_GRANT_TYPE,
      params,
      // The broker decides whether to bind the child; a proof lets it.
      ctx.dpop ? { DPoP: ctx.dpop.handle } : undefined,
    );
    return toAccessToken(res);
  } catch (err) {
    throw toAgentError(err, 'exchanging a token for a sub-agent');
  }
}
