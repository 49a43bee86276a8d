/**
 * `audit export`: the ledger as JSON lines, one entry with its link per line, each
 * tenant's chain in seq order followed by its entries still waiting for the chainer
 * (`"link": null`). A line whose link a checkpoint covers carries that checkpoint, JWS
 * and all, so an export verifies on its own elsewhere (against the published JWKS).
 */
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { tenantDb } from '../db/tenancy.ts';
import { auditEntries, auditLinks, tenants } from '../db/schema.ts';
import type { auditCheckpoints } from '../db/schema.ts';
import { checkpointsOf } from './checkpoint.ts';
import { hasNoLink } from './link.ts';
import type { EntryRow } from './stored.ts';

type Checkpoint = typeof auditCheckpoints.$inferSelect;

export interface ExportOptions {
  /** Export one tenant (its id); all tenants when absent. */
  tenantId?: string;
  /** Receives each line, without its newline; awaited, so a slow stream pushes back. */
  write: (line: string) => void | Promise<void>;
  /** Rows per query (default 2000). */
  pageSize?: number;
}

export interface ExportResult {
  entries: number;
  tenants: number;
}

/** One line of an export. Times are ISO 8601; the fields are the columns, snake_case. */
export interface LedgerLine {
  /** The tenant's slug. */
  tenant: string;
  tenant_id: string;
  id: number;
  at: string;
  action: string;
  actor: string;
  subject: string;
  decision: string | null;
  policy_id: string | null;
  policy_version: number | null;
  policy_digest: string | null;
  risk_score: number | null;
  inputs: Record<string, unknown>;
  content_hash: string;
  /** Null while the entry waits for the chainer. */
  link: { seq: number; prev_hash: string; hash: string; chained_at: string } | null;
  /** Checkpoints signed at this link's seq, when there are any. */
  checkpoints?: {
    id: number;
    seq: number;
    head_hash: string;
    signature: string;
    created_at: string;
  }[];
}

function line(
  slug: string,
  e: EntryRow,
  link: typeof auditLinks.$inferSelect | null,
  checkpoints: Checkpoint[],
): string {
  const out: LedgerLine = {
    tenant: slug,
    tenant_id: e.tenantId,
    id: e.id,
    at: e.at.toISOString(),
    action: e.action,
    actor: e.actor,
    subject: e.subject,
    decision: e.decision,
    policy_id: e.policyId,
    policy_version: e.policyVersion,
    policy_digest: e.policyDigest,
    risk_score: e.riskScore,
    inputs: e.inputs,
    content_hash: e.contentHash,
    link: link && {
      seq: link.seq,
      prev_hash: link.prevHash,
      hash: link.hash,
      chained_at: link.chainedAt.toISOString(),
    },
  };
  if (checkpoints.length > 0) {
    out.checkpoints = checkpoints.map((c) => ({
      id: c.id,
      seq: c.seq,
      head_hash: c.headHash,
      signature: c.signature,
      created_at: c.createdAt.toISOString(),
    }));
  }
  return JSON.stringify(out);
}

export async function exportLedger(db: Database, options: ExportOptions): Promise<ExportResult> {
  const pageSize = options.pageSize ?? 2000;
  const tenantId = options.tenantId?.toLowerCase();
  const list = await db
    .select({ id: tenants.id, slug: tenants.slug })
    .from(tenants)
    .where(tenantId === undefined ? undefined : eq(tenants.id, tenantId))
    .orderBy(asc(tenants.slug));
  let entries = 0;
  for (const { id, slug } of list) {
    // Row-level security: each tenant's ledger is read in that tenant's scope.
    const scoped = tenantDb(db, id);
    const bySeq = new Map<number, Checkpoint[]>();
    for (const c of await checkpointsOf(scoped, id))
      bySeq.set(c.seq, [...(bySeq.get(c.seq) ?? []), c]);
    // Keyset paging on (seq, entry id), which stays correct even if seqs were duplicated.
    let after: [number, number] = [Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    for (;;) {
      const rows = await scoped
        .select({ link: auditLinks, entry: auditEntries })
        .from(auditLinks)
        .innerJoin(auditEntries, eq(auditEntries.id, auditLinks.entryId))
        .where(
          and(
            eq(auditLinks.tenantId, id),
            sql`(${auditLinks.seq}, ${auditLinks.entryId}) > (${after[0]}, ${after[1]})`,
          ),
        )
        .orderBy(asc(auditLinks.seq), asc(auditLinks.entryId))
        .limit(pageSize);
      for (const { link, entry } of rows) {
        await options.write(line(slug, entry, link, bySeq.get(link.seq) ?? []));
        entries += 1;
      }
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) break;
      after = [last.link.seq, last.link.entryId];
    }
    let afterId = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = await scoped
        .select()
        .from(auditEntries)
        .where(and(eq(auditEntries.tenantId, id), gt(auditEntries.id, afterId), hasNoLink))
        .orderBy(asc(auditEntries.id))
        .limit(pageSize);
      for (const entry of rows) {
        await options.write(line(slug, entry, null, []));
        entries += 1;
      }
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) break;
      afterId = last.id;
    }
  }
  return { entries, tenants: list.length };
}
