/**
 * Fixed-window counters in the database's rate_limits table, one row per bucket.
 *
 * Each check is ONE statement, `INSERT … ON CONFLICT (bucket) DO UPDATE …
 * RETURNING`: the row lock PostgreSQL takes for the upsert serialises concurrent
 * checks of a bucket, so two broker processes (or two requests of one) can never
 * both read a count and both write it back plus one, as a read-then-write would.
 *
 * A window starts at a multiple of its length since the epoch, so every process
 * computes the same window from its own clock. A process whose clock lags keeps
 * counting into the newer window another process already opened (GREATEST), rather
 * than resetting it; a request in a later window starts the count again at 1.
 *
 * A fixed window lets a client spend up to twice the limit across a window boundary;
 * the limits are meant to stop floods, not to meter, and one row per bucket is what
 * keeps the check to one cheap statement.
 */
import { lt, sql } from 'drizzle-orm';
import type { Clock } from '../clock.ts';
import type { DbOrTx } from '../db/database.ts';
import { CompiledStatement, insertRow } from '../db/compiled.ts';
import { rateLimits } from '../db/schema.ts';
import type { RateLimiter, RateRule, RateVerdict } from './limiter.ts';

export class DatabaseRateLimiter implements RateLimiter {
  constructor(
    private readonly db: DbOrTx,
    private readonly clock: Clock,
  ) {}

  async hit(bucket: string, rule: RateRule): Promise<RateVerdict> {
    const now = this.clock.now().getTime();
    const windowMs = rule.windowSeconds * 1000;
    const windowStart = new Date(Math.floor(now / windowMs) * windowMs);
    const { columns, values, shape } = insertRow('rl_', { bucket, windowStart, count: 1 });
    // In DO UPDATE, the bare column names are the stored row's values before this update.
    const [row] = await hitStatement.run(
      this.db,
      shape,
      () =>
        this.db
          .insert(rateLimits)
          .values(columns)
          .onConflictDoUpdate({
            target: rateLimits.bucket,
            set: {
              count: sql`case when excluded.window_start > ${rateLimits.windowStart} then 1 else ${rateLimits.count} + 1 end`,
              windowStart: sql`greatest(${rateLimits.windowStart}, excluded.window_start)`,
            },
          })
          .returning({ count: rateLimits.count, windowStart: rateLimits.windowStart }),
      values,
    );
    if (!row) throw new Error(`rate limit upsert of ${bucket} returned no row`);
    const endsAt = row.windowStart.getTime() + windowMs;
    return {
      allowed: row.count <= rule.limit,
      count: row.count,
      retryAfter: Math.max(1, Math.ceil((endsAt - now) / 1000)),
    };
  }
}

/**
 * The upsert, compiled once (db/compiled.ts) and prepared by name: built by drizzle and
 * parsed by PostgreSQL at every check, the two checks of a mint cost it more CPU than
 * its own statements (bench/http.ts).
 */
const hitStatement = new CompiledStatement<{ count: number; windowStart: Date }>(
  'rate_limit_hit',
  (raw) => ({
    count: Number(raw[0]),
    // The column's own decoder: the drivers hand timestamps over as text.
    windowStart: rateLimits.windowStart.mapFromDriverValue(raw[1]) as Date,
  }),
);

/**
 * Deletes counters whose window ended at least `windowSeconds` ago (the periodic
 * sweep in src/node.ts): a bucket seen again simply starts a new row.
 */
export async function pruneRateLimits(db: DbOrTx, now: Date, windowSeconds: number): Promise<void> {
  await db
    .delete(rateLimits)
    .where(lt(rateLimits.windowStart, new Date(now.getTime() - 2 * windowSeconds * 1000)));
}
