/**
 * Rate-limit counters (src/ratelimit/): one row per bucket, such as
 * `token:agent:<client_id>` or `ciba:addr:<ip>`, holding the current fixed
 * window's start and how many requests it has counted. Broker processes sharing
 * the database share the limits, because each check is one atomic upsert here.
 *
 * Global, not tenant-owned: a client address belongs to no tenant, and an agent's
 * bucket is keyed by its client_id, which is unique across tenants.
 */
import { index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const rateLimits = pgTable(
  'rate_limits',
  {
    bucket: text('bucket').primaryKey(),
    windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
    count: integer('count').notNull(),
  },
  // The periodic sweep deletes windows that ended long ago.
  (t) => [index('rate_limits_window_idx').on(t.windowStart)],
);
