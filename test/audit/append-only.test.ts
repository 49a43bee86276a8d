/**
 * The database itself refuses to rewrite history (migrations/0005_audit_guard.sql):
 * UPDATE, DELETE and TRUNCATE fail on every ledger table, for any role that has not
 * switched the triggers off, on this run's driver.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import { signCheckpoints } from '../../src/audit/checkpoint.ts';
import { rowsOf } from '../helpers/rows.ts';
import { ledgerWorld, sampleEntry } from './ledger-world.ts';

const statements = {
  UPDATE: (table: string) => `update ${table} set tenant_id = tenant_id`,
  DELETE: (table: string) => `delete from ${table}`,
  // CASCADE, so that on audit_entries it is the trigger that refuses, not the foreign key.
  TRUNCATE: (table: string) => `truncate ${table} cascade`,
};

const cases = ['audit_entries', 'audit_links', 'audit_checkpoints'].flatMap((table) =>
  (['UPDATE', 'DELETE', 'TRUNCATE'] as const).map((op) => [table, op] as const),
);

describe('the ledger tables are append-only in the database', () => {
  it.each(cases)('%s refuses %s', async (table, op) => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await appendAudit(w.database.owner, sampleEntry(tenant, w.clock.now(), 1));
    await chainPending(w.database.owner);
    expect(await signCheckpoints(w.database.owner, w.keys, w.clock)).toHaveLength(1);

    const failure = await w.database.owner.execute(sql.raw(statements[op](table))).then(
      () => 'accepted',
      (err: unknown) => `${String(err)} ${String((err as { cause?: unknown }).cause)}`,
    );
    expect(failure).toMatch(new RegExp(`table ${table} is append-only: ${op} refused`));
    const [counts] = rowsOf<{ e: number; l: number; c: number }>(
      await w.database.owner.execute(
        sql`select (select count(*) from audit_entries)::int as e,
                   (select count(*) from audit_links)::int as l,
                   (select count(*) from audit_checkpoints)::int as c`,
      ),
    );
    expect(counts).toEqual({ e: 1, l: 1, c: 1 });
  });
});
