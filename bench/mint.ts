/**
 * `npm run bench:mint` (= `tsx bench/mint.ts`): the per-task mint (token endpoint,
 * grant_type=refresh_token) with the policy engine and the audit ledger on, against
 * the same with both off, in one process and one run; on embedded PGlite and on
 * PostgreSQL, reported separately.
 *
 * The broker runs in-process: requests go to `app.hono.request(…)`, so no HTTP
 * server, socket or JSON-over-the-wire cost is in the figures, only the broker's
 * own work (client assertion check, form, grant lookup, policy, signing, recording).
 *
 * - ON: `createApp(deps)` (the policy engine decides every mint) with the ledger on;
 * - OFF: a second app on the same deps and database, `createApp(deps, { policy: false })`,
 *   with the ledger switched off (`setLedgerForBenchmark(false)`) during its rounds;
 * - extra rows: ON while the audit chainer runs on its timer (as `npm start` runs it),
 *   and ON with every request naming the same task (REUSE hands back the live token).
 *
 * Each request is a new task (its own `agent_task` identifier) for repo:read on one
 * API, so REUSE never short-circuits ON. Each carries a fresh client assertion (a jti
 * is accepted once); the assertions and bodies of a round are signed and built before
 * the round starts, so the timed part is the broker alone. Rounds alternate between
 * contenders so that drift in the machine's speed falls on all alike; each figure is
 * the median round, with the spread of the rounds beside it.
 *
 * The policy's facts (rate, first use, an identical live token) are counted over the
 * agent's issued tokens, so their cost grows with the agent's history. Unless
 * BENCH_RESET=0, the bench grants' tokens from earlier rounds are deleted before each
 * round (untimed), so every round starts from the same world; with the clock fixed,
 * every token minted in a round stays inside the policy's one-hour window.
 *
 * Then, one request at a time, where ON's extra time goes: a whole mint ON and OFF,
 * the facts query alone (for an agent with no tokens, then with those the mints
 * left), one engine decision, one ledger INSERT.
 *
 * Environment: BENCH_ROUNDS (default 9), BENCH_ROUND_MS (2000), BENCH_IN_FLIGHT (32),
 * BENCH_AGENTS (1: agents, each with its own grant, the requests take turns over),
 * BENCH_RESET (1), BENCH_EXTRA (1: the two extra rows). PostgreSQL: BENCH_PG_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres) names a server where a
 * throwaway database is created and dropped; BENCH_PG=0 skips it (BENCH_PGLITE=0 skips PGlite); BENCH_PG_POOL
 * (default 10, the broker's own default) sizes the connection pool. BENCH_BREAKDOWN_N
 * (200) requests per part of the breakdown. BENCH_PROFILE_DIR: write a CPU profile of
 * each timed round there (open in Chrome DevTools or speedscope).
 */
import { median, opsPerSecond } from './measure.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import postgres from 'postgres';
import { createApp, type App } from '../src/app.ts';
import { appendAudit, setLedgerForBenchmark } from '../src/audit/append.ts';
import { chainPending } from '../src/audit/chain.ts';
import { startAuditChainer, type AuditChainer } from '../src/audit/chainer.ts';
import { contentHash, normaliseEntry, type AuditEntryInput } from '../src/audit/content.ts';
import { withOwner, type TestDatabase } from '../test/helpers/db.ts';
import type { Deps } from '../src/deps.ts';
import { KeyStore } from '../src/keys/key-store.ts';
import { openPglite } from '../src/db/pglite.ts';
import { DecisionWorkers } from '../src/policy/decision-workers.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { issuedTokens } from '../src/db/schema.ts';
import { CLIENT_ASSERTION_TYPE } from '../src/oauth/client-auth.ts';
import { auditFields } from '../src/policy/replay.ts';
import type { DecisionRequest } from '../src/policy/request.ts';
import { gatherFacts } from '../src/policy/signals.ts';
import {
  agent,
  approve,
  backchannel,
  poll,
  REPOS,
  requestIdOf,
  TOKEN,
  validRequest,
  type World,
} from '../test/delegation/world.ts';
import { ISSUER } from '../test/helpers/app.ts';
import { clientAssertion, type TestClient } from '../test/helpers/clients.ts';
import { createTaskWorld } from '../test/oauth/task-world.ts';
import { tenantDb } from '../src/db/tenancy.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
/** Requests in flight at once, as a busy broker would have. */
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 32);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 1);
const RESET = process.env.BENCH_RESET !== '0';
const EXTRA = process.env.BENCH_EXTRA !== '0';
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_POOL = Number(process.env.BENCH_PG_POOL ?? 10);
/** A directory to write a CPU profile of each timed round to (`<driver>-<contender>-<round>-<requests>-mints.cpuprofile`). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/** Requests per part in the one-at-a-time breakdown. */
const BREAKDOWN_N = Number(process.env.BENCH_BREAKDOWN_N ?? 200);

const TOKEN_URL = `${ISSUER}${TOKEN}`;
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };
/** The task every request of the REUSE contender names. */
const SAME_TASK = 'bench-same-task';

/** An agent and the handle of the grant its person approved. */
interface BenchGrant {
  client: TestClient;
  grantId: string;
  handle: string;
}

interface Contender {
  name: string;
  app: App;
  ledger: boolean;
  chainer: boolean;
  /** Every request names SAME_TASK (REUSE); otherwise each names a task of its own. */
  sameTask: boolean;
  /** Bodies to pre-build per round; grows with the throughput seen. */
  capacity: number;
  rates: number[];
  p50: number[];
  p99: number[];
  /** Requests whose assertion had to be signed inside the timed part (pool ran dry). */
  inline: number;
  /** CPU per mint, µs: this process, and PostgreSQL's server processes (0 on PGlite). */
  nodeCpu: number[];
  serverCpu: number[];
}

interface Breakdown {
  mintOn: number;
  mintOff: number;
  factsEmpty: number;
  facts: number;
  /** The agent's tokens when `facts` was measured. */
  history: number;
  decide: number;
  insert: number;
  /** Of `insert`: normalising and hashing the entry, in JavaScript. */
  hash: number;
}

interface DriverFigures {
  driver: string;
  parts: Breakdown;
  rows: Pick<Contender, 'name' | 'rates' | 'p50' | 'p99' | 'inline' | 'nodeCpu' | 'serverCpu'>[];
  /** ON / OFF per round, in round order. */
  ratios: number[];
}

let serial = 0;

/** One mint request's form body, with its own freshly signed client assertion. */
async function body(w: World, g: BenchGrant, sameTask: boolean): Promise<string> {
  const task = sameTask ? SAME_TASK : `bench-task-${serial++}`;
  return new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(g.client, ISSUER, { now: w.t.clock.now() }),
    grant_type: 'refresh_token',
    refresh_token: g.handle,
    resource: REPOS,
    scope: 'repo:read',
    authorization_details: JSON.stringify([
      { type: 'agent_task', identifier: task, purpose: 'Benchmark one task' },
    ]),
  }).toString();
}

/** Another agent of Ada's tenant with a redeemed grant of its own, through the real CIBA flow. */
async function extraGrant(w: World, n: number): Promise<BenchGrant> {
  const client = await agent(w.t, 'acme', w.acme.tenantId, `Bench bot ${n}`);
  const started = await backchannel(w, validRequest, client);
  if (started.status !== 200) throw new Error(`backchannel: ${await started.text()}`);
  const { auth_req_id } = (await started.json()) as { auth_req_id: string };
  const { grantId } = await approve(w, await requestIdOf(w.t, auth_req_id));
  const res = await poll(w, auth_req_id, client);
  if (res.status !== 200) throw new Error(`redemption: ${await res.text()}`);
  return {
    client,
    grantId,
    handle: ((await res.json()) as { refresh_token: string }).refresh_token,
  };
}

async function mintOnce(app: App, payload: string): Promise<void> {
  const res = await app.hono.request(TOKEN_URL, {
    method: 'POST',
    headers: HEADERS,
    body: payload,
  });
  if (res.status !== 200) throw new Error(`mint refused: ${res.status} ${await res.text()}`);
}

/**
 * CPU time (µs) used so far by the machine's PostgreSQL server processes, from /proc: where
 * a mint's database work lands when it runs outside this process. 0 where /proc is absent.
 */
function serverCpuMicros(): number {
  let ticks = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      // Fields after the command: state is the 3rd field; utime and stime the 14th and 15th.
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  // Linux reports in clock ticks of 1/100 s (USER_HZ) on every platform Node runs on.
  return ticks * 10_000;
}

let profileRound = 0;

/** The V8 profiler around the timed part only: setup and pre-signing stay out of it. */
async function startProfiler(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(PROFILE_DIR ?? '.', { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Deletes the tokens minted from the bench grants: back to the world as it was set up. */
async function resetTokens(w: World, grants: BenchGrant[]): Promise<void> {
  await w.t.owner.delete(issuedTokens).where(
    inArray(
      issuedTokens.grantId,
      grants.map((g) => g.grantId),
    ),
  );
}

async function runRound(
  w: World,
  deps: Deps,
  grants: BenchGrant[],
  c: Contender,
): Promise<{
  rate: number;
  used: number;
  latencies: number[];
  nodeCpu: number;
  serverCpu: number;
}> {
  if (RESET) await resetTokens(w, grants);
  setLedgerForBenchmark(c.ledger);
  // REUSE needs the live token it hands back.
  // REUSE: every request names the same task of the first grant, whose live token the
  // policy hands back; that token is minted here, before the round.
  const pick = (i: number) => (c.sameTask ? grants[0]! : grants[i % grants.length]!);
  if (c.sameTask) await mintOnce(c.app, await body(w, pick(0), true));
  const bodies: string[] = [];
  for (let i = 0; i < c.capacity; i++) {
    bodies.push(await body(w, pick(i), c.sameTask));
  }
  let chainer: AuditChainer | undefined;
  if (c.chainer) {
    await chainPending(w.t.deps.database.db, { lookbackMs: Number.POSITIVE_INFINITY });
    chainer = startAuditChainer(deps);
  }
  let next = 0;
  const latencies: number[] = [];
  const op = async () => {
    const i = next++;
    let payload = bodies[i];
    if (payload === undefined) {
      c.inline++;
      payload = await body(w, pick(i), c.sameTask);
    }
    const t0 = performance.now();
    await mintOnce(c.app, payload);
    latencies.push(performance.now() - t0);
  };
  const profiler = PROFILE_DIR === undefined ? undefined : await startProfiler();
  const cpu0 = process.cpuUsage();
  const server0 = serverCpuMicros();
  // Requests reach a broker through I/O: yield after each, so timers (the chainer's) run.
  const rate = await opsPerSecond(op, { ms: ROUND_MS, inFlight: IN_FLIGHT, yieldEach: true });
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = (serverCpuMicros() - server0) / Math.max(1, next);
  const nodeCpu = (cpu.user + cpu.system) / Math.max(1, next);
  if (profiler) {
    // The name carries the requests the round completed, to turn samples into time per mint.
    const name = `${w.t.deps.database.driver}-${c.name.replace(/[^A-Za-z]+/g, '_')}-${profileRound++}-${next}-mints`;
    await profiler.stop(join(PROFILE_DIR ?? '.', `${name}.cpuprofile`));
  }
  await chainer?.stop();
  setLedgerForBenchmark(true);
  if (c.sameTask && RESET) {
    const tokens = await w.t.owner.$count(issuedTokens, eq(issuedTokens.grantId, pick(0).grantId));
    if (tokens !== 1) throw new Error(`REUSE minted ${tokens} tokens instead of handing one back`);
  }
  return { rate, used: next, latencies, nodeCpu, serverCpu };
}

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
};

async function measure(driver: string, database: TestDatabase): Promise<DriverFigures> {
  // Decision worker pools the apps below use; stopped when the driver is done.
  const pools: DecisionWorkers[] = [];
  const pool = (size: number) => {
    const p = new DecisionWorkers(size);
    pools.push(p);
    return p;
  };
  // The rate limits run (their counter upserts are part of a mint's cost) but never refuse:
  // one agent minting flat out on a fixed clock is exactly what they would otherwise stop.
  const w = await createTaskWorld(
    { MANDATE_RATE_LIMIT_AGENT: '1000000', MANDATE_RATE_LIMIT_ADDRESS: '1000000' },
    database,
  );
  const grants: BenchGrant[] = [{ client: w.acme.agent, grantId: w.grantId, handle: w.handle }];
  for (let n = 1; n < AGENTS; n++) grants.push(await extraGrant(w, n));
  // The test app's key store re-reads the keys at every signing (cacheMs 0, for tests that
  // rotate); the broker's caches them for 30 s. Both apps here run on the broker's, and
  // decide where the broker does (open-deps.ts: MANDATE_POLICY_WORKERS worker threads).
  const { config } = w.t.deps;
  const workers = Number(process.env.BENCH_POLICY_WORKERS ?? config.policyWorkers);
  const deps: Deps = {
    ...w.t.deps,
    ...(workers > 0 ? { authorizer: pool(workers) } : {}),
    keys: new KeyStore(database.db, w.t.kek, {
      alg: config.signingAlg,
      maxTokenTtl: config.accessTokenMaxTtl,
      clockSkew: config.clockSkew,
      rotationDays: config.keyRotationDays,
      clock: w.t.clock,
    }),
  };
  console.log(
    `\n${database.driver}: policy decisions ${deps.authorizer ? `on ${workers} worker thread(s)` : 'on the event loop'}`,
  );
  const onApp = createApp(deps);
  const off = createApp(deps, { policy: false });
  const contender = (name: string, app: App, o: Partial<Contender> = {}): Contender => ({
    name,
    app,
    ledger: true,
    chainer: false,
    sameTask: false,
    capacity: 4000,
    rates: [],
    p50: [],
    p99: [],
    inline: 0,
    nodeCpu: [],
    serverCpu: [],
    ...o,
  });
  const on = contender('ON: policy + ledger', onApp);
  const offC = contender('OFF: no policy, no ledger', off, { ledger: false });
  const contenders = [on, offC];
  if (EXTRA) {
    // The other place decisions can run, for comparison in the same run.
    if (deps.authorizer) {
      const here: Deps = { ...deps };
      delete here.authorizer;
      contenders.push(contender('ON, decisions on the event loop', createApp(here)));
    } else {
      const there: Deps = { ...deps, authorizer: pool(1) };
      contenders.push(contender('ON, decisions on 1 worker thread', createApp(there)));
    }
    contenders.push(
      contender('ON, audit chainer running', onApp, { chainer: true }),
      contender('ON, same task id (REUSE)', onApp, { sameTask: true }),
    );
  }
  let parts: Breakdown | undefined;
  try {
    // Warm-up (not recorded): JIT, caches, the policy bundle parsed; sizes each pool.
    for (const c of contenders) {
      const { rate } = await runRound(w, deps, grants, c);
      c.capacity = Math.ceil((rate * ROUND_MS * 1.6) / 1000) + 256;
      c.inline = 0;
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contenders) {
        const { rate, used, latencies, nodeCpu, serverCpu } = await runRound(w, deps, grants, c);
        c.rates.push(rate);
        c.nodeCpu.push(nodeCpu);
        c.serverCpu.push(serverCpu);
        c.p50.push(percentile(latencies, 0.5));
        c.p99.push(percentile(latencies, 0.99));
        c.capacity = Math.max(c.capacity, Math.ceil(used * 1.5));
      }
    }
    await resetTokens(w, grants);
    parts = await breakdown(w, deps, onApp, off, grants[0]!);
  } finally {
    setLedgerForBenchmark(true);
    await Promise.all([...new Set(contenders.map((c) => c.app))].map((a) => a.close()));
    await Promise.all(pools.map((p) => p.close()));
    // The setup app's own close (TestApp.close would close the database too).
    await w.t.revocations.close();
  }
  if (!parts) throw new Error('no breakdown');
  return {
    driver,
    parts,
    rows: contenders.map((c) => ({
      name: c.name,
      rates: c.rates,
      p50: c.p50,
      p99: c.p99,
      inline: c.inline,
      nodeCpu: c.nodeCpu,
      serverCpu: c.serverCpu,
    })),
    ratios: on.rates.map((r, i) => r / (offC.rates[i] ?? Number.NaN)),
  };
}

/** Median microseconds of `op`, run one at a time `n` times. */
async function microsEach(op: () => Promise<unknown>, n = BREAKDOWN_N): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op();
    times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

/**
 * Where ON's extra time goes, one request at a time (no queueing): a whole mint with
 * and without, then each added part alone — the facts query as the mint asks it, one
 * engine decision on its answer, one ledger INSERT inside an open transaction.
 */
async function breakdown(w: World, deps: Deps, on: App, off: App, grant: BenchGrant) {
  // As the broker reads and writes: in the tenant's scope (row-level security). A
  // statement outside a transaction runs in one of its own that names the tenant.
  const db = tenantDb(deps.database.db, w.acme.tenantId);
  const policy = on.policy;
  if (!policy) throw new Error('the ON app has no policy engine');
  const now = w.t.clock.now();
  const mints = async (c: { app: App; ledger: boolean }) => {
    const bodies: string[] = [];
    for (let i = 0; i < BREAKDOWN_N; i++) bodies.push(await body(w, grant, false));
    setLedgerForBenchmark(c.ledger);
    let i = 0;
    const us = await microsEach(() => mintOnce(c.app, bodies[i++] ?? ''));
    setLedgerForBenchmark(true);
    return us;
  };
  const factsQuery = {
    tenantId: w.acme.tenantId,
    clientId: grant.client.clientId,
    audiences: [REPOS],
    now,
    apiScopes: [{ apiClientId: w.acme.api.clientId, names: ['repo:read'] }],
    identical: {
      grantId: grant.grantId,
      audience: REPOS,
      scopes: ['repo:read'],
      taskId: 'bench-breakdown',
      kind: 'access' as const,
      dpopJkt: null,
    },
  };
  const facts = await gatherFacts(db, factsQuery);
  const request: DecisionRequest = {
    action: 'MintTaskToken',
    agent: grant.client.clientId,
    person: w.acme.userId,
    targets: [{ audience: REPOS, scopes: [{ name: 'repo:read', sensitivity: 'read' }] }],
    task: { id: 'bench-breakdown', purpose: 'Benchmark one task' },
    requestedTtl: 120,
    ttlCeiling: 120,
    at: now,
    signals: facts.signals,
    identicalLiveToken: facts.identical !== undefined,
    depth: 0,
  };
  const decision = await policy.decide(w.acme.tenantId, request);
  const entry: AuditEntryInput = {
    ...auditFields(decision),
    tenantId: w.acme.tenantId,
    at: now,
    action: 'token.minted',
    actor: `agent:${grant.client.clientId}`,
    subject: 'token:bench-breakdown',
  };
  // The facts are counted over the agent's tokens: first with none (the tokens of the
  // rounds were deleted), then with those the mints below leave behind.
  const factsEmptyUs = await microsEach(() => gatherFacts(db, factsQuery));
  const decideUs = await microsEach(() => policy.decide(w.acme.tenantId, request));
  // Many INSERTs in one transaction: the INSERT's own cost, without a commit of its own
  // (the mint commits anyway; its one commit carries the entry too).
  const perTx = 50;
  const insertUs =
    (await microsEach(
      () =>
        db.transaction(async (tx) => {
          for (let i = 0; i < perTx; i++) await appendAudit(tx, entry);
        }),
      Math.max(3, Math.round(BREAKDOWN_N / perTx)),
    )) / perTx;
  const hashUs = await microsEach(() => Promise.resolve(contentHash(normaliseEntry(entry))));
  const mintOn: number[] = [];
  const mintOff: number[] = [];
  for (let k = 0; k < 3; k++) {
    mintOn.push(await mints({ app: on, ledger: true }));
    mintOff.push(await mints({ app: off, ledger: false }));
  }
  const history = await db.$count(issuedTokens, eq(issuedTokens.grantId, grant.grantId));
  const factsUs = await microsEach(() => gatherFacts(db, factsQuery));
  return {
    mintOn: median(mintOn),
    mintOff: median(mintOff),
    factsEmpty: factsEmptyUs,
    facts: factsUs,
    history,
    decide: decideUs,
    insert: insertUs,
    hash: hashUs,
  };
}

async function onPostgres(): Promise<DriverFigures | null> {
  if (process.env.BENCH_PG === '0') return null;
  const name = `mandate_bench_mint_${process.pid}`;
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (err) {
    console.error(`skipping PostgreSQL (${PG_URL}): ${String(err)}`);
    await admin.end();
    return null;
  }
  try {
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    const database = withOwner(await openPostgres({ url: url.href, max: PG_POOL }), url.href);
    try {
      return await measure(`PostgreSQL (postgres.js, pool ${PG_POOL})`, database);
    } finally {
      await database.close();
    }
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

/** Each driver's figures as soon as it is done. */
function report(d: DriverFigures): void {
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  const ms = (x: number) => x.toFixed(2);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const off = median(d.rows[1]?.rates ?? []);
  console.log(`\n${d.driver}\n`);
  console.log(
    '| contender | mints/s (median) | rounds min–max | of OFF | p50 latency ms | p99 latency ms | CPU µs per mint: broker + server |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of d.rows) {
    const m = median(r.rates);
    const warn = r.inline > 0 ? ` (${r.inline} assertions signed while timed)` : '';
    console.log(
      `| ${r.name}${warn} | ${f(m)} | ${f(Math.min(...r.rates))}–${f(Math.max(...r.rates))} | ` +
        `${pct(m / off)} | ${ms(median(r.p50))} | ${ms(median(r.p99))} | ` +
        `${f(median(r.nodeCpu))} + ${f(median(r.serverCpu))} |`,
    );
  }
  console.log(
    `\nON/OFF: ${pct(median(d.rows[0]?.rates ?? []) / off)} of medians; per round ` +
      `${pct(Math.min(...d.ratios))}–${pct(Math.max(...d.ratios))} (median ${pct(median(d.ratios))})`,
  );
  const b = d.parts;
  const us = (x: number) => `${Math.round(x)} µs`;
  console.log(
    `\none request at a time, median of ${BREAKDOWN_N} (3 alternating blocks for the mints):\n`,
  );
  console.log('| part | time |');
  console.log('| --- | ---: |');
  console.log(`| whole mint, ON | ${us(b.mintOn)} |`);
  console.log(`| whole mint, OFF | ${us(b.mintOff)} |`);
  console.log(`| ON − OFF | ${us(b.mintOn - b.mintOff)} |`);
  console.log(
    `| facts query (gatherFacts, with the REUSE lookup), agent with no tokens | ${us(b.factsEmpty)} |`,
  );
  console.log(`| facts query, agent with ${b.history} tokens in the last hour | ${us(b.facts)} |`);
  console.log(`| one engine decision (PolicyEngine.decide) | ${us(b.decide)} |`);
  console.log(`| one ledger INSERT (appendAudit inside a transaction) | ${us(b.insert)} |`);
  console.log(`| … of which normalising and hashing the entry | ${us(b.hash)} |`);
  // One line per driver for scripts: driver, ON, OFF, ratio.
  console.log(
    `MINT_BENCH ${JSON.stringify({
      driver: d.driver,
      on: Math.round(median(d.rows[0]?.rates ?? [])),
      off: Math.round(off),
      ratio: Number((median(d.rows[0]?.rates ?? []) / off).toFixed(4)),
    })}`,
  );
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, ${process.platform}`,
  );
  console.log(
    `rounds: ${ROUNDS} × ${ROUND_MS} ms per contender, alternating; ${IN_FLIGHT} in flight; ` +
      `${AGENTS} agent(s); reset between rounds: ${RESET ? 'yes' : 'no'}`,
  );
  if (process.env.BENCH_PGLITE !== '0') {
    const pglite = withOwner(await openPglite());
    try {
      report(await measure('PGlite (in-memory)', pglite));
    } finally {
      await pglite.close();
    }
  }
  const pg = await onPostgres();
  if (pg) report(pg);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
