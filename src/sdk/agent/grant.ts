/**
 * Asking a person for a grant (OpenID CIBA, poll mode) and waiting for their answer.
 * The agent never sees the approval link: the person finds the request on their
 * dashboard and approves it with a passkey (DESIGN.md). Waiting honours the broker's
 * `interval` and `slow_down` (CIBA §7.3, +5 s each time) and stops at the request's
 * own expiry or when the caller's AbortSignal fires.
 */
import * as oidc from 'openid-client';
import type { AgentContext } from './connect.ts';
import { MandateAgentError, toAgentError } from './errors.ts';
import { toAccessToken, type AccessToken } from './token-response.ts';

/** RFC 9396 type the broker advertises for describing what the agent will do. */
export const AGENT_TASK = 'agent_task';

export interface GrantRequest {
  /** The person, by email or handle, in the agent's own tenant. */
  loginHint: string;
  /** Scopes to ask for, across the APIs named in `resource`. */
  scope: string | string[];
  /** One or more API audiences (RFC 8707). */
  resource: string | string[];
  /** Short text shown to the person on the approval page, to match with what the agent says. */
  bindingMessage?: string;
  /** The task, shown to the person (RFC 9396 `agent_task`). */
  task?: {
    purpose: string;
    identifier?: string;
    /** Seconds the grant should last; the person may shorten it. */
    duration?: number;
    /** Longest life of any single task token under this grant, seconds. */
    maxTokenTtl?: number;
  };
  /** Seconds the request may wait for an answer (the broker's ceiling applies). */
  requestedExpiry?: number;
}

export interface PendingGrant {
  authReqId: string;
  /** Seconds the person has to answer. */
  expiresIn: number;
  /** Minimum seconds between polls. */
  interval: number;
  expiresAt: Date;
}

export interface Grant {
  /** The grant handle (the CIBA redemption's refresh_token): mints task tokens. Keep it secret. */
  handle: string;
  /** The first access token, for one of the granted APIs. */
  firstToken: AccessToken;
  /** Whether the grant is bound to the agent's DPoP key: then only that key can mint under it. */
  dpopBound: boolean;
}

export async function requestGrant(ctx: AgentContext, req: GrantRequest): Promise<PendingGrant> {
  const resources = list(req.resource);
  const scopes = list(req.scope);
  if (resources.length === 0) {
    throw new MandateAgentError('ERR_AGENT_OPTION', 'name at least one resource (an API audience)');
  }
  if (scopes.length === 0) throw new MandateAgentError('ERR_AGENT_OPTION', 'ask for a scope');
  const params = new URLSearchParams({ login_hint: req.loginHint, scope: scopes.join(' ') });
  for (const resource of resources) params.append('resource', resource);
  if (req.bindingMessage !== undefined) params.set('binding_message', req.bindingMessage);
  if (req.requestedExpiry !== undefined) {
    params.set('requested_expiry', String(req.requestedExpiry));
  }
  if (req.task) {
    const { purpose, identifier, duration, maxTokenTtl } = req.task;
    params.set(
      'authorization_details',
      JSON.stringify([
        {
          type: AGENT_TASK,
          purpose,
          ...(identifier === undefined ? {} : { identifier }),
          ...(duration === undefined ? {} : { duration }),
          ...(maxTokenTtl === undefined ? {} : { max_token_ttl: maxTokenTtl }),
        },
      ]),
    );
  }
  try {
    const res = await oidc.initiateBackchannelAuthentication(ctx.config, params);
    return {
      authReqId: res.auth_req_id,
      expiresIn: res.expires_in,
      interval: res.interval ?? 5,
      expiresAt: new Date(Date.now() + res.expires_in * 1000),
    };
  } catch (err) {
    throw toAgentError(err, 'asking for a grant');
  }
}

export interface WaitOptions {
  /** Stop waiting (ERR_AGENT_ABORTED). The request's own expiry stops it in any case. */
  signal?: AbortSignal;
  /** Which granted API the first token is for (default: the broker's choice, the first). */
  resource?: string;
}

/**
 * Polls until the person approves (the grant), denies (ERR_AGENT_OAUTH `access_denied`)
 * or the request expires (`expired_token`, or ERR_AGENT_ABORTED once its time is up).
 */
export async function waitForGrant(
  ctx: AgentContext,
  pending: PendingGrant,
  options: WaitOptions = {},
): Promise<Grant> {
  const remaining = Math.max(pending.expiresAt.getTime() - Date.now(), 0);
  // openid-client stops at expires_in only when no signal is given; keep both limits.
  const expiry = AbortSignal.timeout(remaining + pending.interval * 1000);
  const signal = options.signal ? AbortSignal.any([options.signal, expiry]) : expiry;
  try {
    const res = await oidc.pollBackchannelAuthenticationGrant(
      ctx.config,
      {
        auth_req_id: pending.authReqId,
        expires_in: Math.ceil(remaining / 1000),
        interval: pending.interval,
      },
      options.resource === undefined ? undefined : { resource: options.resource },
      { signal, ...(ctx.dpop ? { DPoP: ctx.dpop.handle } : {}) },
    );
    if (typeof res.refresh_token !== 'string') {
      throw new MandateAgentError('ERR_AGENT_RESPONSE', 'the approved grant came without a handle');
    }
    const firstToken = toAccessToken(res);
    return { handle: res.refresh_token, firstToken, dpopBound: firstToken.tokenType === 'DPoP' };
  } catch (err) {
    // Whatever openid-client made of the abort reason, an aborted wait is one.
    if (signal.aborted && !(err instanceof MandateAgentError)) {
      const why = options.signal?.aborted ? 'the caller stopped waiting' : 'the request expired';
      throw new MandateAgentError('ERR_AGENT_ABORTED', `waiting for the grant: ${why}`, {
        cause: signal.reason,
      });
    }
    throw toAgentError(err, 'waiting for the grant');
  }
}

export function list(value: string | string[]): string[] {
  const items = Array.isArray(value) ? value : value.split(' ');
  return items.filter((s) => s.length > 0);
}
