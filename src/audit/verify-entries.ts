/**
 * Checks that do not follow the chain: entries no link names (edited ones, and those
 * too old to be waiting for the chainer), entries linked twice, and duplicate ids.
 */
import { and, asc, count, desc, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { auditEntries, auditLinks } from '../db/schema.ts';
import { hasNoLink } from './link.ts';
import type { ProblemList } from './problems.ts';
import { recomputeContentHash } from './stored.ts';

const iso = (d: Date) => (Number.isNaN(d.getTime()) ? 'beyond JavaScript dates' : d.toISOString());

export interface UnlinkedOptions {
  tenantId: string | undefined;
  now: Date;
  graceMs: number;
  pageSize: number;
}

/** Examines every unlinked entry; returns how many there were. */
export async function checkUnlinked(
  db: DbOrTx,
  problems: ProblemList,
  o: UnlinkedOptions,
): Promise<number> {
  // The highest entry id linked more than the grace period ago: an entry below it had
  // its id before that one did, so its transaction cannot still be legitimately open.
  const [bound] = await db
    .select({ entryId: auditLinks.entryId })
    .from(auditLinks)
    .where(
      and(
        lte(auditLinks.chainedAt, new Date(o.now.getTime() - o.graceMs)),
        o.tenantId === undefined ? undefined : eq(auditLinks.tenantId, o.tenantId),
      ),
    )
    .orderBy(desc(auditLinks.entryId))
    .limit(1);
  const oldestPending = o.now.getTime() - o.graceMs;
  const newestPending = o.now.getTime() + o.graceMs;

  let examined = 0;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = await db
      .select()
      .from(auditEntries)
      .where(
        and(
          gt(auditEntries.id, after),
          o.tenantId === undefined ? undefined : eq(auditEntries.tenantId, o.tenantId),
          hasNoLink,
        ),
      )
      .orderBy(asc(auditEntries.id))
      .limit(o.pageSize);
    for (const row of rows) {
      examined += 1;
      const at = { tenant_id: row.tenantId, entry_id: row.id };
      if (recomputeContentHash(row) !== row.contentHash) {
        problems.add({
          ...at,
          code: 'entry_edited',
          message: `unlinked entry ${row.id} no longer matches its content hash`,
        });
      }
      const time = row.at.getTime();
      const why = !(time >= oldestPending) // also catches an unrepresentable date (NaN)
        ? `dated ${iso(row.at)}, older than the grace period`
        : time > newestPending
          ? `dated ${iso(row.at)}, in the future`
          : bound && row.id < bound.entryId
            ? `older than entry ${bound.entryId}, linked more than the grace period ago`
            : null;
      if (why) {
        problems.add({
          ...at,
          code: 'entry_unlinked',
          message: `entry ${row.id} is in no chain: ${why}`,
        });
      }
    }
    const last = rows.at(-1);
    if (!last || rows.length < o.pageSize) break;
    after = last.id;
  }
  return examined;
}

/** Entries named by more than one link, and ids carried by more than one entry row. */
export async function checkDuplicates(
  db: DbOrTx,
  problems: ProblemList,
  tenantId: string | undefined,
): Promise<void> {
  // With a tenant, every entry id its chain names, wherever the other links are.
  const twice = await db
    .select({
      entryId: auditLinks.entryId,
      tenantId: sql<string>`min(${auditLinks.tenantId}::text)`,
      n: count(),
    })
    .from(auditLinks)
    .where(
      tenantId === undefined
        ? undefined
        : inArray(
            auditLinks.entryId,
            db
              .select({ id: auditLinks.entryId })
              .from(auditLinks)
              .where(eq(auditLinks.tenantId, tenantId)),
          ),
    )
    .groupBy(auditLinks.entryId)
    .having(({ n }) => gt(n, 1));
  for (const r of twice) {
    problems.add({
      code: 'entry_linked_twice',
      tenant_id: r.tenantId,
      entry_id: r.entryId,
      message: `entry ${r.entryId} is linked ${r.n} times`,
    });
  }

  const ids = await db
    .select({
      id: auditEntries.id,
      tenantId: sql<string>`min(${auditEntries.tenantId}::text)`,
      n: count(),
    })
    .from(auditEntries)
    .where(
      tenantId === undefined
        ? undefined
        : inArray(
            auditEntries.id,
            db
              .select({ id: auditEntries.id })
              .from(auditEntries)
              .where(eq(auditEntries.tenantId, tenantId)),
          ),
    )
    .groupBy(auditEntries.id)
    .having(({ n }) => gt(n, 1));
  for (const r of ids) {
    problems.add({
      code: 'entry_duplicate_id',
      tenant_id: r.tenantId,
      entry_id: r.id,
      message: `${r.n} entry rows carry id ${r.id}`,
    });
  }
}
