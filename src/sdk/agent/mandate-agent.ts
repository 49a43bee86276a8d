/**
 * The agent as its code sees it: one object per (broker, client id, key), whose
 * methods are the operations in this folder. Created by createAgent.
 */
import { callApi, type ApiRequestInit } from './call-api.ts';
import { connect, type AgentContext, type AgentOptions } from './connect.ts';
import { exchangeToken, type ExchangeRequest } from './exchange.ts';
import {
  requestGrant,
  waitForGrant,
  type Grant,
  type GrantRequest,
  type PendingGrant,
  type WaitOptions,
} from './grant.ts';
import type { AgentKey } from './keys.ts';
import { revokeGrant, revokeToken } from './revoke.ts';
import { mintTaskToken, type TaskTokenRequest } from './task-token.ts';
import type { AccessToken } from './token-response.ts';

export class MandateAgent {
  /** @internal Use createAgent. */
  constructor(private readonly ctx: AgentContext) {}

  /** The broker's issuer, from its metadata. */
  get issuer(): string {
    return this.ctx.issuer;
  }

  get clientId(): string {
    return this.ctx.clientId;
  }

  /**
   * The DPoP key, when DPoP is on. Save it (saveKeyFile) to keep minting under a
   * DPoP-bound grant after a restart; undefined without DPoP.
   */
  get dpopKey(): AgentKey | undefined {
    return this.ctx.dpop?.key;
  }

  /** The broker's metadata (RFC 8414), as discovered. */
  serverMetadata(): Readonly<Record<string, unknown>> {
    return this.ctx.config.serverMetadata();
  }

  /**
   * Asks a person for a grant (CIBA). They approve it on their dashboard with a passkey.
   *
   * @example
   * const pending = await agent.requestGrant({
   *   loginHint: 'ada@example.com',
   *   scope: ['repo:read'],
   *   resource: 'https://api.example/',
   *   bindingMessage: 'Weekly triage',
   *   task: { purpose: 'Triage new issues every Monday', duration: 7 * 86_400 },
   * });
   */
  requestGrant(req: GrantRequest): Promise<PendingGrant> {
    return requestGrant(this.ctx, req);
  }

  /**
   * Waits for the person's answer: the grant, or ERR_AGENT_OAUTH `access_denied` /
   * `expired_token`, or ERR_AGENT_ABORTED.
   *
   * @example
   * const grant = await agent.waitForGrant(pending, { signal: AbortSignal.timeout(120_000) });
   */
  waitForGrant(pending: PendingGrant, options?: WaitOptions): Promise<Grant> {
    return waitForGrant(this.ctx, pending, options);
  }

  /**
   * One token for one task: one API, a scope within the grant, optionally the task.
   *
   * @example
   * const token = await agent.mintTaskToken(grant, {
   *   resource: 'https://api.example/',
   *   scope: 'repo:read',
   *   task: { identifier: 'triage-2026-05-04', purpose: 'Label new issues', maxTokenTtl: 120 },
   * });
   */
  mintTaskToken(grant: Grant | string, req: TaskTokenRequest): Promise<AccessToken> {
    return mintTaskToken(this.ctx, grant, req);
  }

  /**
   * Calls an API with a token (DPoP-signed when the token is bound). Every HTTP answer
   * is returned, 401 and 403 included.
   *
   * @example
   * const res = await agent.fetch(token, 'https://api.example/repos');
   * if (res.status === 403) console.log('beyond this token: the broker has been told');
   */
  fetch(token: AccessToken | string, url: string | URL, init?: ApiRequestInit): Promise<Response> {
    return callApi(this.ctx, token, url, init);
  }

  /**
   * As a sub-agent: trades the parent's token for an attenuated one (RFC 8693).
   *
   * @example
   * const child = await subAgent.exchangeToken(parentToken, { scope: 'repo:read' });
   */
  exchangeToken(parent: AccessToken | string, req?: ExchangeRequest): Promise<AccessToken> {
    return exchangeToken(this.ctx, parent, req);
  }

  /**
   * Revokes one access token (RFC 7009).
   *
   * @example
   * await agent.revokeToken(token);
   */
  revokeToken(token: AccessToken | string): Promise<void> {
    return revokeToken(this.ctx, token);
  }

  /**
   * Revokes the grant and every token under it.
   *
   * @example
   * await agent.revokeGrant(grant);
   */
  revokeGrant(grant: Grant | string): Promise<void> {
    return revokeGrant(this.ctx, grant);
  }
}

/**
 * Discovers the broker and returns an agent ready to ask for grants.
 *
 * @example
 * const agent = await createAgent({
 *   issuer: 'https://mandate.example',
 *   clientId: 'agent_…',
 *   key: await loadKeyFile('agent.key.json'),
 *   dpop: true,
 * });
 */
export async function createAgent(options: AgentOptions): Promise<MandateAgent> {
  return new MandateAgent(await connect(options));
}
