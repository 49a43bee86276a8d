/**
 * `npx tsx bench/policy.ts`: what a Cedar decision costs on the mint path, with the
 * bundle parsed once and kept inside Cedar (how the engine runs) against the
 * schema and policies parsed at every call, in one process and one run.
 *
 * Each contender runs `PolicyEngine.decide` under the shipped default bundle on an
 * in-memory PGlite (the version in force is cached, so the database is not asked
 * per decision). Rounds alternate between contenders so that drift in the
 * machine's speed falls on all of them alike; each figure is the median round.
 * `BENCH_ROUNDS` (default 7) and `BENCH_ROUND_MS` (default 1000) override.
 */
import { median } from './measure.ts';
import { cpus } from 'node:os';
import { openPglite } from '../src/db/pglite.ts';
import { loadNodeCedar } from '../src/policy/cedar.ts';
import { PolicyEngine, type PolicyEngineOptions } from '../src/policy/engine.ts';
import type { DecisionRequest } from '../src/policy/request.ts';
import { createTenant, tenantIdOf } from '../src/registry/tenants.ts';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

function request(scopes: number): DecisionRequest {
  const catalogue = [
    { name: 'mail:read', sensitivity: 'read' as const },
    { name: 'mail:send', sensitivity: 'write' as const },
    { name: 'mail:admin', sensitivity: 'admin' as const },
  ];
  return {
    action: 'MintTaskToken',
    agent: 'agent_bench',
    person: 'user-bench',
    targets: [{ audience: 'https://mail.example/api', scopes: catalogue.slice(0, scopes) }],
    task: { id: 'task-1', purpose: 'benchmark' },
    requestedTtl: 300,
    ttlCeiling: 900,
    at: new Date('2026-03-02T10:00:00Z'),
    signals: { firstUse: false, recentCount: 3, baselinePerHour: 4, recentOverruns: 0 },
  };
}

/** Microseconds per decision over one round. */
async function microsPerDecision(decide: () => Promise<unknown>): Promise<number> {
  let done = 0;
  const started = performance.now();
  const end = started + ROUND_MS;
  while (performance.now() < end) {
    await decide();
    done++;
  }
  return ((performance.now() - started) * 1000) / done;
}

async function main(): Promise<void> {
  const database = await openPglite();
  await createTenant(database.db, 'bench');
  const tenant = await tenantIdOf(database.db, 'bench');
  const cedar = await loadNodeCedar();
  const engine = (o: Partial<PolicyEngineOptions>) =>
    new PolicyEngine({ db: database.db, cedar, refreshMs: 60_000, ...o });

  const contenders = [
    { name: 'parsed once (how the engine runs)', engine: engine({}) },
    {
      name: 'parsed once, request validated against the schema',
      engine: engine({ validateRequests: true }),
    },
    { name: 'schema and policies parsed per call', engine: engine({ parse: 'per-call' }) },
  ];
  const shapes = [1, 3];
  const results = new Map<string, number[]>();
  for (const c of contenders) {
    for (const n of shapes) await c.engine.decide(tenant, request(n)); // warm: parse, JIT
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of contenders) {
      for (const n of shapes) {
        const key = `${c.name}|${n}`;
        const r = request(n);
        results.set(key, [
          ...(results.get(key) ?? []),
          await microsPerDecision(() => c.engine.decide(tenant, r)),
        ]);
      }
    }
  }
  await database.close();

  const base = (n: number) => median(results.get(`${contenders[0]?.name}|${n}`) ?? []);
  console.log(
    `Cedar ${cedar.getCedarVersion()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  );
  console.log(`${ROUNDS} rounds of ${ROUND_MS} ms per contender; median round\n`);
  console.log('| contender | µs per decision, 1 scope | µs, 3 scopes | × parsed once (1 scope) |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const c of contenders) {
    const one = median(results.get(`${c.name}|1`) ?? []);
    const three = median(results.get(`${c.name}|3`) ?? []);
    console.log(
      `| ${c.name} | ${one.toFixed(0)} | ${three.toFixed(0)} | ${(one / base(1)).toFixed(1)} |`,
    );
  }
}

await main();
