/**
 * `npm run bench`: the per-task mint end to end over HTTP, against the raw signing limit
 * and a peer OAuth server, in one run (docs/BENCHMARKS.md).
 *
 * - Mandate: the real broker (`src/node.ts`, as `npm start` runs it: audit chainer,
 *   rate limits, policy), on PostgreSQL and then on PGlite, serving
 *   grant_type=refresh_token mints: client assertion verified, grant read, policy
 *   decided, token signed, recorded and audited. Each request is a new task.
 * - Peer: oidc-provider's client_credentials endpoint (bench/http/peer.ts).
 * - Raw: jose verifying an EdDSA assertion and signing an EdDSA token (bench/http/raw.ts).
 *
 * Load: autocannon in its own process (bench/http/load.ts), every request with its own
 * pre-signed assertion, at each concurrency of BENCH_CONNECTIONS. The server under test
 * and the raw limit run pinned to core 0, the load generator to core 1 (`taskset`;
 * PostgreSQL, on the same machine, is not pinned), so the generator never takes the
 * server's core.
 *
 * Environment: BENCH_CONNECTIONS (default 1,8,32,64), BENCH_SECONDS (10), BENCH_WARMUP (3),
 * BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres; a throwaway database is
 * created there), BENCH_PG=0 / BENCH_PGLITE=0 / BENCH_PEER=0 skip those, BENCH_OUT
 * (a JSON file for the figures), BENCH_RATE_LIMITS=0 (limits off), BENCH_PROFILE_DIR (the broker writes a V8 CPU profile
 * there when it stops; bench/profile-summary.ts reads it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import postgres from 'postgres';
import { openPglite } from '../src/db/pglite.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { REPOS } from '../test/delegation/world.ts';
import { ISSUER } from '../test/helpers/app.ts';
import { withOwner, type TestDatabase } from '../test/helpers/db.ts';
import { brokerUrl, createBrokerLogin } from '../test/helpers/pg-url.ts';
import { createTaskWorld } from '../test/oauth/task-world.ts';
import type { LoadResult, LoadSpec } from './http/load.ts';
import { seedScale, tableSizes } from './seed-scale.ts';

const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,8,32,64').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** BENCH_SCALE=1: history seeded before the PostgreSQL runs (BENCH_SCALE_GRANTS, _TOKENS). */
const SCALE = process.env.BENCH_SCALE === '1';
const SCALE_GRANTS = Number(process.env.BENCH_SCALE_GRANTS ?? 1_000_000);
const SCALE_TOKENS = Number(process.env.BENCH_SCALE_TOKENS ?? 10_000_000);
const BROKER_PORT = 18787;
const PEER_PORT = 18788;
const SERVER_CORE = '0';
const LOAD_CORE = '1';
const TSX = ['--import', 'tsx'];

interface Series {
  name: string;
  runs: (LoadResult & { rssMiB?: number })[];
}

/** Starts `args` under node pinned to `core`, resolving once it prints a line matching `ready`. */
async function startPinned(
  core: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<ChildProcess> {
  const child = spawn('taskset', ['-c', core, process.execPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const check = (chunk: Buffer) => {
      seen += String(chunk);
      if (ready.test(seen)) resolve();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${seen}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** One load run from core 1, as a child process; its JSON line is the result. */
function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'taskset',
      ['-c', LOAD_CORE, process.execPath, ...TSX, join(import.meta.dirname, 'http', 'load.ts')],
      {
        env: { ...process.env, BENCH_LOAD: JSON.stringify(spec) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as LoadResult);
      else reject(new Error(`load generator exited ${code}: ${out}`));
    });
  });
}

/** The resident set of a process, MiB (from /proc). */
function rssMiB(pid: number | undefined): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function series(
  name: string,
  server: ChildProcess,
  base: Omit<LoadSpec, 'connections' | 'seconds' | 'warmupSeconds' | 'ceiling'>,
): Promise<Series> {
  const runs: Series['runs'] = [];
  for (const connections of CONNECTIONS) {
    const result = await load({
      ...base,
      connections,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      ceiling: 4000,
      ...(server.pid ? { serverPid: server.pid } : {}),
    });
    const rss = rssMiB(server.pid);
    runs.push({ ...result, ...(rss ? { rssMiB: rss } : {}) });
    console.log(
      `${name.padEnd(28)} c=${String(connections).padStart(3)}  ${result.rps.toFixed(0).padStart(6)}/s  p50 ${result.p50} ms  p99 ${result.p99} ms  ok ${result.ok}  refused ${result.non2xx}  errors ${result.errors}${result.dry ? `  DRY ${result.dry}` : ''}${rss ? `  rss ${rss.toFixed(0)} MiB` : ''}  cpu/req: server ${((result.serverCpuMicros ?? 0) / 1000).toFixed(2)} ms, postgres ${((result.postgresCpuMicros ?? 0) / 1000).toFixed(2)} ms`,
    );
    if (result.firstRefusal) console.log(`  first refusal: ${result.firstRefusal}`);
  }
  return { name, runs };
}

/**
 * A world with a redeemed grant on `database` (closed afterwards): what the broker needs
 * (the KEK its keys are sealed under) and what a load generator needs to mint under it.
 */
async function seed(database: TestDatabase) {
  // The limits run (their upserts are part of a mint's cost) but never refuse.
  const w = await createTaskWorld(
    { MANDATE_RATE_LIMIT_AGENT: '1000000', MANDATE_RATE_LIMIT_ADDRESS: '1000000' },
    database,
  );
  const client = w.acme.agent;
  const privateJwk: JWK = { ...(await exportJWK(client.privateKey)), kid: client.publicJwk.kid };
  const scale = { tenantId: w.acme.tenantId, userId: w.acme.userId };
  const kek = Buffer.from(w.t.kek).toString('base64url');
  // Closes the seeding app and `database`: from here on the broker process owns it.
  await w.t.close();
  return {
    kek,
    scale,
    spec: {
      url: `http://localhost:${BROKER_PORT}/oauth/token`,
      clientId: client.clientId,
      privateJwk,
      audience: ISSUER,
      fields: {
        grant_type: 'refresh_token',
        refresh_token: w.handle,
        resource: REPOS,
        scope: 'repo:read',
      },
      taskPerRequest: true,
    },
  };
}

/** BENCH_RATE_LIMITS=0 turns the limits off, to see what their checks cost. */
const LIMIT = process.env.BENCH_RATE_LIMITS === '0' ? '0' : '1000000';
const brokerEnv = (extra: Record<string, string>) => ({
  PORT: String(BROKER_PORT),
  HOST: 'localhost',
  PUBLIC_URL: ISSUER,
  MANDATE_RATE_LIMIT_AGENT: LIMIT,
  MANDATE_RATE_LIMIT_ADDRESS: LIMIT,
  ...extra,
});
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/** The broker as `npm start` runs it; with BENCH_PROFILE_DIR, writing a CPU profile on exit. */
const BROKER_ARGS = [
  ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
  ...TSX,
  join(import.meta.dirname, '..', 'src', 'node.ts'),
];

async function onPostgres(): Promise<Series | null> {
  if (process.env.BENCH_PG === '0') return null;
  const name = `mandate_bench_http_${process.pid}`;
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  try {
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    const database = withOwner(await openPostgres({ url: url.href, max: 2 }), url.href);
    await createBrokerLogin(admin);
    const { kek, spec, scale } = await seed(database);
    if (SCALE) {
      console.log(`seeding ${SCALE_GRANTS} grants and ${SCALE_TOKENS} tokens`);
      await seedScale(
        url.href,
        {
          ...scale,
          audience: REPOS,
          agents: 1000,
          grants: SCALE_GRANTS,
          tokens: SCALE_TOKENS,
          listSize: 1_048_576,
        },
        (m) => console.log(m),
      );
    }
    const broker = await startPinned(
      SERVER_CORE,
      BROKER_ARGS,
      brokerEnv({ DATABASE_URL: brokerUrl(url.href), MANDATE_KEK: kek }),
      /mandate listening/,
    );
    try {
      const name = SCALE
        ? `Mandate mint, PostgreSQL, ${SCALE_TOKENS / 1e6} M tokens`
        : 'Mandate mint, PostgreSQL';
      const result = await series(name, broker, spec);
      if (SCALE) await showStatusList();
      return result;
    } finally {
      await stop(broker);
      if (SCALE) console.log('sizes:', JSON.stringify(await tableSizes(url.href)));
    }
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

/** A seeded list of 2^20 positions, 1 % revoked: its size and the time to serve it. */
async function showStatusList(): Promise<void> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  const [{ id } = { id: '' }] = await sql<{ id: string }[]>`select md5('l0')::uuid::text as id`;
  await sql.end();
  for (const path of [`/status/${id}`, `/status/${id}/credential`]) {
    const t = performance.now();
    const res = await fetch(`http://localhost:${BROKER_PORT}${path}`);
    const body = await res.text();
    console.log(
      `status list ${path.endsWith('credential') ? '(W3C credential)' : '(statuslist+jwt)'}: ${res.status}, ${body.length} bytes, ${(performance.now() - t).toFixed(0)} ms`,
    );
  }
}

async function onPglite(): Promise<Series | null> {
  if (process.env.BENCH_PGLITE === '0') return null;
  const dir = mkdtempSync(join(tmpdir(), 'mandate-bench-'));
  try {
    const handle = await openPglite({ dataDir: join(dir, 'pgdata') });
    const { kek, spec } = await seed(withOwner(handle));
    const broker = await startPinned(
      SERVER_CORE,
      BROKER_ARGS,
      brokerEnv({ MANDATE_DATA_DIR: dir, MANDATE_KEK: kek }),
      /mandate listening/,
    );
    try {
      return await series('Mandate mint, PGlite', broker, spec);
    } finally {
      await stop(broker);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function onPeer(): Promise<Series | null> {
  if (process.env.BENCH_PEER === '0') return null;
  const client = await generateKeyPair('EdDSA', { extractable: true });
  const signing = await generateKeyPair('EdDSA', { extractable: true });
  const issuer = `http://localhost:${PEER_PORT}`;
  const peer = await startPinned(
    SERVER_CORE,
    [...TSX, join(import.meta.dirname, 'http', 'peer.ts')],
    {
      BENCH_PEER: JSON.stringify({
        port: PEER_PORT,
        issuer,
        resource: REPOS,
        scope: 'repo:read',
        clientId: 'bench',
        clientJwk: { ...(await exportJWK(client.publicKey)), kid: 'client', alg: 'EdDSA' },
        signingJwk: {
          ...(await exportJWK(signing.privateKey)),
          kid: 'peer',
          alg: 'EdDSA',
          use: 'sig',
        },
      }),
    },
    /^ready$/m,
  );
  try {
    return await series('oidc-provider, memory', peer, {
      url: `${issuer}/token`,
      clientId: 'bench',
      privateJwk: { ...(await exportJWK(client.privateKey)), kid: 'client' },
      audience: issuer,
      fields: { grant_type: 'client_credentials', scope: 'repo:read', resource: REPOS },
      taskPerRequest: false,
    });
  } finally {
    await stop(peer);
  }
}

async function rawLimit(): Promise<number> {
  const child = spawn(
    'taskset',
    ['-c', SERVER_CORE, process.execPath, ...TSX, join(import.meta.dirname, 'http', 'raw.ts')],
    {
      env: { ...process.env, BENCH_RAW: JSON.stringify({ seconds: SECONDS, inFlight: 32 }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  await new Promise((resolve) => child.once('exit', resolve));
  return (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { opsPerSecond: number })
    .opsPerSecond;
}

const best = (s: Series | null) => Math.max(0, ...(s?.runs.map((r) => r.rps) ?? []));

async function main(): Promise<void> {
  console.log(
    `${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, Node ${process.version}; ` +
      `server and raw limit on core ${SERVER_CORE}, load generator on core ${LOAD_CORE}; ` +
      `${SECONDS} s per run after ${WARMUP} s of warm-up`,
  );
  const raw = await rawLimit();
  console.log(`raw limit (jose verify + sign, EdDSA, 32 in flight): ${raw.toFixed(0)}/s`);
  const pg = await onPostgres();
  const peer = await onPeer();
  const lite = await onPglite();
  const peerBest = best(peer);
  for (const s of [pg, lite]) {
    if (!s) continue;
    const top = best(s);
    console.log(
      `${s.name}: best ${top.toFixed(0)}/s = ${((100 * top) / raw).toFixed(1)} % of the raw limit` +
        (peerBest ? `, ${(top / peerBest).toFixed(2)}x the peer (${peerBest.toFixed(0)}/s)` : ''),
    );
  }
  if (process.env.BENCH_OUT) {
    writeFileSync(
      process.env.BENCH_OUT,
      `${JSON.stringify({ raw, series: [pg, peer, lite].filter(Boolean) }, null, 2)}\n`,
    );
  }
}

await main();
