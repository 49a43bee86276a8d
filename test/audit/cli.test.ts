/**
 * `mandate audit verify`, `audit export` and `audit summary` as an operator runs them:
 * the real CLI as a child process, on this run's driver, and through a running
 * embedded broker.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import type { AuditEntryInput } from '../../src/audit/content.ts';
import { signCheckpoints } from '../../src/audit/checkpoint.ts';
import { loadConfig } from '../../src/config.ts';
import { generateKek } from '../../src/keys/kek.ts';
import { acquireLock } from '../../src/node/data-dir.ts';
import type { Database, DatabaseHandle } from '../../src/db/database.ts';
import { tenantDb } from '../../src/db/tenancy.ts';
import { openNodeDeps, type NodeDeps } from '../../src/node/open-deps.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { tenantIdOf } from '../../src/registry/tenants.ts';
import { cliJson, runCli, startBroker, tempDir, writeJson } from '../helpers/cli.ts';
import { freshDatabase, pgliteOwner } from '../helpers/db.ts';
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

/** The tables' owner on each PostgreSQL database handed out, by the broker's URL. */
const owners = new Map<string, Database>();

/** The owner's view of the database `env` names: tampering needs the tables' owner. */
function ownerOf(env: Record<string, string>, database: DatabaseHandle): Database {
  const url = env.DATABASE_URL;
  if (url === undefined) return pgliteOwner(database.db);
  const owner = owners.get(url);
  if (!owner) throw new Error('no owner handle for this database');
  return owner;
}

async function driverEnv(): Promise<Record<string, string>> {
  if (inject('dbTemplate').driver === 'pglite') {
    return { MANDATE_DATA_DIR: join(scratch(), 'data'), PUBLIC_URL };
  }
  const database = await freshDatabase();
  if (database.url) owners.set(database.url, database.owner);
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
        const tenant = n % 3 ? acme : globex;
        // The broker's own handle: each entry in its tenant's scope (row-level security).
        const { id } = await appendAudit(tenantDb(db, tenant), sampleEntry(tenant, at, n));
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

    await onDatabase(env, ({ database }) =>
      tamperForGood(ownerOf(env, database), async (tx) => {
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

interface SummaryOutput {
  tenant: string;
  agent?: string;
  window: string;
  from: string;
  to: string;
  baseline_from: string;
  buckets: number;
  agents: {
    agent: string;
    name: string;
    minted: number;
    denials: number;
    escalations: number;
    overruns: number;
    first_time: { apis: string[]; scopes: string[] };
    rate: { window: number; baseline: number; spike: boolean };
    series: number[];
    flags: string[];
  }[];
}

const MAIL = 'https://mail.example/api';
const REPOS = 'https://repos.example/api';

describe('mandate audit summary on this run’s database', () => {
  it('summarises every agent of the tenant, or one, over the window asked for', async () => {
    const env = await driverEnv();
    await cliJson(['tenant', 'create', 'acme'], env);
    await cliJson(['tenant', 'create', 'globex'], env);
    const agents: Record<string, string> = {};
    await onDatabase(env, async ({ database: { db } }) => {
      const { publicKey } = await generateKeyPair('EdDSA', { extractable: true });
      const jwks = { keys: [{ ...(await exportJWK(publicKey)), alg: 'EdDSA' }] };
      for (const [key, tenant, name] of [
        ['mail', 'acme', 'Mail assistant'],
        ['repo', 'acme', 'Repo bot'],
        ['idle', 'acme', 'Idle helper'],
        ['other', 'globex', 'Globex bot'],
      ] as const) {
        agents[key] = (await addAgent(db, { tenant, name, jwks })).client_id;
      }
      const acme = await tenantIdOf(db, 'acme');
      const globex = await tenantIdOf(db, 'globex');
      const now = Date.now();
      const ago = (hours: number) => new Date(now - hours * 3600_000);
      const entry = (
        tenantId: string,
        hours: number,
        action: string,
        actor: string,
        extra: Partial<AuditEntryInput> = {},
      ): AuditEntryInput => ({
        tenantId,
        at: ago(hours),
        action,
        actor,
        subject: `thing:${action}:${hours}`,
        ...extra,
      });
      const mail = `agent:${agents.mail}`;
      const read = { audience: MAIL, scope: 'mail:read' };
      const entries: AuditEntryInput[] = [
        // The mail assistant's history: reads, three days and a quarter ago.
        entry(acme, 78, 'token.minted', mail, { decision: 'ALLOW', inputs: read }),
        entry(acme, 78.1, 'token.minted', mail, { decision: 'ALLOW', inputs: read }),
        // The last day: three mints, one now with mail:send, a refusal, an escalation…
        ...[1, 1.1, 1.2].map((h) =>
          entry(acme, h, 'token.minted', mail, {
            decision: 'ALLOW',
            inputs: { audience: MAIL, scope: 'mail:read mail:send' },
          }),
        ),
        entry(acme, 2, 'token.refused', mail, { decision: 'DENY', inputs: read }),
        entry(acme, 0.7, 'grant.requested', mail, { decision: 'ESCALATE', inputs: read }),
        // …and an overrun the API reported, whose DENY revoked the grant: not a denial.
        entry(acme, 0.5, 'overrun.reported', 'api:api_mail', {
          decision: 'DENY',
          inputs: { agent: agents.mail, attempted_scope: 'mail:admin' },
        }),
        // Not the agents' doing: not summarised.
        entry(acme, 0.4, 'policy.pushed', 'operator'),
        ...[0.3, 0.35].map((h) =>
          entry(acme, h, 'token.minted', `agent:${agents.repo}`, {
            decision: 'ALLOW',
            inputs: { audience: REPOS, scope: 'repo:read' },
          }),
        ),
        entry(globex, 0.2, 'token.minted', `agent:${agents.other}`, {
          decision: 'ALLOW',
          inputs: { audience: MAIL, scope: 'mail:read' },
        }),
      ];
      for (const e of entries) await appendAudit(tenantDb(db, e.tenantId), e);
    });

    const day = await cliJson<SummaryOutput>(['audit', 'summary', '--tenant', 'acme'], env);
    expect(day).toMatchObject({ tenant: 'acme', window: '24h', buckets: 12 });
    expect(Date.parse(day.to) - Date.parse(day.from)).toBe(24 * 3600_000);
    expect(Date.parse(day.to) - Date.parse(day.baseline_from)).toBe(8 * 24 * 3600_000);
    expect(day.agents.map((a) => a.name)).toEqual(['Mail assistant', 'Repo bot']);
    const [mail, repo] = day.agents;
    expect(mail).toMatchObject({
      agent: agents.mail,
      minted: 3,
      denials: 1,
      escalations: 1,
      overruns: 1,
      first_time: { apis: [], scopes: ['mail:send'] },
      rate: { spike: false },
      // Two-hour bars: the mints an hour ago fall in the last.
      series: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3],
      flags: [
        '1 scope overrun',
        '1 request denied by policy',
        '1 escalated to the person',
        'first use of scope mail:send',
      ],
    });
    expect(repo).toMatchObject({ agent: agents.repo, minted: 2, denials: 0, flags: [] });

    // A week in seven daily bars takes in the history; before it, nothing.
    const week = await cliJson<SummaryOutput>(
      [
        'audit',
        'summary',
        '--tenant',
        'acme',
        '--agent',
        agents.mail ?? '',
        '--window',
        '7d',
        '--buckets',
        '7',
      ],
      env,
    );
    expect(week).toMatchObject({ agent: agents.mail, window: '7d', buckets: 7 });
    expect(week.agents).toHaveLength(1);
    expect(week.agents[0]).toMatchObject({
      minted: 5,
      first_time: { apis: [MAIL], scopes: ['mail:read', 'mail:send'] },
      series: [0, 0, 0, 2, 0, 0, 3],
    });
    // An agent that did nothing is known, with nothing to show.
    expect(
      (
        await cliJson<SummaryOutput>(
          ['audit', 'summary', '--tenant', 'acme', '--agent', agents.idle ?? ''],
          env,
        )
      ).agents,
    ).toEqual([]);
    // Each tenant sees its own agents only.
    const other = await cliJson<SummaryOutput>(['audit', 'summary', '--tenant', 'globex'], env);
    expect(other.agents.map((a) => [a.name, a.minted])).toEqual([['Globex bot', 1]]);

    const human = await runCli(['audit', 'summary', '--tenant', 'acme'], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^agent\s+name\s+minted\s+denials/);
    expect(human.stdout).toContain('Mail assistant');

    // More refusals are in test/summary/operator.test.ts; here, how the CLI reports them.
    const refusals: [string[], number, string, RegExp][] = [
      [['--tenant', 'acme', '--agent', agents.other ?? ''], 1, 'ERR_NOT_FOUND', /no agent/],
      [['--tenant', 'acme', '--window', '3x'], 1, 'ERR_INVALID', /--window .* got "3x"/],
      [['--window', '24h'], 2, 'ERR_USAGE', /missing --tenant/],
    ];
    for (const [args, code, error, message] of refusals) {
      const r = await runCli(['audit', 'summary', ...args, '--json'], env);
      expect(r.code, args.join(' ')).toBe(code);
      const body = JSON.parse(r.stderr) as { error: string; message: string };
      expect(body.error, args.join(' ')).toBe(error);
      expect(body.message).toMatch(message);
      expect(r.stdout).toBe('');
    }
  }, 240_000);
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
    expect(
      await cliJson(['audit', 'summary', '--tenant', 'acme', '--window', '1h'], env),
    ).toMatchObject({ tenant: 'acme', window: '1h', buckets: 12, agents: [] });
    // A relative --out is the CLI's, not the broker's: run from the scratch dir.
    const r = await runCli(['audit', 'export', '--out', 'ledger.jsonl', '--json'], env, dir);
    expect(r.code, r.stderr).toBe(0);
    const exported = JSON.parse(r.stdout) as { out: string; entries: number };
    const out = join(dir, 'ledger.jsonl');
    expect(exported.out).toBe(out);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toHaveLength(exported.entries);
  }, 120_000);
});
