/**
 * What the fuzz (fuzz.test.ts) found, each as the plain request that showed it:
 * - a U+0000 in a value the broker stores reached PostgreSQL, whose text refuses it,
 *   and came back as a 500 (overrun reports, DPoP proof and actor-token jtis);
 * - HEAD on the revocation event stream opened a stream that nobody would ever read
 *   or close (Hono drops a HEAD answer's body), so its subscription stayed forever.
 */
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { ISSUER } from '../helpers/app.ts';
import { clientAssertion, form } from '../helpers/clients.ts';
import { post, REPOS, TOKEN } from '../delegation/world.ts';
import { dpopKey, dpopProof } from '../oauth/dpop-world.ts';
import { createTaskWorld, expectOAuthError, mintOk, type TaskWorld } from '../oauth/task-world.ts';
import { EVENTS, report } from '../revocation/revocation-world.ts';
import { ACCESS_TOKEN_TYPE, EXCHANGE, JWT_TOKEN_TYPE } from '../tokens/exchange-world.ts';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

describe('a NUL where the broker stores text', () => {
  it('refuses an overrun report whose method holds a NUL, instead of failing with a 500', async () => {
    const token = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
    const jti = String(decodeJwt(token).jti);
    const res = await report(w, w.acme.api, {
      jti,
      attempted_action: 'push --force',
      attempted_scope: 'repo:write',
      method: 'a\u0000b',
      path: '/../../admin',
    });
    const body = await expectOAuthError(res, 'invalid_request');
    expect(body.error_description).toBe('method must not contain control characters');
  });

  it('refuses an overrun report whose jti holds a NUL', async () => {
    const res = await report(w, w.acme.api, { jti: 'a\u0000b', attempted_scope: 'repo:write' });
    const body = await expectOAuthError(res, 'invalid_request');
    expect(body.error_description).toBe('jti must not contain control characters');
  });

  it('refuses a DPoP proof whose jti holds a NUL as invalid_dpop_proof', async () => {
    const proof = await dpopProof(w.t, await dpopKey(), { claims: { jti: 'a\u0000b' } });
    const body = new URLSearchParams({
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() }),
      grant_type: 'refresh_token',
      refresh_token: w.handle,
      scope: 'repo:read',
      resource: REPOS,
    });
    const res = await w.t.request(TOKEN, {
      ...form({}),
      body: body.toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        dpop: proof,
      },
    });
    await expectOAuthError(res, 'invalid_dpop_proof');
  });

  it('refuses an actor token whose jti holds a NUL as an unusable actor_token', async () => {
    const actor = await clientAssertion(w.acme.otherAgent, ISSUER, {
      now: w.t.clock.now(),
      jti: 'a\u0000b',
    });
    const res = await post(w.t, TOKEN, w.acme.otherAgent, {
      grant_type: EXCHANGE,
      subject_token: w.firstToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: actor,
      actor_token_type: JWT_TOKEN_TYPE,
    });
    const body = await expectOAuthError(res, 'invalid_request');
    expect(body.error_description).toBe('actor_token jti is unusable');
  });

  it('refuses a client assertion whose jti holds a NUL as invalid_client', async () => {
    const assertion = await clientAssertion(w.acme.agent, ISSUER, {
      now: w.t.clock.now(),
      jti: 'a\u0000b',
    });
    const body = new URLSearchParams({
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
      grant_type: 'refresh_token',
      refresh_token: w.handle,
    });
    const res = await w.t.request(TOKEN, { ...form({}), body: body.toString() });
    await expectOAuthError(res, 'invalid_client', 401);
  });
});

describe('HEAD on the revocation event stream', () => {
  it('answers with the headers alone and subscribes to nothing', async () => {
    const subscribe = vi.spyOn(w.t.revocations, 'subscribe');
    const query = new URLSearchParams({
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion(w.acme.api, ISSUER, { now: w.t.clock.now() }),
    });
    const res = await w.t.request(`${EVENTS}?${query}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe('');
    expect(subscribe).not.toHaveBeenCalled();
  });
});
