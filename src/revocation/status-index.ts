/**
 * Hands out status-list positions (draft-ietf-oauth-status-list §6.2: every token
 * names a list and an index in it). Each broker process reserves a block of
 * indices in one short statement of its own and then serves them from memory, so
 * the mint transaction never waits on a per-tenant counter row; several processes
 * on one database simply get different blocks.
 *
 * Positions of a block left unused (the process stopped, a mint failed) stay 0,
 * VALID, in the list and are never given to a token: harmless gaps.
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { statusLists } from '../db/schema.ts';
import { OAuthError } from '../oauth/errors.ts';
import { tenantDb } from '../db/tenancy.ts';

/** A token's entry: which list (by id) and where in it. */
export interface StatusPosition {
  listId: string;
  idx: number;
}

interface Block {
  listId: string;
  next: number;
  /** Exclusive. */
  end: number;
}

/** Small enough that a restart wastes nothing worth counting, large enough to make reservations rare. */
export const DEFAULT_BLOCK = 64;

export class StatusIndexAllocator {
  private readonly blocks = new Map<string, Block>();
  /** Positions handed out but given back unused (a refused or pending request). */
  private readonly returned = new Map<string, StatusPosition[]>();
  private readonly reserving = new Map<string, Promise<Block>>();
  private readonly block: number;

  constructor(
    private readonly db: Database,
    private readonly capacity: number,
    block = DEFAULT_BLOCK,
  ) {
    this.block = Math.max(1, Math.min(block, capacity));
  }

  /**
   * Runs `mint` with a free position of the tenant's open list, taken before the mint's
   * transaction (on PGlite a statement outside a transaction waits for it to end). When
   * `mint` refuses with an OAuthError nothing was recorded under the position, so it goes
   * back for the next mint; other failures may have left the outcome unknown (a commit
   * that lost its connection) and the position is dropped rather than risk a duplicate.
   */
  async withPosition<T>(tenantId: string, mint: (pos: StatusPosition) => Promise<T>): Promise<T> {
    const pos = await this.next(tenantId);
    try {
      return await mint(pos);
    } catch (err) {
      if (err instanceof OAuthError) this.giveBack(tenantId, pos);
      throw err;
    }
  }

  /** The next free position in the tenant's open list. */
  async next(tenantId: string): Promise<StatusPosition> {
    const back = this.returned.get(tenantId)?.pop();
    if (back) return back;
    for (;;) {
      const current = this.blocks.get(tenantId);
      if (current && current.next < current.end) {
        return { listId: current.listId, idx: current.next++ };
      }
      // One reservation per tenant at a time: concurrent mints wait for the same block.
      let pending = this.reserving.get(tenantId);
      if (!pending) {
        pending = this.reserve(tenantId).finally(() => this.reserving.delete(tenantId));
        this.reserving.set(tenantId, pending);
      }
      this.blocks.set(tenantId, await pending);
    }
  }

  private giveBack(tenantId: string, pos: StatusPosition): void {
    const list = this.returned.get(tenantId);
    if (list) list.push(pos);
    else this.returned.set(tenantId, [pos]);
  }

  private async reserve(tenantId: string): Promise<Block> {
    for (;;) {
      // At most one list per tenant is not full (a new one opens only when none is),
      // so this touches one row; the WHERE is re-checked under the row lock.
      const [row] = await tenantDb(this.db, tenantId)
        .update(statusLists)
        .set({ allocated: sql`${statusLists.allocated} + ${this.block}` })
        .where(
          and(eq(statusLists.tenantId, tenantId), lt(statusLists.allocated, statusLists.capacity)),
        )
        .returning({
          id: statusLists.id,
          allocated: statusLists.allocated,
          capacity: statusLists.capacity,
        });
      if (row) {
        return {
          listId: row.id,
          next: row.allocated - this.block,
          end: Math.min(row.allocated, row.capacity),
        };
      }
      await this.open(tenantId);
    }
  }

  /** Opens the tenant's next list; when another process opened it first, that one is used. */
  private async open(tenantId: string): Promise<void> {
    const db = tenantDb(this.db, tenantId);
    const [last] = await db
      .select({ number: sql<number>`coalesce(max(${statusLists.number}), 0)` })
      .from(statusLists)
      .where(eq(statusLists.tenantId, tenantId));
    await db
      .insert(statusLists)
      .values({ tenantId, number: Number(last?.number ?? 0) + 1, capacity: this.capacity })
      .onConflictDoNothing();
  }
}
