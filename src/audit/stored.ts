/** Reading entries back: a stored row's recomputed content hash. */
import type { auditEntries } from '../db/schema.ts';
import { contentHash } from './content.ts';

export type EntryRow = typeof auditEntries.$inferSelect;

/**
 * The content hash the row's columns give now, or null when they cannot be hashed
 * at all (e.g. a date JavaScript cannot represent): either way not what was recorded.
 */
export function recomputeContentHash(row: EntryRow): string | null {
  try {
    return contentHash({
      tenantId: row.tenantId,
      at: row.at,
      action: row.action,
      actor: row.actor,
      subject: row.subject,
      decision: row.decision,
      policyId: row.policyId,
      policyVersion: row.policyVersion,
      policyDigest: row.policyDigest,
      riskScore: row.riskScore,
      inputs: row.inputs,
    });
  } catch {
    return null; // reported by the caller as an edited entry
  }
}
