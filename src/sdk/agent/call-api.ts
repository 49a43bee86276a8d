/**
 * Calling an API with a token (RFC 6750 / RFC 9449 §7): `Authorization: DPoP <token>`
 * plus a proof over method, URL and the token's hash for a DPoP-bound token, else
 * `Authorization: Bearer <token>`. A resource server's `use_dpop_nonce` challenge is
 * retried once with its nonce (openid-client). Every other answer — a 401 or a 403
 * included — is returned as the Response, for the caller to read.
 */
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { LOOPBACK, type AgentContext } from './connect.ts';
import { MandateAgentError, toAgentError } from './errors.ts';
import type { AccessToken } from './token-response.ts';

export interface ApiRequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: string | Uint8Array | URLSearchParams | null;
}

export async function callApi(
  ctx: AgentContext,
  token: AccessToken | string,
  url: string | URL,
  init: ApiRequestInit = {},
): Promise<Response> {
  const target = new URL(url);
  if (target.protocol === 'http:' && !LOOPBACK.has(target.hostname)) {
    throw new MandateAgentError(
      'ERR_AGENT_OPTION',
      `refusing to send a token over plain http to ${target.host}; use https`,
    );
  }
  const value = typeof token === 'string' ? token : token.token;
  const bound = typeof token === 'string' ? hasConfirmation(token) : token.tokenType === 'DPoP';
  if (bound && !ctx.dpop) {
    throw new MandateAgentError(
      'ERR_AGENT_OPTION',
      'this token is DPoP-bound; only the agent holding its DPoP key can use it',
    );
  }
  try {
    return await oidc.fetchProtectedResource(
      ctx.config,
      value,
      target,
      (init.method ?? 'GET').toUpperCase(),
      init.body ?? undefined,
      new Headers(init.headers),
      bound && ctx.dpop ? { DPoP: ctx.dpop.handle } : undefined,
    );
  } catch (err) {
    // A challenge other than a DPoP nonce (e.g. invalid_token after a revocation) is an
    // answer, not a failure of the call.
    if (err instanceof oidc.WWWAuthenticateChallengeError) return err.response;
    throw toAgentError(err, `calling ${String(url)}`);
  }
}

/** Whether a JWT carries `cnf.jkt` (RFC 9449 §6.1); read unverified, only to pick the scheme. */
function hasConfirmation(token: string): boolean {
  try {
    const { cnf } = decodeJwt(token) as { cnf?: { jkt?: unknown } };
    return typeof cnf?.jkt === 'string';
  } catch (cause) {
    throw new MandateAgentError('ERR_AGENT_OPTION', 'the token is not a JWT', { cause });
  }
}
