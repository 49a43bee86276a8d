/**
 * Tampering as a database superuser would: triggers off (`DISABLE TRIGGER ALL` also
 * silences the foreign keys), and optionally the primary keys and unique indexes
 * dropped, so that duplicate rows can be forged too.
 */
import { sql } from 'drizzle-orm';
import type { Database, Tx } from '../../src/db/database.ts';

const TABLES = ['audit_entries', 'audit_links', 'audit_checkpoints'];

async function disarm(tx: Tx, dropConstraints: boolean): Promise<void> {
  for (const table of TABLES) await tx.execute(sql.raw(`alter table ${table} disable trigger all`));
  if (!dropConstraints) return;
  await tx.execute(sql.raw('alter table audit_links drop constraint audit_links_tenant_id_seq_pk'));
  await tx.execute(sql.raw('drop index audit_links_entry_uq'));
  await tx.execute(sql.raw('alter table audit_entries drop constraint audit_entries_pkey cascade'));
}

class Rollback extends Error {}

/** Runs `work` with the guards off and rolls everything back afterwards; returns what it returned. */
export async function whileTampered<T>(
  db: Database,
  work: (tx: Tx) => Promise<T>,
  options: { dropConstraints?: boolean } = {},
): Promise<T> {
  let result: { value: T } | undefined;
  try {
    await db.transaction(async (tx) => {
      await disarm(tx, options.dropConstraints ?? false);
      result = { value: await work(tx) };
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  if (!result) throw new Error('tampering transaction ended without a result');
  return result.value;
}

/** Tampers for good: guards off, `work`, guards back on, committed. */
export async function tamperForGood(db: Database, work: (tx: Tx) => Promise<void>): Promise<void> {
  await db.transaction(async (tx) => {
    await disarm(tx, false);
    await work(tx);
    for (const table of TABLES)
      await tx.execute(sql.raw(`alter table ${table} enable trigger all`));
  });
}
