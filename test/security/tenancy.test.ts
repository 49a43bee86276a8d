/**
 * Tenant isolation in the database itself (migration 0008, src/db/tenancy.ts): the
 * broker acts as a role that owns nothing, every tenant-owned table has forced
 * row-level security, and a transaction sees exactly the rows of the tenant it named.
 * These check the construction on this run's driver; the endpoint matrix
 * (isolation.test.ts) checks what it means for callers.
 */
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { tenantDb } from '../../src/db/tenancy.ts';
import { createTaskWorld, mintOk, type TaskWorld } from '../oauth/task-world.ts';
import { rowsOf } from '../helpers/rows.ts';

/** Tables that belong to no tenant: broker keys and replay caches keyed by globally unique ids. */
const GLOBAL = new Set(['signing_keys', 'client_assertion_jtis', 'dpop_proof_jtis', 'rate_limits']);

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
  await mintOk(w, { resource: 'https://mail.acme.example/', scope: 'mail:send' });
});
afterEach(async () => w.t.close());

async function rows<T>(db: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  return rowsOf<T>(await db.execute(query));
}

/** The public tables, and whether each has a tenant_id column. */
async function tables(): Promise<{ name: string; tenantColumn: boolean }[]> {
  const found = await rows<{ name: string; tenant_column: boolean }>(
    w.t.owner,
    sql`select c.relname as name,
          exists (select 1 from information_schema.columns k
                  where k.table_schema = 'public' and k.table_name = c.relname
                    and k.column_name = 'tenant_id') as tenant_column
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r' order by 1`,
  );
  return found.map((r) => ({ name: r.name, tenantColumn: r.tenant_column }));
}

async function countAs(db: Database, table: string, where = sql``): Promise<number> {
  const [row] = await rows<{ n: string | number }>(
    db,
    sql`select count(*) as n from ${sql.identifier(table)} ${where}`,
  );
  return Number(row?.n ?? 0);
}

describe('tenant isolation in the database', () => {
  it('puts every table with a tenant under forced row-level security with a policy; only a short list is global', async () => {
    const flags = await rows<{ name: string; rls: boolean; forced: boolean; policies: number }>(
      w.t.owner,
      sql`select c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r'`,
    );
    const byName = new Map(flags.map((f) => [f.name, f]));
    const all = await tables();
    expect(all.length).toBeGreaterThan(15);
    for (const { name, tenantColumn } of all) {
      const f = byName.get(name);
      if (tenantColumn || name === 'tenants') {
        expect({ name, rls: f?.rls, forced: f?.forced, policy: (f?.policies ?? 0) > 0 }).toEqual({
          name,
          rls: true,
          forced: true,
          policy: true,
        });
      } else {
        expect(GLOBAL, `${name} has no tenant_id and is not known to be global`).toContain(name);
      }
    }
  });

  it('acts as mandate_app, which owns no table, is no superuser and cannot bypass row security', async () => {
    const [me] = await rows<{
      current_user: string;
      rolsuper: boolean;
      rolbypassrls: boolean;
      owned: number;
    }>(
      w.t.deps.database.db,
      sql`select current_user, r.rolsuper, r.rolbypassrls,
            (select count(*)::int from pg_tables t where t.tableowner = current_user) as owned
          from pg_roles r where r.rolname = current_user`,
    );
    expect(me).toEqual({
      current_user: 'mandate_app',
      rolsuper: false,
      rolbypassrls: false,
      owned: 0,
    });
    if (w.t.deps.database.driver === 'postgres') {
      // On PostgreSQL the broker also logs in as a role that owns nothing (test/helpers/db.ts).
      const [login] = await rows<{ session_user: string; rolsuper: boolean; owned: number }>(
        w.t.deps.database.db,
        sql`select session_user, r.rolsuper,
              (select count(*)::int from pg_tables t where t.tableowner = session_user) as owned
            from pg_roles r where r.rolname = session_user`,
      );
      expect(login).toEqual({ session_user: 'mandate_broker', rolsuper: false, owned: 0 });
    }
  });

  it('shows a transaction that named no tenant no tenant-owned row, and lets it write none', async () => {
    const app = w.t.deps.database.db;
    let seeded = 0;
    for (const { name, tenantColumn } of await tables()) {
      if (!tenantColumn) continue;
      seeded += await countAs(w.t.owner, name);
      expect({ name, visible: await countAs(app, name) }).toEqual({ name, visible: 0 });
    }
    expect(seeded).toBeGreaterThan(20);
    const refused = await app
      .execute(
        sql`insert into users (tenant_id, email) values (${w.acme.tenantId}, 'mallory@example.com')`,
      )
      .then(
        () => 'inserted',
        (err: unknown) => String((err as { cause?: unknown }).cause ?? err),
      );
    expect(refused).toMatch(/row-level security/);
  });

  it("keeps each tenant's transactions to its own rows: another tenant's are invisible and untouchable", async () => {
    const app = w.t.deps.database.db;
    const acme = tenantDb(app, w.acme.tenantId);
    const globex = tenantDb(app, w.globex.tenantId);
    for (const { name, tenantColumn } of await tables()) {
      if (!tenantColumn) continue;
      const mine = sql`where tenant_id = ${w.acme.tenantId}`;
      const theirs = sql`where tenant_id <> ${w.acme.tenantId}`;
      expect({ name, other: await countAs(acme, name, theirs) }).toEqual({ name, other: 0 });
      expect({ name, acme: await countAs(globex, name, mine) }).toEqual({ name, acme: 0 });
      expect(await countAs(acme, name)).toBe(await countAs(w.t.owner, name, mine));
    }
    // Writes: an UPDATE or DELETE aimed at acme's rows from globex finds nothing; an
    // INSERT of an acme row from globex is refused by the policy's WITH CHECK.
    const updated = await globex.execute(
      sql`update users set email = 'mallory@example.com' where tenant_id = ${w.acme.tenantId}`,
    );
    const deleted = await globex.execute(
      sql`delete from sessions where tenant_id = ${w.acme.tenantId}`,
    );
    const affected = (r: unknown) =>
      Array.isArray(r)
        ? ((r as { count?: number }).count ?? 0)
        : ((r as { affectedRows?: number }).affectedRows ?? 0);
    expect([affected(updated), affected(deleted)]).toEqual([0, 0]);
    const inserted = await globex
      .execute(
        sql`insert into users (tenant_id, email) values (${w.acme.tenantId}, 'mallory@example.com')`,
      )
      .then(
        () => 'inserted',
        (err: unknown) => String((err as { cause?: unknown }).cause ?? err),
      );
    expect(inserted).toMatch(/row-level security/);
    const [ada] = await rows<{ email: string }>(
      w.t.owner,
      sql`select email from users where id = ${w.acme.userId}`,
    );
    expect(ada?.email).not.toBe('mallory@example.com');
  });
});
