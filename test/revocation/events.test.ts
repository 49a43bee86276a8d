/**
 * The revocation event stream (mandate_revocation_events_endpoint), in-process:
 * replay of what still matters, `ready`, live events, resume by Last-Event-ID,
 * and nothing from another API or tenant.
 */
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { revokeGrant } from '../../src/delegation/grants.ts';
import { MAIL, REPOS } from '../delegation/world.ts';
import { createTaskWorld, mintOk, revoke, type TaskWorld } from '../oauth/task-world.ts';
import { exchanged } from '../tokens/exchange-world.ts';
import { dataOf, openEvents, report, type EventStream } from './revocation-world.ts';

let w: TaskWorld;
const streams: EventStream[] = [];
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => {
  streams.splice(0).forEach((s) => s.close());
  await w.t.close();
});

const open = async (api = w.acme.api, lastEventId?: string) => {
  const s = await openEvents(async (url, init) => w.t.hono.request(url, init), api, {
    lastEventId,
    now: w.t.clock.now(),
  });
  streams.push(s);
  return s;
};
const isReady = (m: { event?: string | undefined }) => m.event === 'ready';
const jtiOf = (token: string) => decodeJwt(token).jti ?? '';

describe('the revocation event stream', () => {
  it('says ready, then delivers a revocation of one of its tokens as it commits', async () => {
    const token = (await mintOk(w, { resource: REPOS })).access_token;
    const s = await open();
    expect(s.status).toBe(200);
    await s.next(isReady);
    await revoke(w, w.acme.agent, token);
    const m = await s.next((m) => m.event === 'revocation');
    expect(m.id).toMatch(/^\d+$/);
    expect(dataOf(m)).toEqual({ type: 'token', jti: jtiOf(token), exp: decodeJwt(token).exp });
  });

  it('replays what still matters to a new subscriber, before ready', async () => {
    const token = (await mintOk(w, { resource: REPOS })).access_token;
    await revoke(w, w.acme.agent, token);
    const s = await open();
    await s.next(isReady);
    const first = s.messages[0];
    expect(first?.event).toBe('revocation');
    expect(dataOf(first ?? { data: '{}', event: '', id: '' })).toMatchObject({ jti: jtiOf(token) });
    expect(dataOf(s.messages.find(isReady) ?? { data: '{}', event: '', id: '' })).toEqual({
      last_event_id: Number(first?.id),
    });
  });

  it('does not replay revocations of tokens that have expired since', async () => {
    const token = (await mintOk(w, { resource: REPOS })).access_token;
    await revoke(w, w.acme.agent, token);
    w.t.clock.advance(3600);
    const s = await open();
    await s.next(isReady);
    expect(s.messages.filter((m) => m.event === 'revocation')).toEqual([]);
  });

  it('resumes after Last-Event-ID with exactly what it missed', async () => {
    const a = (await mintOk(w, { resource: REPOS })).access_token;
    const b = (await mintOk(w, { resource: REPOS })).access_token;
    const c = (await mintOk(w, { resource: REPOS })).access_token;
    const s1 = await open();
    await s1.next(isReady);
    await revoke(w, w.acme.agent, a);
    const seen = await s1.next((m) => m.event === 'revocation');
    s1.close();
    await revoke(w, w.acme.agent, b);
    await revoke(w, w.acme.agent, c);
    const s2 = await open(w.acme.api, seen.id);
    await s2.next(isReady);
    const replayed = s2.messages.filter((m) => m.event === 'revocation').map((m) => dataOf(m).jti);
    expect(replayed).toEqual([jtiOf(b), jtiOf(c)]);
  });

  it('announces a grant revocation once per audience, as a grant event', async () => {
    const child = await exchanged(w, w.acme.otherAgent, w.firstToken, { scope: 'repo:read' });
    const repos = await open(w.acme.api);
    const mail = await open(w.acme.mailApi);
    await Promise.all([repos.next(isReady), mail.next(isReady)]);
    await revokeGrant(
      w.t.owner,
      { tenantId: w.acme.tenantId, userId: w.acme.userId },
      w.grantId,
      'test',
      w.t.clock.now(),
    );
    for (const s of [repos, mail]) {
      const m = await s.next((m) => m.event === 'revocation');
      expect(dataOf(m)).toMatchObject({ type: 'grant', grant_id: w.grantId });
    }
    // The descendant carries the grant's id: the grant event covers it too.
    expect(decodeJwt(child.access_token).grant_id).toBe(w.grantId);
  });

  it('revokes a token’s descendants by jti when only the token is revoked', async () => {
    const child = await exchanged(w, w.acme.otherAgent, w.firstToken, { scope: 'repo:read' });
    const s = await open();
    await s.next(isReady);
    await report(w, w.acme.api, { token: w.firstToken, attempted_scope: 'repo:write' });
    await s.next((m) => m.event === 'revocation' && dataOf(m).jti === jtiOf(child.access_token));
    await s.next((m) => m.event === 'revocation' && dataOf(m).jti === jtiOf(w.firstToken));
  });

  it('never carries another API’s or another tenant’s revocations', async () => {
    const mailToken = (await mintOk(w, { resource: MAIL })).access_token;
    const repos = await open(w.acme.api);
    const globex = await open(w.globex.api);
    await Promise.all([repos.next(isReady), globex.next(isReady)]);
    await revoke(w, w.acme.agent, mailToken);
    const reposToken = (await mintOk(w, { resource: REPOS })).access_token;
    await revoke(w, w.acme.agent, reposToken);
    // The REPOS event arriving proves the MAIL one, committed earlier, was filtered out.
    const m = await repos.next((m) => m.event === 'revocation');
    expect(dataOf(m).jti).toBe(jtiOf(reposToken));
    expect(repos.messages.filter((m) => m.event === 'revocation')).toHaveLength(1);
    expect(globex.messages.filter((m) => m.event === 'revocation')).toEqual([]);
  });

  it('refuses agents, bad credentials and a malformed Last-Event-ID', async () => {
    const agent = await open(w.acme.agent);
    expect(agent.status).toBe(403);
    const bad = await open(w.acme.api, 'abc');
    expect(bad.status).toBe(400);
    const res = await w.t.request('/oauth/revocation-events');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });
});
