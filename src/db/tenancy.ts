/**
 * Tenant isolation by construction (migration 0009): the broker's connections act as
 * `mandate_app`, and row-level security shows a transaction only the rows of the
 * tenant it named with `set_config('mandate.tenant_id', …, true)`. Without a tenant,
 * no tenant-owned row is visible at all, so a forgotten scope fails closed.
 *
 * `tenantDb(db, tenant)` is a `Database` like any other, so the capabilities' code is
 * unchanged: its `transaction()` names the tenant first, and a statement run outside
 * a transaction runs in one of its own that names the tenant (PGlite has a single
 * session, and postgres.js a pool, so the setting cannot live on a connection). Hot
 * paths open one transaction and do their work inside it.
 */
import { sql, type Query, type SQL } from 'drizzle-orm';
import {
  PgDatabase,
  PgDialect,
  PgPreparedQuery,
  PgSession,
  type PgQueryResultHKT,
  type PgTransaction,
  type PgTransactionConfig,
  type PreparedQueryConfig,
  type SelectedFieldsOrdered,
} from 'drizzle-orm/pg-core';
import type { Database, DbOrTx, Schema, Tx } from './database.ts';
import { tenants } from './schema.ts';

/** The role the broker acts as: owns nothing, subject to every tenant policy. */
export const APP_ROLE = 'mandate_app';
/** The transaction-local setting the policies compare `tenant_id` with. */
export const TENANT_SETTING = 'mandate.tenant_id';

/** Names `tenantId` for the rest of the transaction `tx`. */
export async function nameTenant(tx: DbOrTx, tenantId: string): Promise<void> {
  await tx.execute(sql`select set_config(${TENANT_SETTING}, ${tenantId}, true)`);
}

/** One transaction in `tenantId`'s rows only. Nested in a transaction, a savepoint. */
export function inTenant<T>(
  db: DbOrTx,
  tenantId: string,
  work: (tx: Tx) => Promise<T>,
  config?: PgTransactionConfig,
): Promise<T> {
  return db.transaction(async (tx) => {
    await nameTenant(tx, tenantId);
    return work(tx);
  }, config);
}

/**
 * Runs `work` once per tenant, each in that tenant's scope: for housekeeping that
 * spans tenants (pruning expired rows), one tenant at a time.
 */
export async function forEachTenant(
  db: Database,
  work: (scoped: Database, tenantId: string) => Promise<void>,
): Promise<void> {
  for (const { id } of await db.select({ id: tenants.id }).from(tenants)) {
    await work(tenantDb(db, id), id);
  }
}

/** A database that sees only `tenantId`'s rows: every statement runs in a transaction that names it. */
export function tenantDb(db: Database, tenantId: string): Database {
  return scopedDb(db, (tx) => nameTenant(tx, tenantId));
}

/**
 * A database whose every transaction starts with `enter` (tests use it to act as the
 * tables' owner on PGlite, where there is one session). See tenantDb.
 */
export function scopedDb(db: Database, enter: (tx: Tx) => Promise<void>): Database {
  const { fullSchema, schema, tableNamesMap } = db._;
  const session = new ScopedSession(db, enter);
  return new PgDatabase(
    new PgDialect(),
    session,
    schema ? { fullSchema, schema, tableNamesMap } : undefined,
  );
}

type Fields = SelectedFieldsOrdered | undefined;
type Mapper<T extends PreparedQueryConfig> = (
  rows: unknown[][],
  mapColumnValue?: (value: unknown) => unknown,
) => T['execute'];

/**
 * drizzle's custom-driver surface (PgSession): statements are prepared against the
 * real database's session inside a transaction opened for them.
 */
class ScopedSession extends PgSession<
  PgQueryResultHKT,
  Schema,
  NonNullable<Database['_']['schema']>
> {
  constructor(
    private readonly base: Database,
    private readonly enter: (tx: Tx) => Promise<void>,
  ) {
    super(new PgDialect());
  }

  prepareQuery<T extends PreparedQueryConfig = PreparedQueryConfig>(
    query: Query,
    fields: Fields,
    name: string | undefined,
    isResponseInArrayMode: boolean,
    customResultMapper?: Mapper<T>,
  ): PgPreparedQuery<T> {
    return new ScopedQuery<T>(this.base, this.enter, query, (tx) =>
      tx._.session.prepareQuery<T>(query, fields, name, isResponseInArrayMode, customResultMapper),
    );
  }

  /** `$count`: each driver's session reads its own result shape, so it counts. */
  override count(query: SQL): Promise<number> {
    return this.base.transaction(async (tx) => {
      await this.enter(tx);
      return tx._.session.count(query);
    });
  }

  transaction<T>(
    transaction: (
      tx: PgTransaction<PgQueryResultHKT, Schema, NonNullable<Database['_']['schema']>>,
    ) => Promise<T>,
    config?: PgTransactionConfig,
  ): Promise<T> {
    return this.base.transaction(async (tx) => {
      await this.enter(tx);
      return transaction(tx);
    }, config);
  }
}

class ScopedQuery<T extends PreparedQueryConfig> extends PgPreparedQuery<T> {
  /** Set by drizzle's select builder after preparing; handed on to the real statement. */
  joinsNotNullableMap?: Record<string, boolean>;

  constructor(
    private readonly base: Database,
    private readonly enter: (tx: Tx) => Promise<void>,
    query: Query,
    private readonly prepare: (tx: Tx) => PgPreparedQuery<T>,
  ) {
    super(query, undefined, undefined);
  }

  execute(placeholderValues?: Record<string, unknown>): Promise<T['execute']> {
    return this.base.transaction(async (tx) => {
      await this.enter(tx);
      const prepared = this.prepare(tx) as PgPreparedQuery<T> & {
        joinsNotNullableMap?: Record<string, boolean>;
      };
      if (this.joinsNotNullableMap) prepared.joinsNotNullableMap = this.joinsNotNullableMap;
      return prepared.execute(placeholderValues);
    });
  }

  all(placeholderValues?: Record<string, unknown>): Promise<T['all']> {
    return this.base.transaction(async (tx) => {
      await this.enter(tx);
      const prepared = this.prepare(tx) as PgPreparedQuery<T> & {
        all(values?: Record<string, unknown>): Promise<T['all']>;
      };
      return prepared.all(placeholderValues);
    });
  }
}
