/**
 * `mandate policy push`, `policy list` and `audit replay` as an operator runs
 * them: a child process on this run's driver, and through a running broker on
 * the embedded database.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { auditEntries } from '../../src/db/schema.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { generateKek } from '../../src/keys/kek.ts';
import { dataPaths } from '../../src/node/data-dir.ts';
import { loadNodeCedar } from '../../src/policy/cedar.ts';
import { DEFAULT_BUNDLE } from '../../src/policy/default-bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { auditFields } from '../../src/policy/replay.ts';
import { tenantIdOf } from '../../src/registry/tenants.ts';
import { cliJson, runCli, startBroker, tempDir } from '../helpers/cli.ts';
import { freshDatabase, withOwner, type TestDatabase } from '../helpers/db.ts';
import { ADMIN, MAIL, mintRequest } from './world.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function dir(): string {
  const d = tempDir('mandate-policy-cli-');
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The CLI's environment on this run's driver, and a way to open the same database here. */
async function driver(): Promise<{
  env: Record<string, string>;
  open: () => Promise<TestDatabase>;
}> {
  const root = dir();
  if (inject('dbTemplate').driver === 'pglite') {
    const dataDir = join(root, 'data');
    return {
      env: { MANDATE_DATA_DIR: dataDir },
      open: async () => withOwner(await openPglite({ dataDir: dataPaths(dataDir).pgdata })),
    };
  }
  const database = await freshDatabase();
  cleanup.push(() => database.close());
  const url = database.url ?? '';
  return {
    env: { DATABASE_URL: url, MANDATE_KEK: generateKek() },
    open: async () => ({
      ...(await openPostgres({ url, migrate: false, max: 1 })),
      owner: database.owner,
    }),
  };
}

interface Listed {
  bundles: { id: string; version: number; digest: string; in_force: boolean; pushed_by: string }[];
}

describe('policy commands', () => {
  it('pushes and lists bundles, refuses an invalid one with the validator’s message, replays a decision', async () => {
    const { env, open } = await driver();
    const files = dir();
    await cliJson(['tenant', 'create', 'acme'], env);

    const before = await cliJson<Listed>(['policy', 'list', '--tenant', 'acme'], env);
    expect(before.bundles).toEqual([
      expect.objectContaining({ id: 'default', version: 0, in_force: true, pushed_by: 'broker' }),
    ]);

    // A relative --file is the operator's working directory's, not the broker's.
    writeFileSync(join(files, 'strict.cedar'), DEFAULT_BUNDLE.replace('>= 3', '>= 1'));
    const pushed = await runCli(
      ['policy', 'push', '--tenant', 'acme', '--file', 'strict.cedar', '--json'],
      env,
      files,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    const v1 = JSON.parse(pushed.stdout) as { id: string; version: number; digest: string };
    expect(v1).toMatchObject({ tenant: 'acme', version: 1, unchanged: false });
    expect(v1.digest).toMatch(/^[0-9a-f]{64}$/);

    writeFileSync(
      join(files, 'broken.cedar'),
      'permit (principal, action, resource) when { context.riks > 1 };',
    );
    const refused = await runCli(
      ['policy', 'push', '--tenant', 'acme', '--file', join(files, 'broken.cedar')],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'policy bundle refused: line 1, column 45: for policy `policy0`',
    );
    expect(refused.stderr).toContain('(and likewise for 4 more action(s))');
    expect(refused.stderr).toContain('attribute `riks` in context');
    expect(refused.stdout).toBe('');
    const missing = await runCli(
      ['policy', 'push', '--tenant', 'acme', '--file', join(files, 'nope.cedar')],
      env,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read --file .*nope\.cedar/);
    expect((await runCli(['policy', 'push', '--tenant', 'acme'], env)).stderr).toContain(
      'missing --file',
    );

    const after = await cliJson<Listed>(['policy', 'list', '--tenant', 'acme'], env);
    expect(after.bundles.map((b) => [b.version, b.in_force, b.digest])).toEqual([
      [1, true, v1.digest],
      [0, false, before.bundles[0]?.digest],
    ]);
    const human = await runCli(['policy', 'list', '--tenant', 'acme'], env);
    expect(human.stdout).toMatch(/^id\s+version\s+digest\s+in_force/);

    // A decision as the ledger records it, then replayed by the CLI.
    const database = await open();
    let entryId: number;
    let stateChange: number;
    try {
      const tenantId = await tenantIdOf(database.owner, 'acme');
      const engine = new PolicyEngine({ db: database.owner, cedar: await loadNodeCedar() });
      const d = await engine.decide(
        tenantId,
        mintRequest({
          targets: [{ audience: MAIL, scopes: [ADMIN] }],
          requestedTtl: 600,
          signals: { firstUse: false, recentCount: 1, baselinePerHour: 1, recentOverruns: 0 },
        }),
      );
      expect(d).toMatchObject({ outcome: 'ADAPT', policy: { version: 1 } });
      const [row] = await database.owner
        .insert(auditEntries)
        .values({
          tenantId,
          at: new Date(),
          action: 'token.minted',
          actor: 'agent:agent_planner',
          subject: 'token:t1',
          ...auditFields(d),
          contentHash: 'not-checked-by-replay',
        })
        .returning({ id: auditEntries.id });
      // The push the CLI made is in the ledger; the refused and missing ones are not.
      const pushes = await database.owner
        .select()
        .from(auditEntries)
        .where(and(eq(auditEntries.tenantId, tenantId), eq(auditEntries.action, 'policy.pushed')));
      expect(pushes).toHaveLength(1);
      expect(pushes[0]).toMatchObject({
        actor: 'operator',
        subject: 'policy:1',
        decision: null,
        inputs: {
          id: v1.id,
          version: 1,
          digest: v1.digest,
          previous_version: 0,
          previous_digest: before.bundles[0]?.digest,
        },
      });
      const [change] = pushes;
      entryId = row?.id ?? 0;
      stateChange = change?.id ?? 0;
    } finally {
      await database.close();
    }

    const replay = await cliJson(['audit', 'replay', String(entryId)], env);
    expect(replay).toMatchObject({
      ok: true,
      entry_id: entryId,
      tenant: 'acme',
      recorded: 'ADAPT',
      replayed: 'ADAPT',
      policy_version: 1,
      policy_digest: v1.digest,
    });
    const notADecision = await runCli(['audit', 'replay', String(stateChange)], env);
    expect(notADecision.code).toBe(1);
    expect(notADecision.stderr).toContain('records a state change, not a policy decision');
    await cliJson(['tenant', 'create', 'globex'], env);
    const elsewhere = await runCli(['audit', 'replay', String(entryId), '--tenant', 'globex'], env);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain(`no audit entry ${entryId} in tenant "globex"`);
    expect((await runCli(['audit', 'replay', 'x1'], env)).stderr).toContain('no audit entry x1');
  }, 180_000);
});

describe('policy commands while the broker runs on the embedded database', () => {
  it('go through the broker, which reads the file the operator named', async () => {
    const root = dir();
    const env = { MANDATE_DATA_DIR: join(root, 'data') };
    const broker = await startBroker(env);
    cleanup.push(() => broker.stop());
    await cliJson(['tenant', 'create', 'acme'], env);
    writeFileSync(join(root, 'open.cedar'), '@id("open") permit (principal, action, resource);\n');
    const pushed = await runCli(
      ['policy', 'push', '--tenant', 'acme', '--file', 'open.cedar', '--json'],
      env,
      root,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    const v1 = JSON.parse(pushed.stdout) as { id: string; version: number; digest: string };
    expect(v1).toMatchObject({ version: 1 });
    // The broker's process recorded the push in the ledger.
    const ledger = await cliJson<{ lines: { action: string }[] }>(
      ['audit', 'export', '--tenant', 'acme'],
      env,
    );
    const pushes = ledger.lines.filter((l) => l.action === 'policy.pushed');
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({
      actor: 'operator',
      subject: 'policy:1',
      inputs: { id: v1.id, version: 1, digest: v1.digest },
    });
    const listed = await cliJson<Listed>(['policy', 'list', '--tenant', 'acme'], env);
    expect(listed.bundles.map((b) => b.version)).toEqual([1, 0]);
    const refused = await runCli(
      [
        'policy',
        'push',
        '--tenant',
        'acme',
        '--file',
        join(root, 'open.cedar').replace('open', 'gone'),
      ],
      env,
    );
    expect(refused.stderr).toMatch(/cannot read --file/);
  }, 120_000);
});
