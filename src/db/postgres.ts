/** Production driver: PostgreSQL through postgres.js. */
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { sql } from 'drizzle-orm';
import * as schema from './schema.ts';
import type { DatabaseHandle } from './database.ts';
import { MIGRATIONS_DIR } from './migrations-dir.ts';
import { APP_ROLE } from './tenancy.ts';

export interface PostgresOptions {
  /**
   * The broker's connections. Whichever role logs in (in production, a login role that
   * is a member of mandate_app and owns nothing), they act as mandate_app.
   */
  url: string;
  /** The tables' owner, for migrations only (default: `url`). */
  ownerUrl?: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Pool size (default 10). */
  max?: number;
  /** Seconds to wait for PostgreSQL to accept a connection (MANDATE_DB_CONNECT_TIMEOUT; default 5). */
  connectTimeout?: number;
}

/** Any 64-bit number works as long as every broker instance uses the same one. */
const MIGRATION_LOCK = 0x6d616e64_617465n; // "mandate"

export async function openPostgres(options: PostgresOptions): Promise<DatabaseHandle> {
  const client = postgres(options.url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // Bounded waits while PostgreSQL is away (test/security/faults.test.ts): a connection
    // attempt gives up after connectTimeout (postgres.js: 30 s), and a pool slot that lost
    // its connection retries within a second (postgres.js backs off to 10–20 s after a few
    // resets, and every query queued on the slot waits that long).
    connect_timeout: options.connectTimeout ?? 5,
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
    // A startup parameter, so that every statement on every connection, in a
    // transaction or not, is subject to the tenant policies (src/db/tenancy.ts).
    connection: { role: APP_ROLE },
  });
  const db = drizzle(client, { schema });
  // The broker's login usually owns nothing and cannot migrate: with every migration
  // applied it needs not, and with some pending it says which setting is missing.
  if (options.migrate !== false && !(await migrationsApplied(client))) {
    try {
      await migrateLocked(options.ownerUrl ?? options.url);
    } catch (err) {
      await client.end({ timeout: 5 });
      if (
        options.ownerUrl === undefined &&
        (err as { cause?: { code?: string } }).cause?.code === '42501'
      ) {
        throw new Error(
          "migrations are pending and DATABASE_URL may not apply them: set DATABASE_OWNER_URL to the tables' owner",
          { cause: err },
        );
      }
      throw err;
    }
  }
  return {
    db,
    driver: 'postgres',
    async listen(channel, onNotify, onListen) {
      // postgres.js keeps a dedicated connection for LISTEN and re-listens after a
      // reconnect, calling onlisten each time.
      const sub = await client.listen(
        channel,
        () => onNotify(),
        () => onListen?.(),
      );
      return () => sub.unlisten();
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * Whether the database has every migration of MIGRATIONS_DIR, by drizzle's own record
 * (mandate_app may read it, migration 0009). False when it cannot tell: an empty
 * database has neither the record nor, yet, the role the pool acts as.
 */
async function migrationsApplied(client: postgres.Sql): Promise<boolean> {
  const newest = readMigrationFiles({ migrationsFolder: MIGRATIONS_DIR }).at(-1)?.folderMillis ?? 0;
  try {
    const [row] = await client<{ last: string | null }[]>`
      select max(created_at) as last from drizzle.__drizzle_migrations`;
    return Number(row?.last ?? 0) >= newest;
  } catch {
    return false;
  }
}

/**
 * Several instances may start at once on one database; an advisory lock makes
 * them apply migrations one after another. A one-connection client guarantees
 * the lock, the migration and the unlock share a session.
 */
async function migrateLocked(url: string): Promise<void> {
  const conn = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    try {
      await migrate(drizzle(conn, { schema }), { migrationsFolder: MIGRATIONS_DIR });
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK.toString()}::bigint)`;
    }
  } finally {
    await conn.end({ timeout: 5 });
  }
}
