/**
 * The chainer: links committed, unchained entries into their tenant's hash chain.
 * Each broker process runs it on a timer (chainer.ts); any number may run at once.
 *
 * Per tenant, one transaction per batch holds the tenant's advisory lock, reads the
 * chain's head and appends links seq+1, seq+2, … in entry id order. Entries commit
 * out of id order (ids are taken at INSERT, visibility comes at COMMIT), so an entry
 * that commits late simply gets a later seq than higher ids did: chain order is link
 * order. Writers never wait for this; two chainers on one tenant take turns, and the
 * second finds nothing left (READ COMMITTED: every statement after the lock sees what
 * the first committed).
 */
import { and, asc, desc, eq, gt, lte, sql } from 'drizzle-orm';
import type { Database, DbOrTx } from '../db/database.ts';
import { auditPending } from '../db/lookups.ts';
import { tenantDb } from '../db/tenancy.ts';
import { auditEntries, auditLinks } from '../db/schema.ts';
import { GENESIS_HASH, hasNoLink, linkHash, lockTenantChain } from './link.ts';

export interface ChainOptions {
  /** Chain only this tenant's entries. */
  tenantId?: string;
  /** Links appended per transaction (default 1000): bounds how long the tenant lock is held. */
  batchSize?: number;
  /**
   * How far back, in ms, to look for entries that committed late (default 10 s). Only
   * entries above the highest entry id linked at least this long before the newest link
   * are examined, which keeps each pass proportional to recent traffic. An entry whose
   * transaction stayed open longer than this is missed by routine passes: the chainer's
   * periodic sweep looks back further, `Infinity` examines the whole ledger, and
   * `audit verify` reports whatever is still unlinked.
   */
  lookbackMs?: number;
  /** Tenants chained at once, each on its own connection (default 4). */
  concurrency?: number;
}

export interface ChainResult {
  /** Links appended by this pass. */
  linked: number;
  /** Tenants whose chain grew. */
  tenants: number;
}

/** Entries of one tenant (or all) above `after` that no link names: the anti-join on audit_links_entry_uq. */
const unlinked = (after: number) => and(gt(auditEntries.id, after), hasNoLink);

/**
 * The lower bound: the highest entry id linked at least `lookbackMs` before the newest
 * link. Every entry below it was linked, or was in flight for longer than the lookback
 * while chainers ran. Measured on the chain's own timeline rather than from now, so that
 * after a broker was down, the entries its last pass had not reached are still looked at.
 */
async function lowerBound(db: DbOrTx, lookbackMs: number, tenantId?: string): Promise<number> {
  if (!Number.isFinite(lookbackMs)) return 0;
  const ofTenant = tenantId === undefined ? undefined : eq(auditLinks.tenantId, tenantId);
  // The newest link, by entry id: one probe of audit_links_entry_uq from its end.
  const newest = db
    .select({ at: auditLinks.chainedAt })
    .from(auditLinks)
    .where(ofTenant)
    .orderBy(desc(auditLinks.entryId))
    .limit(1);
  // Walks audit_links_entry_uq backwards past the links made within the lookback only.
  const [row] = await db
    .select({ entryId: auditLinks.entryId })
    .from(auditLinks)
    .where(
      and(
        lte(
          auditLinks.chainedAt,
          sql`(${newest}) - make_interval(secs => ${lookbackMs / 1000}::float8)`,
        ),
        ofTenant,
      ),
    )
    .orderBy(desc(auditLinks.entryId))
    .limit(1);
  return row?.entryId ?? 0;
}

export async function chainPending(db: Database, options: ChainOptions = {}): Promise<ChainResult> {
  const batchSize = options.batchSize ?? 1000;
  const tenantId = options.tenantId?.toLowerCase();
  const lookbackMs = options.lookbackMs ?? 10_000;
  let after: number;
  let pending: string[];
  if (tenantId === undefined) {
    // Across tenants, the bound and the tenants with work come from one lookup that
    // sees every tenant's ledger (migration 0008); each chain is then written in its
    // own tenant's scope.
    ({ after, tenantIds: pending } = await auditPending(
      db,
      Number.isFinite(lookbackMs) ? lookbackMs / 1000 : null,
    ));
  } else {
    const scoped = tenantDb(db, tenantId);
    after = await lowerBound(scoped, lookbackMs, tenantId);
    const [some] = await scoped
      .select({ id: auditEntries.id })
      .from(auditEntries)
      .where(and(unlinked(after), eq(auditEntries.tenantId, tenantId)))
      .limit(1);
    pending = some ? [tenantId] : [];
  }
  // Tenants' chains are independent: a few are chained at once, each in its own
  // transactions, so that one pass costs about as many round trips as one tenant.
  const queue = [...pending];
  let linked = 0;
  const worker = async () => {
    for (let tenant = queue.shift(); tenant !== undefined; tenant = queue.shift()) {
      for (;;) {
        const n = await chainBatch(tenantDb(db, tenant), tenant, after, batchSize);
        linked += n;
        if (n < batchSize) break;
      }
    }
  };
  const workers = Math.min(options.concurrency ?? 4, queue.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return { linked, tenants: pending.length };
}

async function chainBatch(
  db: Database,
  tenantId: string,
  after: number,
  batchSize: number,
): Promise<number> {
  return db.transaction(async (tx) => {
    await lockTenantChain(tx, tenantId);
    const entries = await tx
      .select({ id: auditEntries.id, contentHash: auditEntries.contentHash })
      .from(auditEntries)
      .where(and(eq(auditEntries.tenantId, tenantId), unlinked(after)))
      .orderBy(asc(auditEntries.id))
      .limit(batchSize);
    if (entries.length === 0) return 0;
    const [head] = await tx
      .select({ seq: auditLinks.seq, hash: auditLinks.hash })
      .from(auditLinks)
      .where(eq(auditLinks.tenantId, tenantId))
      .orderBy(desc(auditLinks.seq))
      .limit(1);
    let seq = head?.seq ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    const links = [];
    for (const entry of entries) {
      seq += 1;
      const hash = linkHash({
        tenantId,
        seq,
        entryId: entry.id,
        contentHash: entry.contentHash,
        prevHash,
      });
      // clock_timestamp(), not the transaction's start: lowerBound compares it with the
      // time the link was really written, however long the lock took.
      links.push({
        tenantId,
        seq,
        entryId: entry.id,
        prevHash,
        hash,
        chainedAt: sql`clock_timestamp()`,
      });
      prevHash = hash;
    }
    await tx.insert(auditLinks).values(links);
    return links.length;
  });
}
