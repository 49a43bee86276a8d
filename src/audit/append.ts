/**
 * Recording a decision or state change: one plain INSERT in the caller's own
 * transaction, so the entry commits or vanishes with the change it describes. No
 * lock and no read of the chain: the mint path must not queue behind the ledger.
 * The chainer (chain.ts) links committed entries into their tenant's hash chain
 * shortly afterwards.
 */
import type { DbOrTx } from '../db/database.ts';
import { auditEntries } from '../db/schema.ts';
import { contentHash, normaliseEntry, type AuditEntryInput } from './content.ts';

export interface AppendedEntry {
  id: number;
  contentHash: string;
}

let ledgerOn = true;

/**
 * For benchmarks only: bench/mint.ts measures the mint path with and without the
 * ledger in one process. While off, appends write nothing and return id 0. The
 * broker itself never calls this.
 */
export function setLedgerForBenchmark(on: boolean): void {
  ledgerOn = on;
}

/** Whether appends write (always, except in a benchmark's ledger-off rounds). */
export function ledgerEnabled(): boolean {
  return ledgerOn;
}

/**
 * An entry as the row to insert: normalised and hashed. For callers that write the
 * entry in the same statement as the change it records (a data-modifying CTE: one
 * round trip for both, as the mint does); throws AuditError like appendAudit.
 */
export function auditRow(entry: AuditEntryInput): typeof auditEntries.$inferInsert {
  const content = normaliseEntry(entry);
  return { ...content, contentHash: contentHash(content) };
}

/** Appends one entry; throws AuditError (ERR_AUDIT_INVALID) before writing anything if it is malformed. */
export async function appendAudit(tx: DbOrTx, entry: AuditEntryInput): Promise<AppendedEntry> {
  const [appended] = await appendAuditMany(tx, [entry]);
  if (!appended) throw new Error('INSERT … RETURNING gave no row');
  return appended;
}

/** Appends several entries in one statement; results come back in the given order. */
export async function appendAuditMany(
  tx: DbOrTx,
  entries: readonly AuditEntryInput[],
): Promise<AppendedEntry[]> {
  if (entries.length === 0) return [];
  if (!ledgerOn) return entries.map(() => ({ id: 0, contentHash: '' }));
  const rows = entries.map(auditRow);
  // RETURNING of a multi-row INSERT … VALUES lists the rows in VALUES order.
  return tx
    .insert(auditEntries)
    .values(rows)
    .returning({ id: auditEntries.id, contentHash: auditEntries.contentHash });
}
