/**
 * The per-task mint of the verifiable-credential form. The broker answers it with
 * `token_type: N_A` (RFC 8693 §2.2.1: the issued token is not an access token), which
 * openid-client's refreshTokenGrant refuses as an unknown token type. oauth4webapi —
 * the library openid-client is built on, sharing its client authentication and DPoP
 * handle — accepts it when told to (`recognizedTokenTypes`), so this one request goes
 * through it, with the same single retry on a DPoP nonce that openid-client makes.
 */
import * as oauth from 'oauth4webapi';
import type { TokenEndpointResponse } from 'openid-client';
import type { AgentContext } from './connect.ts';

export async function mintCredential(
  ctx: AgentContext,
  handle: string,
  params: URLSearchParams,
  retried = false,
): Promise<TokenEndpointResponse> {
  const as = ctx.config.serverMetadata();
  const client = { client_id: ctx.clientId };
  const response = await oauth.refreshTokenGrantRequest(as, client, ctx.clientAuth, handle, {
    additionalParameters: params,
    ...(ctx.dpop ? { DPoP: ctx.dpop.handle } : {}),
    ...(ctx.fetch ? { [oauth.customFetch]: ctx.fetch } : {}),
    [oauth.allowInsecureRequests]: ctx.insecure,
    signal: AbortSignal.timeout((ctx.config.timeout ?? 30) * 1000),
  });
  try {
    return await oauth.processRefreshTokenResponse(as, client, response, {
      recognizedTokenTypes: { n_a: () => undefined },
    });
  } catch (err) {
    if (!retried && ctx.dpop && oauth.isDPoPNonceError(err)) {
      return mintCredential(ctx, handle, params, true);
    }
    throw err;
  }
}
