/**
 * Walks one tenant's chain in seq order, a page at a time, and checks every link:
 * seq contiguous from 1, prev_hash the previous link's hash, hash recomputed from the
 * link's fields and its entry's recomputed content, and the entry present, of this
 * tenant and unedited. Nothing is trusted from the database's constraints: a superuser
 * may have dropped them, so duplicate seqs and duplicate entry ids are looked for too.
 */
import { and, asc, eq, gt, inArray, lte, min } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { auditEntries, auditLinks } from '../db/schema.ts';
import { GENESIS_HASH, linkHash } from './link.ts';
import type { ProblemList } from './problems.ts';
import { recomputeContentHash, type EntryRow } from './stored.ts';

export interface ChainWalk {
  links: number;
  /** Entry rows examined through the chain. */
  entries: number;
  head: { seq: number; hash: string } | null;
  /** The link hash at each seq in `wanted` (the checkpoints' seqs). */
  hashes: Map<number, string>;
}

type LinkRow = typeof auditLinks.$inferSelect;

export async function walkChain(
  db: DbOrTx,
  tenantId: string,
  wanted: ReadonlySet<number>,
  problems: ProblemList,
  pageSize: number,
): Promise<ChainWalk> {
  const walk: ChainWalk = { links: 0, entries: 0, head: null, hashes: new Map() };
  const ofTenant = eq(auditLinks.tenantId, tenantId);
  const firstAfter = async (after: number) => {
    const [row] = await db
      .select({ seq: min(auditLinks.seq) })
      .from(auditLinks)
      .where(and(ofTenant, gt(auditLinks.seq, after)));
    return row?.seq ?? null;
  };

  let expected = 1;
  let prev: string | null = GENESIS_HASH; // null after a gap: the missing link's hash is unknown
  let lastSeq: number | null = null;
  const edited = new Set<number>();

  const checkLink = (link: LinkRow, rows: EntryRow[]) => {
    walk.links += 1;
    const at = { tenant_id: tenantId, seq: link.seq, entry_id: link.entryId };
    let inOrder = false;
    if (link.seq === lastSeq) {
      problems.add({ ...at, code: 'link_duplicate_seq', message: `two links at seq ${link.seq}` });
    } else if (link.seq < 1) {
      problems.add({ ...at, code: 'link_bad_seq', message: `link with seq ${link.seq} below 1` });
    } else {
      inOrder = true;
      if (link.seq > expected) {
        const missing = link.seq - 1 === expected ? `${expected}` : `${expected}–${link.seq - 1}`;
        problems.add({
          ...at,
          code: 'link_gap',
          seq: expected,
          message: `links missing at seq ${missing}`,
        });
        prev = null;
      }
    }

    if (rows.length === 0) {
      problems.add({
        ...at,
        code: 'entry_missing',
        message: `link ${link.seq} names entry ${link.entryId}, which does not exist`,
      });
    }
    // With one row per id (the normal case) this is that row's content; with duplicates
    // (reported by checkDuplicates) the link is sound if any of them matches it.
    let hashOk = rows.length === 0;
    for (const row of rows) {
      walk.entries += 1;
      if (row.tenantId !== tenantId) {
        problems.add({
          ...at,
          code: 'entry_wrong_tenant',
          message: `link ${link.seq} names entry ${row.id} of tenant ${row.tenantId}`,
        });
      }
      const content = recomputeContentHash(row);
      if (content !== row.contentHash && !edited.has(row.id)) {
        edited.add(row.id);
        problems.add({
          ...at,
          code: 'entry_edited',
          message: `entry ${row.id} no longer matches its content hash`,
        });
      }
      const expectedHash = linkHash({
        tenantId,
        seq: link.seq,
        entryId: link.entryId,
        contentHash: content ?? '',
        prevHash: link.prevHash,
      });
      if (expectedHash === link.hash) hashOk = true;
    }
    if (!hashOk) {
      problems.add({
        ...at,
        code: 'link_hash_mismatch',
        message: `link ${link.seq} does not hash to its recorded value`,
      });
    }
    if (!inOrder) return;
    if (prev !== null && link.prevHash !== prev) {
      problems.add({
        ...at,
        code: 'link_prev_mismatch',
        message: `link ${link.seq} does not point at the hash of link ${link.seq - 1}`,
      });
    }
    prev = link.hash;
    expected = link.seq + 1;
    lastSeq = link.seq;
    walk.head = { seq: link.seq, hash: link.hash };
    if (wanted.has(link.seq)) walk.hashes.set(link.seq, link.hash);
  };

  const lowest = await firstAfter(Number.MIN_SAFE_INTEGER);
  if (lowest === null) return walk;
  let after = Math.min(lowest, 1) - 1;
  for (;;) {
    // A range of seqs rather than LIMIT: all duplicates of one seq land in one page.
    const links = await db
      .select()
      .from(auditLinks)
      .where(and(ofTenant, gt(auditLinks.seq, after), lte(auditLinks.seq, after + pageSize)))
      .orderBy(asc(auditLinks.seq), asc(auditLinks.entryId));
    if (links.length === 0) {
      const next = await firstAfter(after);
      if (next === null) break;
      after = next - 1; // skip an empty stretch (a forged seq far beyond the end)
      continue;
    }
    const ids = [...new Set(links.map((l) => l.entryId))];
    const entries = await db.select().from(auditEntries).where(inArray(auditEntries.id, ids));
    const byId = new Map<number, EntryRow[]>();
    for (const e of entries) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
    for (const link of links) checkLink(link, byId.get(link.entryId) ?? []);
    after += pageSize;
  }
  return walk;
}
