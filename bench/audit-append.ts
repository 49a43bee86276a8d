/**
 * `npx tsx bench/audit-append.ts`: what the audit ledger costs on the write path, on
 * embedded PGlite and on PostgreSQL, in one run.
 *
 * - transactions per second from 32 in flight: a read-only one, a durable empty one
 *   (a transaction id, so its commit flushes the WAL: the floor for any write), one
 *   appendAudit, and one appendAudit while a chainer runs on its 250 ms timer (and how
 *   many entries it had yet to link when the writers stopped);
 * - the chainer's throughput on a backlog of unchained entries across 8 tenants;
 * - verifyLedger's throughput over the result.
 *
 * PostgreSQL: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) names
 * a server where a throwaway database is created and dropped; BENCH_PG=0 skips it.
 * BENCH_ROUND_MS (default 3000) and BENCH_BACKLOG (default 20000) size the run.
 */
import { opsPerSecond } from './measure.ts';
import { cpus } from 'node:os';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { appendAudit, appendAuditMany } from '../src/audit/append.ts';
import { chainPending } from '../src/audit/chain.ts';
import { startAuditChainer } from '../src/audit/chainer.ts';
import type { AuditEntryInput } from '../src/audit/content.ts';
import { verifyLedger } from '../src/audit/verify.ts';
import { systemClock } from '../src/clock.ts';
import type { DatabaseHandle } from '../src/db/database.ts';
import { openPglite } from '../src/db/pglite.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { auditEntries, auditLinks } from '../src/db/schema.ts';
import { generateKek, parseKek } from '../src/keys/kek.ts';
import { KeyStore } from '../src/keys/key-store.ts';
import { createTenant, tenantIdOf } from '../src/registry/tenants.ts';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 3000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 20_000);
const IN_FLIGHT = 32;
const TENANTS = 8;
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Figures {
  driver: string;
  emptyTx: number;
  commitTx: number;
  append: number;
  appendChaining: number;
  chainLag: number;
  chain: number;
  verify: number;
}

const perSecond = (op: () => Promise<unknown>) =>
  opsPerSecond(op, { ms: ROUND_MS, inFlight: IN_FLIGHT, yieldEach: true });

/** A mint-sized entry: a decision with its policy, risk score and a handful of inputs. */
function entry(tenantId: string, n: number): AuditEntryInput {
  return {
    tenantId,
    at: new Date(),
    action: 'token.minted',
    actor: 'agent:agent_bench',
    subject: `token:jti-${n}`,
    decision: 'ALLOW',
    policyId: 'bundle-bench',
    policyVersion: 3,
    policyDigest: 'a'.repeat(64),
    riskScore: 12.5,
    inputs: {
      scope: ['mail:read'],
      resource: 'https://mail.example/api',
      task: { id: `task-${n}`, purpose: 'summarise the inbox' },
      ttl: 300,
      person: 'user-1',
    },
  };
}

async function measure(driver: string, database: DatabaseHandle): Promise<Figures> {
  const { db } = database;
  const clock = systemClock;
  const keys = new KeyStore(db, parseKek(generateKek()), {
    alg: 'EdDSA',
    maxTokenTtl: 300,
    clockSkew: 30,
    rotationDays: 0,
    clock,
  });
  await keys.ensure();
  const tenants: string[] = [];
  for (let i = 0; i < TENANTS; i++) {
    await createTenant(db, `bench-${i}`);
    tenants.push(await tenantIdOf(db, `bench-${i}`));
  }
  let n = 0;
  const next = () => entry(tenants[n % TENANTS]!, n++);

  const emptyTx = await perSecond(() => db.transaction((tx) => tx.execute(sql`select 1`)));
  // A transaction id makes the commit durable (a WAL flush) without writing a row: the
  // floor under any transaction that writes, appendAudit's included.
  const commitTx = await perSecond(() =>
    db.transaction((tx) => tx.execute(sql`select pg_current_xact_id()`)),
  );
  const append = await perSecond(() => db.transaction((tx) => appendAudit(tx, next())));
  await chainPending(db, { lookbackMs: Number.POSITIVE_INFINITY });

  const chainer = startAuditChainer({
    database,
    keys,
    clock,
    config: { auditChainIntervalMs: 250, auditCheckpointInterval: 300 },
    log: (m) => console.error(m),
  });
  const appendChaining = await perSecond(() => db.transaction((tx) => appendAudit(tx, next())));
  // How far behind the chainer was when writing stopped.
  const chainLag = (await db.$count(auditEntries)) - (await db.$count(auditLinks));
  await chainer.stop();

  for (let done = 0; done < BACKLOG; done += 500) {
    await appendAuditMany(db, Array.from({ length: Math.min(500, BACKLOG - done) }, next));
  }
  const chainStart = performance.now();
  const { linked } = await chainPending(db, { lookbackMs: Number.POSITIVE_INFINITY });
  const chain = (linked * 1000) / (performance.now() - chainStart);

  const verifyStart = performance.now();
  const report = await verifyLedger(db, keys);
  const verify = (report.entries * 1000) / (performance.now() - verifyStart);
  if (!report.ok) throw new Error(`verify found problems: ${JSON.stringify(report.first_bad)}`);
  return { driver, emptyTx, commitTx, append, appendChaining, chainLag, chain, verify };
}

async function onPostgres(): Promise<Figures | null> {
  if (process.env.BENCH_PG === '0') return null;
  const name = `mandate_bench_${process.pid}`;
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
    const database = await openPostgres({ url: url.href, max: IN_FLIGHT });
    try {
      return await measure('PostgreSQL (postgres.js, pool 32)', database);
    } finally {
      await database.close();
    }
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const rows: Figures[] = [];
  const pglite = await openPglite();
  try {
    rows.push(await measure('PGlite (in-memory)', pglite));
  } finally {
    await pglite.close();
  }
  const pg = await onPostgres();
  if (pg) rows.push(pg);

  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    `\nAudit ledger, ${IN_FLIGHT} transactions in flight, ${TENANTS} tenants, ${ROUND_MS} ms rounds, ` +
      `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
  );
  console.log(
    '| driver | read-only tx/s | durable empty tx/s | appendAudit tx/s | appendAudit tx/s, chainer running | chainer lag at end (entries) | chainer links/s | verify entries/s |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.driver} | ${f(r.emptyTx)} | ${f(r.commitTx)} | ${f(r.append)} | ${f(r.appendChaining)} | ${f(r.chainLag)} | ${f(r.chain)} | ${f(r.verify)} |`,
    );
  }
}

await main();
