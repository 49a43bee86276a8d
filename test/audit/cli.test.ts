/**
 * `mandate audit verify` and `mandate audit export` as an operator runs them: the real
 * CLI as a child process, on this run's driver, and through a running embedded broker.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import { signCheckpoints } from '../../src/audit/checkpoint.ts';
import { loadConfig } from '../../src/config.ts';
import { generateKek } from '../../src/keys/kek.ts';
import { acquireLock } from '../../src/node/data-dir.ts';
import { openNodeDeps, type NodeDeps } from '../../src/node/open-deps.ts';
import { tenantIdOf } from '../../src/registry/tenants.ts';
import { cliJson, runCli, startBroker, tempDir, writeJson } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/db.ts';
import { sampleEntry } from './ledger-world.ts';
import { tamperForGood } from './superuser.ts';

const PUBLIC_URL = 'https://broker.example';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function scratch(): string {
  const dir = tempDir('mandate-audit-cli-');
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function driverEnv(): Promise<Record<string, string>> {
  if (inject('dbTemplate').driver === 'pglite') {
    return { MANDATE_DATA_DIR: join(scratch(), 'data'), PUBLIC_URL };
  }
  const database = await freshDatabase();
  cleanup.push(() => database.close());
  if (!database.url) throw new Error('fresh PostgreSQL database without a URL');
  return { DATABASE_URL: database.url, MANDATE_KEK: generateKek(), PUBLIC_URL };
}

/** Works on the CLI's own database in this process, holding the data dir as the CLI would. */
async function onDatabase(env: Record<string, string>, work: (deps: NodeDeps) => Promise<void>) {
  const config = loadConfig(env);
  const release = config.databaseUrl ? () => {} : acquireLock(config.dataDir);
  const deps = await openNodeDeps(config, () => {});
  try {
    await work(deps);
  } finally {
    await deps.close();
    release();
  }
}

interface VerifyOutput {
  ok: boolean;
  entries: number;
  first_bad: { code: string; entry_id?: number } | null;
  tenants: { tenant: string; head_seq: number }[];
}

describe('mandate audit on this run’s database', () => {
  it('verifies and exports a ledger, and fails verify with exit 1 once a row is edited', async () => {
    const env = await driverEnv();
    await cliJson(['tenant', 'create', 'acme'], env);
    await cliJson(['tenant', 'create', 'globex'], env);
    let victim = 0;
    let published: unknown;
    await onDatabase(env, async ({ database: { db }, keys, clock }) => {
      await keys.ensure();
      const acme = await tenantIdOf(db, 'acme');
      const globex = await tenantIdOf(db, 'globex');
      for (let n = 0; n < 6; n++) {
        const at = new Date(clock.now().getTime() - 3600_000 + n);
        const { id } = await appendAudit(db, sampleEntry(n % 3 ? acme : globex, at, n));
        if (n === 4) victim = id;
      }
      await chainPending(db);
      await signCheckpoints(db, keys, clock);
      published = await keys.jwks();
    });

    const ok = await cliJson<VerifyOutput>(['audit', 'verify'], env);
    expect(ok).toMatchObject({ ok: true, entries: 6, first_bad: null });
    expect(ok.tenants.map((t) => [t.tenant, t.head_seq]).sort()).toEqual([
      ['acme', 4],
      ['globex', 2],
    ]);
    const human = await runCli(['audit', 'verify'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ok: true$/m);

    // Checkpoint keys pinned to the JWK Set published at the time, or to none at all.
    const dir = scratch();
    expect(
      await cliJson(['audit', 'verify', '--jwks', writeJson(dir, 'jwks.json', published)], env),
    ).toMatchObject({ ok: true, keys: 'pinned' });
    const unpinned = await runCli(
      ['audit', 'verify', '--jwks', writeJson(dir, 'none.json', { keys: [] }), '--json'],
      env,
    );
    expect(unpinned.code).toBe(1);
    expect(JSON.parse(unpinned.stdout)).toMatchObject({
      first_bad: { code: 'checkpoint_signature_invalid' },
    });

    const out = join(dir, 'ledger.jsonl');
    expect(await cliJson(['audit', 'export', '--out', out], env)).toEqual({
      out,
      entries: 6,
      tenants: 2,
    });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    const parsed = lines.map((l) => JSON.parse(l) as { tenant: string; link: { seq: number } });
    expect(parsed.map((l) => [l.tenant, l.link.seq])).toEqual([
      ['acme', 1],
      ['acme', 2],
      ['acme', 3],
      ['acme', 4],
      ['globex', 1],
      ['globex', 2],
    ]);
    const inline = await cliJson<{ lines: unknown[]; entries: number }>(
      ['audit', 'export', '--tenant', 'globex'],
      env,
    );
    expect(inline.entries).toBe(2);
    expect(inline.lines).toEqual(parsed.slice(4));

    await onDatabase(env, ({ database: { db } }) =>
      tamperForGood(db, async (tx) => {
        await tx.execute(sql`update audit_entries set actor = 'user:mallory' where id = ${victim}`);
      }),
    );
    const bad = await runCli(['audit', 'verify', '--json'], env);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as VerifyOutput;
    expect(report).toMatchObject({
      ok: false,
      first_bad: { code: 'entry_edited', entry_id: victim },
    });
    // The other tenant's chain is untouched.
    expect(await cliJson(['audit', 'verify', '--tenant', 'globex'], env)).toMatchObject({
      ok: true,
    });

    const unknown = await runCli(['audit', 'verify', '--tenant', 'nope', '--json'], env);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ error: 'ERR_NOT_FOUND' });
    const notJwks = writeJson(dir, 'not-jwks.json', { kty: 'OKP' });
    const refused = await runCli(['audit', 'verify', '--jwks', notJwks], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/JWK Set/);
  }, 180_000);
});

describe('mandate audit while the broker runs on the embedded database', () => {
  // The broker here always runs on its embedded database (no DATABASE_URL reaches it),
  // whichever driver the rest of the suite uses.
  it('verifies and exports through the broker’s operator endpoint', async () => {
    const dir = scratch();
    const env = { MANDATE_DATA_DIR: join(dir, 'data') };
    const broker = await startBroker(env);
    cleanup.push(() => broker.stop());
    await cliJson(['tenant', 'create', 'acme'], env);
    expect(await cliJson(['audit', 'verify', '--tenant', 'acme'], env)).toMatchObject({
      ok: true,
    });
    // A relative --out is the CLI's, not the broker's: run from the scratch dir.
    const r = await runCli(['audit', 'export', '--out', 'ledger.jsonl', '--json'], env, dir);
    expect(r.code, r.stderr).toBe(0);
    const exported = JSON.parse(r.stdout) as { out: string; entries: number };
    const out = join(dir, 'ledger.jsonl');
    expect(exported.out).toBe(out);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toHaveLength(exported.entries);
  }, 120_000);
});
