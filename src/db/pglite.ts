/** Embedded driver: PGlite in-process, persisted to a directory or kept in memory. */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { sql } from 'drizzle-orm';
import * as schema from './schema.ts';
import type { DatabaseHandle } from './database.ts';
import { MIGRATIONS_DIR } from './migrations-dir.ts';
import { APP_ROLE } from './tenancy.ts';

export interface PgliteOptions {
  /** A directory to persist to; omit for an in-memory database. */
  dataDir?: string;
  /** A tarball from `dumpDataDir()` to start from (tests use a pre-migrated one). */
  loadDataDir?: Blob | File;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
}

export async function openPglite(
  options: PgliteOptions = {},
): Promise<DatabaseHandle & { client: PGlite }> {
  const client = new PGlite({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  await client.waitReady;
  const db = drizzle(client, { schema });
  if (options.migrate !== false) {
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  }
  // PGlite has one session and it is a superuser's, which row-level security never
  // restricts: from here on the session acts as mandate_app, like the broker's
  // PostgreSQL connections (src/db/tenancy.ts).
  await client.exec(`set role ${APP_ROLE}`);
  return {
    db,
    client,
    driver: 'pglite',
    async listen(channel, onNotify, onListen) {
      const unlisten = await client.listen(channel, () => onNotify());
      onListen?.();
      return async () => {
        if (!client.closed) await unlisten();
      };
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      // Idempotent like postgres.js's end(): shutdown paths may reach it twice.
      if (!client.closed) await client.close();
    },
  };
}
