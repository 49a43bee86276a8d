/**
 * What this verifier knows to be revoked, in memory: token ids and grant ids from
 * the event stream (and from its own overrun reports), each kept until the thing
 * it names has expired (plus the leeway during which an expired token still
 * passes). When the stream is live, these sets are complete and no request needs
 * the network; when it is not, the status list decides (see status-list.ts).
 */
import { ExpiringSet } from './expiring-set.ts';

/** The `data` of a `revocation` event (docs/REVOCATION.md). */
export type RevocationEventData =
  { type: 'token'; jti: string; exp: number } | { type: 'grant'; grant_id: string; exp: number };

export class RevocationState {
  private readonly jtis: ExpiringSet;
  private readonly grants: ExpiringSet;

  constructor(
    private readonly now: () => number,
    private readonly leeway: number,
  ) {
    this.jtis = new ExpiringSet(now);
    this.grants = new ExpiringSet(now);
  }

  /** Revoked by token id, or by the grant it was minted under. */
  has(jti: string, grantId: string | undefined): boolean {
    return this.jtis.has(jti) || (grantId !== undefined && this.grants.has(grantId));
  }

  revokeToken(jti: string, exp: number): void {
    this.jtis.add(jti, this.until(exp));
  }

  revokeGrant(grantId: string, exp: number): void {
    this.grants.add(grantId, this.until(exp));
  }

  /** Applies one event's data; false (and nothing changes) when it is not one we understand. */
  apply(data: unknown): boolean {
    if (!data || typeof data !== 'object') return false;
    const d = data as Record<string, unknown>;
    if (typeof d.exp !== 'number' || !Number.isFinite(d.exp)) return false;
    if (d.type === 'token' && typeof d.jti === 'string') {
      this.revokeToken(d.jti, d.exp);
      return true;
    }
    if (d.type === 'grant' && typeof d.grant_id === 'string') {
      this.revokeGrant(d.grant_id, d.exp);
      return true;
    }
    return false;
  }

  get size(): number {
    return this.jtis.size + this.grants.size;
  }

  /** `exp` in seconds → the last millisecond a token with that exp could still pass. */
  private until(exp: number): number {
    return (exp + this.leeway) * 1000;
  }
}
