/** What `audit verify` reports: every problem with the rows it concerns, not just a boolean. */

export type LedgerProblemCode =
  /** The entry's columns no longer hash to its content_hash. */
  | 'entry_edited'
  /** A link names an entry that does not exist. */
  | 'entry_missing'
  /** A link names an entry of another tenant. */
  | 'entry_wrong_tenant'
  /** Two entry rows share one id. */
  | 'entry_duplicate_id'
  /** More than one link names the entry. */
  | 'entry_linked_twice'
  /** An entry older than the grace period (or dated in the future) that no link names. */
  | 'entry_unlinked'
  /** A link's hash does not recompute from its fields and its entry's content. */
  | 'link_hash_mismatch'
  /** A link's prev_hash is not the previous link's hash (43 'A' for seq 1). */
  | 'link_prev_mismatch'
  /** Sequence numbers missing from the chain. */
  | 'link_gap'
  /** Two links with one sequence number. */
  | 'link_duplicate_seq'
  /** A sequence number below 1. */
  | 'link_bad_seq'
  /** The checkpoint's signature does not verify against the broker's keys. */
  | 'checkpoint_signature_invalid'
  /** The checkpoint row says something other than what was signed. */
  | 'checkpoint_altered'
  /** The chain's link at the checkpoint's seq does not have the signed head hash. */
  | 'checkpoint_head_mismatch'
  /** The chain ends before a signed checkpoint: its end was cut off. */
  | 'checkpoint_beyond_chain';

export interface LedgerProblem {
  code: LedgerProblemCode;
  tenant_id: string;
  seq?: number;
  entry_id?: number;
  checkpoint_id?: number;
  message: string;
}

/** Collects problems, keeping the first `limit` and counting the rest. */
export class ProblemList {
  readonly items: LedgerProblem[] = [];
  count = 0;
  constructor(private readonly limit: number) {}

  add(problem: LedgerProblem): void {
    this.count += 1;
    if (this.items.length < this.limit) this.items.push(problem);
  }
}
