/**
 * One short-lived token per task: grant_type=refresh_token with the grant handle
 * (DESIGN.md "the per-task mint"), for exactly one API (`resource`, RFC 8707), a scope
 * within the grant, and optionally the task itself (RFC 9396 `agent_task`). A grant
 * bound to a DPoP key needs a proof by the same key on every mint; the agent's DPoP
 * handle supplies it and retries once with the broker's nonce when asked (RFC 9449 §8).
 */
import * as oidc from 'openid-client';
import type { AgentContext } from './connect.ts';
import { mintCredential } from './credential-mint.ts';
import { MandateAgentError, toAgentError } from './errors.ts';
import { AGENT_TASK, list, type Grant } from './grant.ts';
import { toAccessToken, type AccessToken } from './token-response.ts';

/** `requested_token_type` for the W3C verifiable-credential form (VCDM 2.0, `vc+jwt`). */
export const VC_TOKEN_TYPE = 'urn:mandate:token-type:vc+jwt';

export interface TaskTokenRequest {
  /** The one API this token is for: its audience, as granted. */
  resource: string;
  /** Scopes for this task, within what the grant holds for that API (default: all of them). */
  scope?: string | string[];
  /** The task, recorded in the token's `task` claim and the audit trail. */
  task?: {
    identifier?: string;
    purpose: string;
    /** Seconds; may only shorten the token's life. */
    maxTokenTtl?: number;
  };
  /** `vc` asks for the verifiable-credential form instead of an RFC 9068 access token. */
  format?: 'jwt' | 'vc';
  /**
   * When the tenant's policy wants the person to approve this task afresh (ESCALATE),
   * the broker answers `authorization_pending`. By default that is thrown; with this
   * option the SDK asks again every `interval` seconds (default 5) until the person
   * approved (the token), refused (`access_denied`), or `signal` aborts.
   */
  waitForApproval?: { interval?: number; signal?: AbortSignal };
}

export async function mintTaskToken(
  ctx: AgentContext,
  grant: Grant | string,
  req: TaskTokenRequest,
): Promise<AccessToken> {
  const handle = typeof grant === 'string' ? grant : grant.handle;
  if (typeof grant !== 'string' && grant.dpopBound && !ctx.dpop) {
    throw new MandateAgentError(
      'ERR_AGENT_OPTION',
      'this grant is bound to a DPoP key; create the agent with that key (dpop option)',
    );
  }
  const params = new URLSearchParams({ resource: req.resource });
  if (req.scope !== undefined) params.set('scope', list(req.scope).join(' '));
  if (req.task) {
    const { identifier, purpose, maxTokenTtl } = req.task;
    params.set(
      'authorization_details',
      JSON.stringify([
        {
          type: AGENT_TASK,
          ...(identifier === undefined ? {} : { identifier }),
          purpose,
          ...(maxTokenTtl === undefined ? {} : { max_token_ttl: maxTokenTtl }),
        },
      ]),
    );
  }
  if (req.format === 'vc') params.set('requested_token_type', VC_TOKEN_TYPE);
  const wait = req.waitForApproval;
  for (;;) {
    try {
      return await mintOnce(ctx, handle, params, req);
    } catch (err) {
      if (!wait || !(err instanceof MandateAgentError) || err.error !== 'authorization_pending') {
        throw err;
      }
      await pause((wait.interval ?? 5) * 1000, wait.signal, err);
    }
  }
}

/** Sleeps, or throws ERR_AGENT_ABORTED when the caller's signal ends the wait. */
function pause(ms: number, signal: AbortSignal | undefined, pending: MandateAgentError) {
  return new Promise<void>((resolve, reject) => {
    const aborted = () =>
      reject(
        new MandateAgentError(
          'ERR_AGENT_ABORTED',
          'the caller stopped waiting for the person to approve the task',
          { cause: pending },
        ),
      );
    // Already aborted (the caller's deadline passed during the last request): stop now.
    if (signal?.aborted) {
      aborted();
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      aborted();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function mintOnce(
  ctx: AgentContext,
  handle: string,
  params: URLSearchParams,
  req: TaskTokenRequest,
): Promise<AccessToken> {
  try {
    const res =
      req.format === 'vc'
        ? await mintCredential(ctx, handle, params)
        : await oidc.refreshTokenGrant(
            ctx.config,
            handle,
            params,
            ctx.dpop ? { DPoP: ctx.dpop.handle } : undefined,
          );
    return toAccessToken(res);
  } catch (err) {
    throw toAgentError(err, `minting a task token for ${req.resource}`);
  }
}
