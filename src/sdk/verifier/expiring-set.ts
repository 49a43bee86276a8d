/**
 * A set whose members leave at their own expiry: revoked jtis and grants are
 * forgotten once whatever they named is dead anyway, DPoP proof ids once the
 * proof would be refused as too old. Pruning walks the whole map, so it runs at
 * most once per interval, never per lookup. There is no size cap on purpose:
 * evicting a live member would un-revoke a token or let a proof be replayed;
 * expiry alone bounds the size (revocations by token lifetimes, proofs by their
 * acceptance window).
 */
export class ExpiringSet {
  private readonly entries = new Map<string, number>();
  private nextPrune = 0;

  constructor(
    private readonly now: () => number,
    /** Milliseconds between sweeps. */
    private readonly pruneEvery = 30_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** True while `key` is a member (its expiry not yet passed). */
  has(key: string): boolean {
    const expiresAt = this.entries.get(key);
    return expiresAt !== undefined && expiresAt >= this.now();
  }

  /** Adds `key` until `expiresAt` (ms); a later expiry wins over an earlier one. */
  add(key: string, expiresAt: number): void {
    this.prune();
    const known = this.entries.get(key);
    if (known === undefined || known < expiresAt) this.entries.set(key, expiresAt);
  }

  /** Adds `key` unless it is a member already; false means it was (a replay). */
  addIfAbsent(key: string, expiresAt: number): boolean {
    if (this.has(key)) return false;
    this.add(key, expiresAt);
    return true;
  }

  prune(): void {
    const now = this.now();
    if (now < this.nextPrune) return;
    this.nextPrune = now + this.pruneEvery;
    for (const [key, expiresAt] of this.entries) {
      if (expiresAt < now) this.entries.delete(key);
    }
  }
}
