/**
 * The must-show behaviour of the issue: an overrun at the API makes the next call
 * with the same token fail at a second, independent verifier within 1 s through
 * events, and within the status list's ttl with events off; grant-level
 * revocation kills every sibling token and descendant; no cross-API or
 * cross-tenant report has effect. Plus the stream's resilience: replay on start,
 * reconnection with Last-Event-ID, status lists while disconnected.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerError, type Verifier } from '../../src/sdk/verifier.ts';
import { ISSUER } from '../helpers/app.ts';
import { MAIL, OTHER_API, REPOS } from '../delegation/world.ts';
import { createTaskWorld, mintOk, snapshot, type TaskWorld } from '../oauth/task-world.ts';
import { exchanged } from '../tokens/exchange-world.ts';
import { bearer, refusedWith, routedFetch, verifierFor, within } from './verifier-world.ts';

const TTL = 30;
let w: TaskWorld;
let verifiers: Verifier[];
beforeEach(async () => {
  w = await createTaskWorld({ MANDATE_STATUS_LIST_TTL: String(TTL) });
  verifiers = [];
});
afterEach(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  await w.t.close();
});

/** A verifier for the REPOS API; `events: false` leaves it with status lists only. */
function reposVerifier(options: Parameters<typeof verifierFor>[2] = {}) {
  const client = options.events === false ? undefined : w.acme.api;
  const made = verifierFor(w.t, { audience: REPOS, client }, options);
  verifiers.push(made.verifier);
  return made.verifier;
}

/** A fetch into the app that counts status-list requests. */
function countingFetch() {
  const net = routedFetch(w.t);
  let lists = 0;
  const fetchFn: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.startsWith(`${ISSUER}/status/`)) lists += 1;
    return net.fetch(input, init);
  };
  return { ...net, fetch: fetchFn, lists: () => lists };
}

const token = async (scope = 'repo:read') =>
  (await mintOk(w, { resource: REPOS, scope })).access_token;
const accepts = async (v: Verifier, t: string) =>
  !(await refusedWith(v, bearer(t), 'ERR_TOKEN_REVOKED'));
const revoked = (v: Verifier, t: string) => refusedWith(v, bearer(t), 'ERR_TOKEN_REVOKED');

describe('verifier: an overrun kills the token everywhere', () => {
  it('makes the next call fail at a second, independent verifier within 1 s through events', async () => {
    const a = reposVerifier();
    const net = countingFetch();
    const b = reposVerifier({ fetch: net.fetch });
    await Promise.all([a.ready(), b.ready()]);
    expect(b.live).toBe(true);
    const t = await token();
    await expect(b.verifyRequest(bearer(t))).resolves.toBeDefined();

    const verified = await a.verifyRequest(bearer(t));
    const reported = a.reportOverrun({ token: verified, attemptedScope: ['repo:write'] });
    // The reporting verifier drops the token at once, before the broker has answered.
    expect(await revoked(a, t)).toBe(true);
    await expect(reported).resolves.toMatchObject({ revoked: ['token'] });

    const took = await within(1000, () => revoked(b, t));
    expect(took).toBeLessThan(1000);
    // Through the event stream: B never needed a status list.
    expect(net.lists()).toBe(0);
  });

  it('makes the next call fail within the status list’s ttl when events are off', async () => {
    const a = reposVerifier();
    const c = reposVerifier({ events: false });
    await a.ready();
    const t = await token();
    await expect(c.verifyRequest(bearer(t))).resolves.toBeDefined();

    await a.reportOverrun({ token: t, attemptedScope: ['repo:write'] });
    // C's copy of the list is good for its ttl: it may still accept the token…
    expect(await accepts(c, t)).toBe(true);
    w.t.clock.advance(TTL - 1);
    expect(await accepts(c, t)).toBe(true);
    // …and not a second longer.
    w.t.clock.advance(2);
    expect(await revoked(c, t)).toBe(true);
  });

  it('revokes the tokens exchanged from the reported one, and spares its siblings', async () => {
    const a = reposVerifier();
    const b = reposVerifier();
    await Promise.all([a.ready(), b.ready()]);
    const parent = await token('repo:read');
    const sibling = await token('repo:read');
    const child = (await exchanged(w, w.acme.otherAgent, parent)).access_token;
    const grandchild = (await exchanged(w, w.acme.otherAgent, child)).access_token;
    for (const t of [parent, sibling, child, grandchild]) expect(await accepts(b, t)).toBe(true);

    await a.reportOverrun({ token: parent, attemptedScope: ['repo:write'] });
    await within(1000, async () => (await revoked(b, child)) && (await revoked(b, grandchild)));
    expect(await revoked(b, parent)).toBe(true);
    expect(await accepts(b, sibling)).toBe(true);
  });
});

describe('verifier: grant-level revocation', () => {
  it('kills every sibling token and descendant, through events and through status lists', async () => {
    const a = reposVerifier();
    const b = reposVerifier();
    const c = reposVerifier({ events: false });
    await Promise.all([a.ready(), b.ready()]);
    const reported = await token('repo:read');
    const siblings = [w.firstToken, await token('repo:read'), await token('repo:write')];
    const descendants = [(await exchanged(w, w.acme.otherAgent, siblings[1]!)).access_token];
    const all = [reported, ...siblings, ...descendants];
    for (const t of all) {
      expect(await accepts(b, t)).toBe(true);
      expect(await accepts(c, t)).toBe(true);
    }

    // repo:admin was never granted: the broker takes the whole grant at once.
    const result = await a.reportOverrun({ token: reported, attemptedScope: ['repo:admin'] });
    expect(result).toMatchObject({ revoked: ['token', 'grant'], grant_id: w.grantId });
    for (const t of all) expect(await revoked(a, t)).toBe(true);
    await within(1000, async () => {
      for (const t of all) if (!(await revoked(b, t))) return false;
      return true;
    });
    w.t.clock.advance(TTL + 1);
    for (const t of all) expect(await revoked(c, t)).toBe(true);
  });

  it('reaches the grant on the threshold’s overrun, even within the granted scopes', async () => {
    const a = reposVerifier();
    const b = reposVerifier();
    await Promise.all([a.ready(), b.ready()]);
    const [first, second, bystander] = [await token(), await token(), await token()];
    await expect(
      a.reportOverrun({ token: first, attemptedScope: ['repo:write'] }),
    ).resolves.toMatchObject({ revoked: ['token'], overruns: 1, threshold: 2 });
    expect(await accepts(b, bystander)).toBe(true);
    await expect(
      a.reportOverrun({ token: second, attemptedScope: ['repo:write'] }),
    ).resolves.toMatchObject({ revoked: ['token', 'grant'], overruns: 2 });
    await within(1000, () => revoked(b, bystander));
  });
});

describe('verifier: reports that must change nothing', () => {
  it('has no effect when another API of the tenant or another tenant’s API reports a token', async () => {
    const b = reposVerifier();
    const c = reposVerifier({ events: false });
    const mail = verifierFor(w.t, { audience: MAIL, client: w.acme.mailApi }).verifier;
    const globex = verifierFor(w.t, { audience: OTHER_API, client: w.globex.api }).verifier;
    verifiers.push(mail, globex);
    await Promise.all([b.ready(), mail.ready(), globex.ready()]);
    const t = await token();
    expect(await accepts(c, t)).toBe(true);
    const before = await snapshot(w);

    for (const reporter of [mail, globex]) {
      const err = await reporter.reportOverrun({ token: t, attemptedScope: ['repo:admin'] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BrokerError);
      expect(err).toMatchObject({ status: 403, oauthError: 'access_denied' });
    }

    expect(await snapshot(w)).toEqual(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(await accepts(b, t)).toBe(true);
    w.t.clock.advance(TTL + 1);
    expect(await accepts(c, t)).toBe(true);
    // Nor did the reporters drop it for themselves: it was never theirs to accept.
    expect(b.live).toBe(true);
  });
});

describe('verifier: the event stream', () => {
  it('replays the revocations that happened before it started', async () => {
    const a = reposVerifier();
    await a.ready();
    const t = await token();
    await a.reportOverrun({ token: t, attemptedScope: ['repo:write'] });
    // No status lists at all: only the replay can know.
    const late = reposVerifier({ statusList: false });
    await late.ready();
    expect(await revoked(late, t)).toBe(true);
  });

  it('checks status lists while disconnected and resumes with Last-Event-ID', async () => {
    const a = reposVerifier();
    const net = countingFetch();
    const b = reposVerifier({ fetch: net.fetch });
    await Promise.all([a.ready(), b.ready()]);
    const [first, second, third] = [await token(), await token(), await token()];
    await a.reportOverrun({ token: first, attemptedScope: ['repo:write'] });
    await within(1000, () => revoked(b, first));

    net.cut();
    await within(1000, () => !b.live);
    await a.reportOverrun({ token: second, attemptedScope: ['repo:write'] });
    // Not live: the status list speaks, fetched now since B never needed it before.
    expect(await revoked(b, second)).toBe(true);
    expect(net.lists()).toBe(1);

    await within(5000, () => b.live);
    expect(net.connects()).toBe(2);
    expect(net.lastEventIds[0]).toBeNull();
    expect(Number(net.lastEventIds[1])).toBeGreaterThan(0);
    await a.reportOverrun({ token: third, attemptedScope: ['repo:write'] });
    await within(1000, () => revoked(b, third));
    expect(net.lists()).toBe(1);
  });
});
