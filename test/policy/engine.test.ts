/**
 * The engine's machinery: parsed-once and parsed-per-call agree, bundles evicted
 * from Cedar's memory come back, the `/web` build (what Workers load) decides as
 * the Node build does, and the signals come from the database as documented.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { inArray, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { issuedTokens } from '../../src/db/schema.ts';
import { describe, expect, it } from 'vitest';
import { loadNodeCedar } from '../../src/policy/cedar.ts';
import { cedarFromWasm } from '../../src/policy/cedar-web.ts';
import { DEFAULT_BUNDLE } from '../../src/policy/default-bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { PreparedSets } from '../../src/policy/prepared.ts';
import { findIdenticalLiveToken } from '../../src/policy/identical.ts';
import { rateSaturation } from '../../src/policy/risk.ts';
import {
  BaselineCache,
  factsStatement,
  gatherFacts,
  gatherSignals,
  readFacts,
  RECENT_CAP,
} from '../../src/policy/signals.ts';
import { MAIL as WORLD_MAIL, REPOS as WORLD_REPOS } from '../delegation/world.ts';
import { ROOT } from '../helpers/cli.ts';
import { createTaskWorld, mint, mintOk } from '../oauth/task-world.ts';
import { ADMIN, closeDatabasesAfterEach, MAIL, mintRequest, policyWorld } from './world.ts';

closeDatabasesAfterEach();

const requests = fc.sample(
  fc.record({
    scopes: fc.subarray(
      [
        { name: 'mail:read', sensitivity: 'read' as const },
        { name: 'mail:send', sensitivity: 'write' as const },
        ADMIN,
      ],
      { minLength: 1 },
    ),
    requestedTtl: fc.integer({ min: 60, max: 3600 }),
    firstUse: fc.boolean(),
    recentOverruns: fc.integer({ min: 0, max: 4 }),
    identicalLiveToken: fc.boolean(),
  }),
  { numRuns: 60, seed: 7 },
);

describe('the policy engine', () => {
  it('decides the same with the bundle parsed once, per call, or under the /web build', async () => {
    const { database, engine, tenants } = await policyWorld();
    const tenant = tenants.acme ?? '';
    const cedar = await loadNodeCedar();
    const perCall = new PolicyEngine({ db: database.owner, cedar, parse: 'per-call' });
    const wasm = readFileSync(
      join(ROOT, 'node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm'),
    );
    const web = new PolicyEngine({ db: database.owner, cedar: await cedarFromWasm(wasm) });
    for (const r of requests) {
      const request = mintRequest({
        targets: [{ audience: MAIL, scopes: r.scopes }],
        requestedTtl: r.requestedTtl,
        identicalLiveToken: r.identicalLiveToken,
        signals: {
          firstUse: r.firstUse,
          recentCount: 1,
          baselinePerHour: 1,
          recentOverruns: r.recentOverruns,
        },
      });
      const once = await engine.decide(tenant, request);
      expect(await perCall.decide(tenant, request)).toEqual(once);
      expect(await web.decide(tenant, request)).toEqual(once);
    }
  });

  it('brings back a bundle that fell out of Cedar’s memory, deciding with the right one', async () => {
    const { database, cedar, tenants } = await policyWorld(['a', 'b', 'c']);
    const engine = new PolicyEngine({ db: database.owner, cedar, refreshMs: 0, capacity: 2 });
    const slugs = ['a', 'b', 'c'] as const;
    for (const [i, slug] of slugs.entries()) {
      // Each tenant's bundle says which it is in the reason.
      await engine.push(
        tenants[slug] ?? '',
        `@id("only-${slug}-${i}") permit (principal, action, resource);`,
        'operator',
      );
    }
    for (let round = 0; round < 3; round++) {
      for (const [i, slug] of slugs.entries()) {
        const d = await engine.decide(tenants[slug] ?? '', mintRequest());
        expect(d.reasons).toEqual([`only-${slug}-${i}`]);
      }
    }
  });

  it('keeps engines sharing one Cedar instance apart (a replay engine beside the broker’s)', async () => {
    const one = await policyWorld();
    const two = await policyWorld();
    const a = one.tenants.acme ?? '';
    const b = two.tenants.acme ?? '';
    await one.engine.push(a, '@id("first") permit (principal, action, resource);', 'operator');
    await two.engine.push(b, '@id("second") permit (principal, action, resource);', 'operator');
    expect((await one.engine.decide(a, mintRequest())).reasons).toEqual(['first']);
    expect((await two.engine.decide(b, mintRequest())).reasons).toEqual(['second']);
    expect((await one.engine.decide(a, mintRequest())).reasons).toEqual(['first']);
  });

  it('keeps at most `capacity` sets parsed, reusing the oldest slot', async () => {
    const cedar = await loadNodeCedar();
    const sets = new PreparedSets(cedar, 2);
    const policy = { p: 'permit (principal, action, resource);' };
    const a = sets.ensure('a', policy);
    const b = sets.ensure('b', policy);
    expect(sets.ensure('a', policy)).toBe(a);
    expect(sets.ensure('c', policy)).toBe(b); // b was least recently used
    expect(sets.size).toBe(2);
    expect(() => sets.ensure('d', { p: 'permit (' })).toThrow(/could not parse/);
    expect(sets.ensure('e', policy)).toBe(a); // the failed parse gave its slot back
    expect(() => new PreparedSets(cedar, 0)).toThrow(RangeError);
  });

  it('fails closed when the shipped default is asked for under an unknown digest', async () => {
    const { engine, tenants } = await policyWorld();
    await expect(
      engine.decideUnder(tenants.acme ?? '', { version: 0, digest: '0'.repeat(64) }, mintRequest()),
    ).rejects.toMatchObject({ code: 'ERR_BUNDLE_NOT_FOUND' });
  });

  it('compiles the shipped default without warnings', async () => {
    const { engine } = await policyWorld();
    const compiled = await engine.check(DEFAULT_BUNDLE);
    expect(compiled.warnings).toEqual([]);
    expect([...compiled.metas.keys()]).toEqual([
      'allow-within-grant',
      'admin-tokens-short',
      'admin-high-risk-escalates',
      'reuse-identical-token',
      'deny-after-repeated-overruns',
      'overrun-revokes-grant',
    ]);
  });
});

describe('signals from the database', () => {
  it('counts first use, the recent rate, the baseline and overruns, and finds an identical live token', async () => {
    const w = await createTaskWorld();
    try {
      const db = w.t.owner;
      const agent = w.acme.agent.clientId;
      const tenantId = w.acme.tenantId;
      const now = w.t.clock.now();
      // The redemption minted one REPOS token already; the bot never had a MAIL token.
      let s = await gatherSignals(db, { tenantId, clientId: agent, audiences: [WORLD_REPOS], now });
      expect(s).toEqual({ firstUse: false, recentCount: 1, baselinePerHour: 0, recentOverruns: 0 });
      const later = new Date(now.getTime() + 1000);
      s = await gatherSignals(db, {
        tenantId,
        clientId: agent,
        audiences: [WORLD_REPOS, WORLD_MAIL],
        now: later,
      });
      expect(s).toMatchObject({ firstUse: true, recentCount: 1 });

      const task = JSON.stringify([
        { type: 'agent_task', identifier: 'pr-7', purpose: 'Read PR 7' },
      ]);
      const minted = await mintOk(w, {
        resource: WORLD_REPOS,
        scope: 'repo:write repo:read',
        authorization_details: task,
      });
      const found = await findIdenticalLiveToken(db, {
        tenantId,
        grantId: w.grantId,
        audience: WORLD_REPOS,
        scopes: ['repo:read', 'repo:write'],
        taskId: 'pr-7',
        kind: 'access',
        dpopJkt: null,
        now: w.t.clock.now(),
      });
      expect(found?.jti).toBe(decodeJwt(minted.access_token).jti);
      const other = {
        tenantId,
        grantId: w.grantId,
        audience: WORLD_REPOS,
        kind: 'access' as const,
        dpopJkt: null,
      };
      expect(
        await findIdenticalLiveToken(db, {
          ...other,
          scopes: ['repo:read'],
          taskId: 'pr-7',
          now: w.t.clock.now(),
        }),
      ).toBeUndefined();
      expect(
        await findIdenticalLiveToken(db, {
          ...other,
          scopes: ['repo:read', 'repo:write'],
          taskId: 'pr-8',
          now: w.t.clock.now(),
        }),
      ).toBeUndefined();
      // Within 30 s of its expiry (120 s tokens), it is not worth handing back.
      expect(
        await findIdenticalLiveToken(db, {
          ...other,
          scopes: ['repo:read', 'repo:write'],
          taskId: 'pr-7',
          now: new Date(w.t.clock.now().getTime() + 100_000),
        }),
      ).toBeUndefined();

      // Asking beyond the grant is an overrun (recorded at the database's own time).
      expect((await mint(w, { resource: WORLD_REPOS, scope: 'repo:admin' })).status).toBe(400);
      s = await gatherSignals(db, {
        tenantId,
        clientId: agent,
        audiences: [WORLD_REPOS],
        now: new Date(),
      });
      expect(s.recentOverruns).toBe(1);

      // An hour later the two tokens are baseline, not recent.
      s = await gatherSignals(db, {
        tenantId,
        clientId: agent,
        audiences: [WORLD_REPOS],
        now: new Date(now.getTime() + 2 * 3600_000),
      });
      expect(s.recentCount).toBe(0);
      expect(s.baselinePerHour).toBeCloseTo(2 / (7 * 24), 10);
    } finally {
      await w.t.close();
    }
  });

  it('scores with the baseline its statement was built with, whatever the cache holds by then', () => {
    const baselines = new BaselineCache();
    const now = new Date('2026-03-02T10:00:00.000Z');
    baselines.set('t', 'a', 5, now);
    const q = { tenantId: 't', clientId: 'a', audiences: [], now, baselines };
    const statement = factsStatement(q);
    expect(statement.values.f_recent_cap).toBe(rateSaturation(5));
    // A concurrent mint refreshes the cache before this one's answer is read.
    baselines.set('t', 'a', 20, now);
    const row = {
      factsRecent: rateSaturation(5),
      factsBaseline: null,
      factsUsed: 0,
      factsOverruns: 0,
      factsScopes: null,
      factsIdentical: null,
    };
    expect(readFacts(row, q, statement).signals.baselinePerHour).toBe(5);
  });

  it('records a token minted without a task with no task (SQL NULL), one with a task as its JSON', async () => {
    const w = await createTaskWorld();
    try {
      const db = w.t.owner;
      const plain = decodeJwt((await mintOk(w, { resource: WORLD_REPOS })).access_token);
      const task = JSON.stringify([
        { type: 'agent_task', identifier: 'pr-9', purpose: 'Read PR 9' },
      ]);
      const tasked = decodeJwt(
        (await mintOk(w, { resource: WORLD_REPOS, authorization_details: task })).access_token,
      );
      const rows = await db
        .select({ jti: issuedTokens.jti, none: sql<boolean>`${issuedTokens.task} is null` })
        .from(issuedTokens)
        .where(inArray(issuedTokens.jti, [String(plain.jti), String(tasked.jti)]));
      expect(Object.fromEntries(rows.map((r) => [r.jti, r.none]))).toEqual({
        [String(plain.jti)]: true,
        [String(tasked.jti)]: false,
      });
    } finally {
      await w.t.close();
    }
  });

  it('counts the last hour only as far as the rate factor can rise, once the baseline is known', async () => {
    const w = await createTaskWorld();
    try {
      const db = w.t.owner;
      const extra = rateSaturation(0) + 2;
      for (let i = 0; i < extra; i++) await mintOk(w, { resource: WORLD_REPOS });
      const baselines = new BaselineCache();
      const q = {
        tenantId: w.acme.tenantId,
        clientId: w.acme.agent.clientId,
        audiences: [WORLD_REPOS],
        now: new Date(w.t.clock.now().getTime() + 1000),
        baselines,
      };
      // Baseline not known yet: counted up to RECENT_CAP (the redemption's token and ours).
      expect(RECENT_CAP).toBeGreaterThan(extra + 1);
      expect((await gatherFacts(db, q)).signals.recentCount).toBe(extra + 1);
      // Now known (no tokens before the last hour: the floor of 5 an hour applies).
      expect(baselines.get(q.tenantId, q.clientId, q.now)).toBe(0);
      expect((await gatherFacts(db, q)).signals.recentCount).toBe(rateSaturation(0));
    } finally {
      await w.t.close();
    }
  });
});
