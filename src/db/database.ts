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
  /** Cheap liveness query used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
