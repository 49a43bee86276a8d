/**
 * Rate limits on the CIBA backchannel and token endpoints (src/ratelimit/): per agent
 * after client authentication, per client address before it; over a limit a CIBA
 * request or poll is told `slow_down` and any other grant gets 429 with Retry-After;
 * a refused request changes nothing but the counters; windows end with the clock;
 * and two broker instances on one database count against the same limits.
 */
import { inArray } from 'drizzle-orm';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { rateLimits } from '../../src/db/schema.ts';
import { nodeClientAddress } from '../../src/node/client-address.ts';
import { generateKek } from '../../src/keys/kek.ts';
import { clientAddressOf } from '../../src/ratelimit/client-address.ts';
import { DatabaseRateLimiter } from '../../src/ratelimit/database-limiter.ts';
import { createTestApp, ISSUER, type TestApp } from '../helpers/app.ts';
import type { TestClock } from '../helpers/clock.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  backchannel,
  BACKCHANNEL,
  CIBA,
  poll,
  post,
  REPOS,
  startRequest,
  TOKEN,
  validRequest,
} from '../delegation/world.ts';
import {
  createTaskWorld,
  expectOAuthError,
  mint,
  mintOk,
  type TaskWorld,
} from '../oauth/task-world.ts';
import { stateDigest } from './state.ts';

const WINDOW = 10;
const READ = { resource: REPOS, scope: 'repo:read' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function world(env: Record<string, string>): Promise<TaskWorld> {
  const w = await createTaskWorld({ MANDATE_RATE_LIMIT_WINDOW: String(WINDOW), ...env });
  cleanups.push(() => w.t.close());
  // The world's own CIBA request and poll counted too: start from a fresh window.
  toNextWindow(w.t.clock);
  return w;
}

/** The Retry-After of a refusal, checked to be whole seconds within one window. */
function retryAfterOf(res: Response): number {
  const value = res.headers.get('retry-after') ?? '';
  expect(value).toMatch(/^\d+$/);
  const seconds = Number(value);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(WINDOW);
  return seconds;
}

/** The same TestApp surface (for post() and friends), answered by another app instance. */
function through(t: TestApp, hono: Hono, peer?: string): TestApp {
  return {
    ...t,
    request: async (path, init) => {
      const headers = new Headers(init?.headers);
      if (peer) headers.set('x-peer', peer);
      return hono.request(`${ISSUER}${path}`, { ...init, headers });
    },
  };
}

/** A second app on the same deps, whose client address is the test's `x-peer` header. */
function peerApp(w: TaskWorld) {
  const app = createApp({ ...w.t.deps, clientAddress: (c) => c.req.header('x-peer') });
  cleanups.push(() => app.close());
  return (peer: string) => through(w.t, app.hono, peer);
}

/** A request with no credentials at all, as a flood would send. */
const anonymous = (t: TestApp, path: string, params: Record<string, string>) =>
  t.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });

describe('per-agent limits', () => {
  it('answers a mint over the agent’s limit with 429, Retry-After and an OAuth error body, changing nothing', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_AGENT: '3' });
    for (let i = 0; i < 3; i++) await mintOk(w, READ);
    const before = await stateDigest(w.t);
    const res = await mint(w, READ);
    expect(res.status).toBe(429);
    retryAfterOf(res);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await expectOAuthError(res, 'rate_limited', 429);
    expect(body.error_description).toMatch(/too many requests/);
    expect(await stateDigest(w.t)).toBe(before);
  });

  it('counts each agent on its own: another agent is not refused for the first one’s requests', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_AGENT: '2' });
    for (let i = 0; i < 2; i++) await mintOk(w, READ);
    expect((await mint(w, READ)).status).toBe(429);
    // The other agent gets the grant's own answer (the handle is not its own), not 429.
    await expectOAuthError(await mint(w, READ, w.acme.otherAgent), 'invalid_grant');
  });

  it('serves the agent again once the window ends on the clock', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_AGENT: '2' });
    for (let i = 0; i < 2; i++) await mintOk(w, READ);
    const refused = await mint(w, READ);
    expect(refused.status).toBe(429);
    // Half a second into the window: 9.5 s left, rounded up.
    expect(retryAfterOf(refused)).toBe(WINDOW);
    w.t.clock.advance(WINDOW - 1);
    expect((await mint(w, READ)).status).toBe(429);
    w.t.clock.advance(1);
    await mintOk(w, READ);
    await mintOk(w, READ);
    expect((await mint(w, READ)).status).toBe(429);
  });

  it('tells a CIBA request over the limit to slow_down (400) and creates no request', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_AGENT: '1' });
    await startRequest(w);
    const before = await stateDigest(w.t);
    const res = await backchannel(w, validRequest);
    await expectOAuthError(res, 'slow_down', 400);
    retryAfterOf(res);
    expect(await stateDigest(w.t)).toBe(before);
  });

  it('tells a CIBA poll over the limit to slow_down, leaving the request’s poll record as it was', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_AGENT: '1', MANDATE_CIBA_INTERVAL: '1' });
    const r = await startRequest(w);
    await expectOAuthError(await poll(w, r.auth_req_id), 'authorization_pending');
    // Past the CIBA interval, so only the rate limit can refuse the next poll.
    w.t.clock.advance(1);
    const before = await stateDigest(w.t);
    const res = await poll(w, r.auth_req_id);
    await expectOAuthError(res, 'slow_down', 400);
    retryAfterOf(res);
    expect(await stateDigest(w.t)).toBe(before);
  });

  it('keeps the poll’s own slow_down for polls faster than the interval, within the limits', async () => {
    const w = await world({ MANDATE_CIBA_INTERVAL: '5' });
    const r = await startRequest(w);
    await expectOAuthError(await poll(w, r.auth_req_id), 'authorization_pending');
    const res = await poll(w, r.auth_req_id);
    await expectOAuthError(res, 'slow_down', 400);
    // The interval's slow_down is the poll's, not the limiter's: no Retry-After.
    expect(res.headers.get('retry-after')).toBeNull();
  });
});

describe('per-address limits, before client authentication', () => {
  it('throttles an anonymous flood at the token endpoint with 429 before authenticating it', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_ADDRESS: '3', MANDATE_RATE_LIMIT_AGENT: '0' });
    const from = peerApp(w);
    const params = { grant_type: 'refresh_token', refresh_token: 'x' };
    for (let i = 0; i < 3; i++) {
      await expectOAuthError(
        await anonymous(from('198.51.100.7'), TOKEN, params),
        'invalid_client',
        401,
      );
    }
    const res = await anonymous(from('198.51.100.7'), TOKEN, params);
    await expectOAuthError(res, 'rate_limited', 429);
    retryAfterOf(res);
    // A CIBA poll from there is told to slow down instead.
    await expectOAuthError(
      await anonymous(from('198.51.100.7'), TOKEN, { grant_type: CIBA, auth_req_id: 'x' }),
      'slow_down',
    );
    // Another address, and a real agent from it, are served as usual.
    await expectOAuthError(
      await anonymous(from('198.51.100.8'), TOKEN, params),
      'invalid_client',
      401,
    );
    const agent = from('198.51.100.9');
    expect(
      (
        await post(agent, TOKEN, w.acme.agent, {
          grant_type: 'refresh_token',
          refresh_token: w.handle,
          ...READ,
        })
      ).status,
    ).toBe(200);
  });

  it('throttles the backchannel endpoint per address on its own counter, with slow_down', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_ADDRESS: '2', MANDATE_RATE_LIMIT_AGENT: '0' });
    const from = peerApp(w);
    for (let i = 0; i < 2; i++) {
      await expectOAuthError(
        await anonymous(from('203.0.113.5'), BACKCHANNEL, {}),
        'invalid_client',
        401,
      );
    }
    await expectOAuthError(await anonymous(from('203.0.113.5'), BACKCHANNEL, {}), 'slow_down');
    // The token endpoint's counter for that address is untouched.
    await expectOAuthError(await anonymous(from('203.0.113.5'), TOKEN, {}), 'invalid_client', 401);
    const rows = await w.t.deps.database.db.select().from(rateLimits);
    const here = rows.filter((r) => r.bucket.endsWith(':203.0.113.5'));
    expect(here.map((r) => [r.bucket, r.count]).sort()).toEqual([
      ['ciba:addr:203.0.113.5', 3],
      ['token:addr:203.0.113.5', 1],
    ]);
  });

  it('counts requests whose address nobody can tell (in-process) in one shared bucket', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_ADDRESS: '2', MANDATE_RATE_LIMIT_AGENT: '0' });
    await mintOk(w, READ);
    await mintOk(w, READ);
    await expectOAuthError(await mint(w, READ), 'rate_limited', 429);
  });

  it('takes the socket’s peer on Node, and X-Forwarded-For only from as many proxies as are trusted', async () => {
    const w = await world({ MANDATE_RATE_LIMIT_ADDRESS: '100' });
    const bucketsAfter = async (trustedProxies: number, headers: Record<string, string>) => {
      const app = createApp({ ...w.t.deps, clientAddress: nodeClientAddress(trustedProxies) });
      const server: ServerType = await new Promise((resolve) => {
        const s = serve({ fetch: app.hono.fetch, port: 0, hostname: '127.0.0.1' }, () =>
          resolve(s),
        );
      });
      try {
        const { port } = server.address() as AddressInfo;
        const res = await fetch(`http://127.0.0.1:${port}${TOKEN}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: 'grant_type=refresh_token',
        });
        expect(res.status).toBe(401);
      } finally {
        await new Promise((resolve) => server.close(resolve));
        await app.close();
      }
      // The world's own in-process requests counted as `unknown`; only the socket's count here.
      const seen = (await w.t.deps.database.db.select().from(rateLimits))
        .map((r) => r.bucket)
        .filter((b) => b.includes(':addr:') && !b.endsWith(':unknown'));
      if (seen.length > 0) {
        await w.t.deps.database.db.delete(rateLimits).where(inArray(rateLimits.bucket, seen));
      }
      return seen;
    };
    // Not trusted: the header is anyone's to forge.
    expect(await bucketsAfter(0, { 'x-forwarded-for': '203.0.113.9' })).toEqual([
      'token:addr:127.0.0.1',
    ]);
    // One proxy: the entry it appended; what the client wrote to its left is ignored.
    expect(await bucketsAfter(1, { 'x-forwarded-for': '10.9.9.9, 203.0.113.9' })).toEqual([
      'token:addr:203.0.113.9',
    ]);
  });

  it('reads X-Forwarded-For from the right, never trusting more entries than proxies', () => {
    expect(clientAddressOf('10.0.0.1', '1.1.1.1', 0)).toBe('10.0.0.1');
    expect(clientAddressOf('10.0.0.1', undefined, 1)).toBe('10.0.0.1');
    expect(clientAddressOf('10.0.0.1', 'forged, 2.2.2.2', 1)).toBe('2.2.2.2');
    expect(clientAddressOf('10.0.0.1', 'forged, 3.3.3.3, 10.0.0.2', 2)).toBe('3.3.3.3');
    // Fewer entries than proxies: the furthest hop known.
    expect(clientAddressOf('10.0.0.1', '4.4.4.4', 3)).toBe('4.4.4.4');
    expect(clientAddressOf(undefined, ' , ', 1)).toBeUndefined();
  });
});

describe('limits shared through the database', () => {
  /**
   * A second handle on the same database, closed by whoever uses it: its own pool on
   * PostgreSQL, as another process would have; PGlite has one handle per database, so
   * there the same one, whose close is left to its owner.
   */
  async function secondHandle(db: TestDatabase): Promise<TestDatabase> {
    if (inject('dbTemplate').driver === 'pglite') return { ...db, close: async () => {} };
    return {
      ...(await openPostgres({ url: db.url ?? '', migrate: false, max: 2 })),
      owner: db.owner,
    };
  }

  it('counts an agent’s requests to two broker instances on one database against one limit', async () => {
    const db = await freshDatabase();
    const kek = generateKek();
    const env = {
      MANDATE_KEK: kek,
      MANDATE_RATE_LIMIT_AGENT: '4',
      MANDATE_RATE_LIMIT_WINDOW: String(WINDOW),
    };
    const w = await createTaskWorld(env, db);
    cleanups.push(() => w.t.close());
    const other = await createTestApp(env, await secondHandle(db));
    cleanups.push(() => other.close());
    toNextWindow(w.t.clock);
    sameTime(other.clock, w.t.clock);
    const b: TaskWorld = { ...w, t: through(w.t, other.hono) };

    await mintOk(w, READ);
    await mintOk(b, READ);
    await mintOk(w, READ);
    await mintOk(b, READ);
    await expectOAuthError(await mint(w, READ), 'rate_limited', 429);
    await expectOAuthError(await mint(b, READ), 'rate_limited', 429);
  });

  it('never lets concurrent checks from two instances past the limit (one atomic upsert each)', async () => {
    const db = await freshDatabase();
    cleanups.push(() => db.close());
    const handle = await secondHandle(db);
    cleanups.push(() => handle.close());
    const now = { now: () => new Date(Date.UTC(2030, 0, 1, 0, 0, 3)) };
    const one = new DatabaseRateLimiter(db.db, now);
    const two = new DatabaseRateLimiter(handle.db, now);
    const rule = { limit: 7, windowSeconds: 60 };
    const verdicts = await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 ? one : two).hit('agent:race', rule)),
    );
    expect(verdicts.map((v) => v.count).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(7);
    expect(new Set(verdicts.map((v) => v.retryAfter))).toEqual(new Set([57]));
  });
});

function sameTime(clock: TestClock, as: TestClock): void {
  clock.advance((as.now().getTime() - clock.now().getTime()) / 1000);
}

/** Half a second into the next window, so that a test's few seconds stay inside it. */
function toNextWindow(clock: TestClock): void {
  const into = clock.now().getTime() % (WINDOW * 1000);
  clock.advance((WINDOW * 1000 - into) / 1000 + 0.5);
}
