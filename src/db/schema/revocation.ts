/**
 * Status lists (draft-ietf-oauth-status-list) and the revocation event log.
 *
 * A status list belongs to one tenant, so that nobody holding a token of one
 * tenant learns anything about another's revocations. Its bits are not stored:
 * a list is built from the revoked rows of issued_tokens that point into it, so a
 * revocation is one UPDATE of the token rows and nothing else can drift.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';
import { tenants } from './registry.ts';

export const statusLists = pgTable(
  'status_lists',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** 1, 2, 3… per tenant: a new list opens when the previous one is full. */
    number: integer('number').notNull(),
    /** How many entries the list holds (MANDATE_STATUS_LIST_SIZE when it was opened). */
    capacity: integer('capacity').notNull(),
    /**
     * Indices handed out so far, in blocks to broker processes; it may run past
     * capacity by less than one block, and the list is full once it reaches it.
     */
    allocated: integer('allocated').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('status_lists_tenant_number_uq').on(t.tenantId, t.number),
    check('status_lists_capacity_positive', sql`${t.capacity} > 0`),
  ],
);

/**
 * Every revocation, in commit order (revocations take a transaction-level advisory
 * lock before appending, so ids grow in the order they become visible): the
 * Server-Sent Events stream replays from here and resumes from an event id.
 */
export const revocationEvents = pgTable(
  'revocation_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** The API audience the event is for: only that API's stream carries it. */
    audience: text('audience').notNull(),
    /** `token`: one token (by jti) is dead; `grant`: every token of the grant is. */
    kind: text('kind', { enum: ['token', 'grant'] }).notNull(),
    /** The jti or the grant id. */
    subject: text('subject').notNull(),
    /** After this, the revoked thing is dead anyway and verifiers may forget it. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('revocation_events_stream_idx').on(t.tenantId, t.audience, t.id),
    index('revocation_events_created_idx').on(t.createdAt),
    check('revocation_events_kind_known', sql`${t.kind} in ('token', 'grant')`),
  ],
);
