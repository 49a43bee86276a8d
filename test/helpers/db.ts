/**
 * A fresh, migrated database for one test: a copy of the template that
 * global-setup prepared, on whichever driver this run uses.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { inject } from 'vitest';
import type { Database, DatabaseHandle } from '../../src/db/database.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import * as schema from '../../src/db/schema.ts';
import { scopedDb } from '../../src/db/tenancy.ts';
import { adminUrl, brokerUrl, databaseUrl } from './pg-url.ts';

let dump: Blob | undefined;

export interface TestDatabase extends DatabaseHandle {
  /**
   * On PostgreSQL, the connection string of this copy, for child processes: it logs in
   * as the broker's non-owner role, like a deployment's DATABASE_URL.
   */
  url?: string;
  /** The tables' owner's (a superuser's) view of the same database: every tenant's rows, for tests to set up and inspect. */
  owner: Database;
}

/** On PGlite's one session: each statement in a transaction that acts as the superuser again. */
export function pgliteOwner(db: Database): Database {
  return scopedDb(db, async (tx) => {
    await tx.execute(sql`select set_config('role', 'postgres', true)`);
  });
}

export async function freshDatabase(): Promise<TestDatabase> {
  const template = inject('dbTemplate');
  if (template.driver === 'pglite') {
    dump ??= new Blob([readFileSync(template.dumpFile)]);
    const handle = await openPglite({ loadDataDir: dump, migrate: false });
    return { ...handle, owner: pgliteOwner(handle.db) };
  }
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('the PostgreSQL template exists but TEST_DATABASE_URL is gone');
  const name = `mandate_t_${process.pid}_${crypto.randomUUID().replaceAll('-', '')}`;
  const admin = postgres(adminUrl(base), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template "${template.template}"`);
  } finally {
    await admin.end();
  }
  const ownerUrl = databaseUrl(base, name);
  const url = brokerUrl(ownerUrl);
  const handle = await openPostgres({ url, migrate: false, max: 4 });
  const ownerClient = postgres(ownerUrl, { max: 2, onnotice: () => {} });
  return {
    ...handle,
    url,
    owner: drizzle(ownerClient, { schema }),
    async close() {
      await handle.close();
      await ownerClient.end({ timeout: 5 });
      const dropper = postgres(adminUrl(base), { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/**
 * A handle opened outside freshDatabase (benchmarks, a second broker), with an owner's
 * view beside it: on PGlite its own session as the superuser, on PostgreSQL a small
 * pool logged in through `ownerUrl` (closed with the handle).
 */
export function withOwner(handle: DatabaseHandle, ownerUrl?: string): TestDatabase {
  if (handle.driver === 'pglite') return { ...handle, owner: pgliteOwner(handle.db) };
  if (ownerUrl === undefined) throw new Error('an owner URL is needed on PostgreSQL');
  const ownerClient = postgres(ownerUrl, { max: 2, onnotice: () => {} });
  return {
    ...handle,
    owner: drizzle(ownerClient, { schema }),
    async close() {
      await handle.close();
      await ownerClient.end({ timeout: 5 });
    },
  };
}
