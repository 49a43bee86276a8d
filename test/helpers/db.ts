/**
 * A fresh, migrated database for one test: a copy of the template that
 * global-setup prepared, on whichever driver this run uses.
 */
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { inject } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { adminUrl, databaseUrl } from './pg-url.ts';

let dump: Blob | undefined;

export interface TestDatabase extends DatabaseHandle {
  /** On PostgreSQL, the connection string of this copy, for child processes. */
  url?: string;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const template = inject('dbTemplate');
  if (template.driver === 'pglite') {
    dump ??= new Blob([readFileSync(template.dumpFile)]);
    return openPglite({ loadDataDir: dump, migrate: false });
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
  const url = databaseUrl(base, name);
  const handle = await openPostgres({ url, migrate: false, max: 4 });
  return {
    ...handle,
    url,
    async close() {
      await handle.close();
      const dropper = postgres(adminUrl(base), { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
