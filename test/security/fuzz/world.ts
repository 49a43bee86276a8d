/**
 * The world the fuzzer sends requests into, built the way agents, APIs and people
 * build it, so that many random requests get past the first checks: Ada's release bot
 * holds a redeemed grant (test/oauth/task-world.ts); Bob registered a passkey from an
 * invite over HTTP, approved one request of the bot with it and has another pending;
 * Carol holds an unused invite link; the bot holds a second grant, which the
 * revoking endpoints are given instead of the first. Every secret a request might carry is here.
 */
import { decodeJwt } from 'jose';
import type { TestClient } from '../../helpers/clients.ts';
import { csrfOf, postJson, registeredPerson, type Registered } from '../../passkeys/ceremonies.ts';
import { REPOS, startRequest, validRequest } from '../../delegation/world.ts';
import { createTaskWorld, mintOk, redeemedGrant, type TaskWorld } from '../../oauth/task-world.ts';
import { invite } from '../../ui/fixtures.ts';

export interface FuzzWorld extends TaskWorld {
  bob: Registered & { csrf: string; grantId: string };
  /** Bob's pending request: its approval page and its approve and deny endpoints. */
  pendingId: string;
  /** A CIBA auth_req_id of the bot that is still pending. */
  authReqId: string;
  /** Carol's invite link's secret. */
  inviteSecret: string;
  /** A per-task access token for REPOS. */
  accessToken: string;
  /**
   * A second grant of the bot's, for the endpoints that revoke what they are given
   * (revocation, overrun reports): revoking the first would stop every later mint.
   */
  spare: { handle: string; firstToken: string };
  /** The id of the tenant's status list (from the token's status claim). */
  statusListId: string;
  /** Every client with a registered key: the fuzzer signs real assertions as each. */
  clients: TestClient[];
}

/** Bob approves his request with his passkey, through the approval endpoints. */
async function approveAsBob(
  w: TaskWorld,
  bob: Registered,
  csrf: string,
  id: string,
): Promise<string> {
  const headers = { cookie: bob.cookie, 'x-csrf-token': csrf };
  const choice = { resources: [{ resource: REPOS, scopes: ['repo:read'] }], duration: 3600 };
  const options = await postJson(w.t, `/requests/${id}/approval/options`, choice, headers);
  if (options.status !== 200) throw new Error(`options: ${JSON.stringify(options.body)}`);
  const response = await bob.auth.assert(
    options.body as unknown as { challenge: string; rpId?: string },
  );
  const approved = await postJson(w.t, `/requests/${id}/approval/verify`, { response }, headers);
  if (approved.status !== 200) throw new Error(`approval: ${JSON.stringify(approved.body)}`);
  return String(approved.body.grant_id);
}

export async function createFuzzWorld(env: Record<string, string> = {}): Promise<FuzzWorld> {
  const w = await createTaskWorld(env);
  const bob = await registeredPerson(w.t, 'bob@example.com', 'acme');
  const csrf = await csrfOf(w.t, bob.userId);
  const forBob = { ...validRequest, login_hint: 'bob@example.com' };
  const first = await startRequest(w, forBob);
  const grantId = await approveAsBob(w, bob, csrf, first.requestId);
  const pending = await startRequest(w, forBob);
  const { secret } = await invite(w.t, 'carol@example.com', 'acme');
  const { access_token } = await mintOk(w, { resource: REPOS, scope: 'repo:read' });
  const spare = await redeemedGrant(w);
  const status = decodeJwt(access_token).status as { status_list: { uri: string } };
  return {
    ...w,
    bob: { ...bob, csrf, grantId },
    pendingId: pending.requestId,
    authReqId: pending.auth_req_id,
    inviteSecret: secret,
    accessToken: access_token,
    spare,
    statusListId: status.status_list.uri.split('/').pop() ?? '',
    clients: [w.acme.agent, w.acme.otherAgent, w.acme.api, w.acme.mailApi, w.globex.agent],
  };
}
