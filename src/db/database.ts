/**
 * The database handle every capability receives. Both drivers (PGlite and
 * postgres.js) produce a Drizzle `PgDatabase` over the same schema.
 */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.ts';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle: same query surface as the database. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
export type DbOrTx = Database | Tx;

export interface DatabaseHandle {
  db: Database;
  driver: 'pglite' | 'postgres';
  /**
   * LISTEN on a channel: `onNotify` runs for every NOTIFY committed on it, and
   * `onListen` each time the listening connection is (re)established, so a caller
   * can catch up on what it may have missed. Absent where no connection can be held
   * open (Workers); callers then poll.
   */
  listen?(
    channel: string,
    onNotify: () => void,
    onListen?: () => void,
  ): Promise<() => Promise<void>>;
  /** Cheap liveness query used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
