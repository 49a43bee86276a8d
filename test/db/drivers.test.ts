/** Migrations apply from empty on whichever driver this run uses, and re-apply as a no-op. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import postgres from 'postgres';
import { MIGRATIONS_DIR } from '../../src/db/migrations-dir.ts';
import { describe, expect, inject, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { freshDatabase } from '../helpers/db.ts';
import { rowsOf } from '../helpers/rows.ts';
import { databaseUrl } from '../helpers/pg-url.ts';

const EXPECTED_TABLES = [
  'api_scopes',
  'apis',
  'client_assertion_jtis',
  'clients',
  'invites',
  'signing_keys',
  'tenants',
  'users',
];

async function tables(handle: DatabaseHandle): Promise<string[]> {
  const result = await handle.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
  );
  return rowsOf<{ table_name: string }>(result).map((r) => r.table_name);
}

/** Opens an empty database on the run's driver, migrating it twice. */
async function migrateFromEmpty(): Promise<{ handle: DatabaseHandle; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const handle = await openPglite();
    // Migrations run as the tables' owner, as openPglite runs them before it hands the
    // session to mandate_app; then the session is the broker's again.
    await handle.client.exec('reset role');
    await migrate(drizzle(handle.client), { migrationsFolder: MIGRATIONS_DIR });
    await handle.client.exec('set role mandate_app');
    return { handle, drop: () => handle.close() };
  }
  const name = `mandate_empty_${process.pid}_${Date.now()}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = databaseUrl(base, name);
  // Two instances starting together must not both migrate at once.
  const [a, b] = await Promise.all([openPostgres({ url }), openPostgres({ url })]);
  await a.close();
  return {
    handle: b,
    drop: async () => {
      await b.close();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

describe('database drivers', () => {
  it('runs on the driver the environment asks for', async () => {
    const handle = await freshDatabase();
    try {
      const [row] = rowsOf<{ v: string }>(await handle.db.execute(sql`select version() as v`));
      const wantPostgres = Boolean(process.env.TEST_DATABASE_URL);
      expect(handle.driver).toBe(wantPostgres ? 'postgres' : 'pglite');
      expect(inject('dbTemplate').driver).toBe(handle.driver);
      expect(row?.v.includes('PGlite')).toBe(!wantPostgres);
    } finally {
      await handle.close();
    }
  });

  it('applies every migration to an empty database, and again as a no-op', async () => {
    const { handle, drop } = await migrateFromEmpty();
    try {
      expect(await tables(handle)).toEqual(expect.arrayContaining(EXPECTED_TABLES));
      await handle.ping();
    } finally {
      await drop();
    }
  });

  it('persists an embedded database across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-persist-'));
    try {
      const first = await openPglite({ dataDir: dir });
      await first.db.execute(sql`insert into tenants (slug) values ('kept')`);
      await first.close();
      const second = await openPglite({ dataDir: dir });
      const rows = rowsOf<{ slug: string }>(await second.db.execute(sql`select slug from tenants`));
      expect(rows.map((r) => r.slug)).toEqual(['kept']);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
