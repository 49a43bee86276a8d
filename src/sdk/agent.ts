/**
 * `mandate/agent` — the SDK for agents: keys, CIBA grants approved by a person's
 * passkey, one short-lived token per task, DPoP, API calls, sub-agent exchange and
 * revocation, as a thin typed layer over openid-client v6.
 *
 * @example
 * import { createAgent, generateAgentKey, publicJwks } from 'mandate/agent';
 *
 * const key = await generateAgentKey();              // register publicJwks(key) with the broker
 * const agent = await createAgent({ issuer, clientId, key, dpop: true });
 * const pending = await agent.requestGrant({ loginHint, scope: 'repo:read', resource: API });
 * const grant = await agent.waitForGrant(pending);   // the person approves with a passkey
 * const token = await agent.mintTaskToken(grant, { resource: API, scope: 'repo:read' });
 * const res = await agent.fetch(token, `${API}repos`);
 *
 * Everything runs anywhere with Web Crypto and fetch, except `saveKeyFile` / `loadKeyFile`
 * (Node only; loaded on first call, so importing this entry never needs node:fs).
 */
export { createAgent, MandateAgent } from './agent/mandate-agent.ts';
export type { AgentOptions } from './agent/connect.ts';
export type { GrantRequest, PendingGrant, Grant, WaitOptions } from './agent/grant.ts';
export { AGENT_TASK } from './agent/grant.ts';
export type { TaskTokenRequest } from './agent/task-token.ts';
export { VC_TOKEN_TYPE } from './agent/task-token.ts';
export type { ExchangeRequest } from './agent/exchange.ts';
export type { ApiRequestInit } from './agent/call-api.ts';
export type { AccessToken, PolicyNote, TokenType } from './agent/token-response.ts';
export {
  generateAgentKey,
  publicJwks,
  exportPrivateJwk,
  importAgentKey,
  type AgentKey,
  type AgentKeyAlgorithm,
} from './agent/keys.ts';
export { saveKeyFile, loadKeyFile } from './agent/key-storage.ts';
export { signActorToken } from './agent/actor-token.ts';
export { MandateAgentError, type AgentErrorCode } from './agent/errors.ts';
