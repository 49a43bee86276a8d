/**
 * The audit ledger (DESIGN.md, Policy and audit). Two append-only tables, both
 * refused UPDATE, DELETE and TRUNCATE by triggers (migrations/0005_audit_guard.sql):
 *
 * - audit_entries: one row per decision or state change, written in the transaction
 *   that makes it, with the SHA-256 of its own canonical content. Writing one is a
 *   plain INSERT: the mint path takes no lock for the ledger.
 * - audit_links: the per-tenant hash chain over those entries, appended in batches
 *   by a chainer (one per tenant at a time): seq, the entry, the previous link's
 *   hash and this link's hash. Chain order is link order, not entry id order.
 *
 * audit_checkpoints are signed statements (tenant, seq, head hash) by the broker's
 * key, so that truncating the chain's end is caught too.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { tenants } from './registry.ts';

export const auditEntries = pgTable(
  'audit_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    at: timestamp('at', { withTimezone: true }).notNull(),
    /** e.g. `grant.approved`, `token.minted`, `overrun.reported`, `policy.pushed`. */
    action: text('action').notNull(),
    /** Who acted: `agent:<client id>`, `user:<id>`, `api:<client id>`, `operator`, `broker`. */
    actor: text('actor').notNull(),
    /** What it was about: `grant:<id>`, `token:<jti>`, `key:<kid>`, `policy:<version>`. */
    subject: text('subject').notNull(),
    /** ALLOW, DENY, ADAPT, ESCALATE, REUSE, or null for a plain state change. */
    decision: text('decision'),
    policyId: text('policy_id'),
    policyVersion: bigint('policy_version', { mode: 'number' }),
    policyDigest: text('policy_digest'),
    riskScore: real('risk_score'),
    /** Everything the decision was made from, so that it can be replayed. */
    inputs: jsonb('inputs').$type<Record<string, unknown>>().notNull(),
    /** SHA-256 (base64url) of the RFC 8785 canonical form of the columns above. */
    contentHash: text('content_hash').notNull(),
  },
  (t) => [
    index('audit_entries_tenant_idx').on(t.tenantId, t.id),
    index('audit_entries_tenant_at_idx').on(t.tenantId, t.at),
  ],
);

export const auditLinks = pgTable(
  'audit_links',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** 1, 2, 3… per tenant, without gaps. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    entryId: bigint('entry_id', { mode: 'number' })
      .notNull()
      .references(() => auditEntries.id),
    /** The previous link's hash; 43 'A's (32 zero bytes) for seq 1. */
    prevHash: text('prev_hash').notNull(),
    /** SHA-256 over tenant, seq, entry id, the entry's content hash and prev_hash. */
    hash: text('hash').notNull(),
    chainedAt: timestamp('chained_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.seq] }),
    uniqueIndex('audit_links_entry_uq').on(t.entryId),
  ],
);

export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    headHash: text('head_hash').notNull(),
    /** A compact JWS by the broker's signing key over { tid, seq, head, iat }. */
    signature: text('signature').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('audit_checkpoints_tenant_idx').on(t.tenantId, t.seq)],
);

/** Versioned Cedar policy bundles per tenant (DESIGN.md); the highest version is in force. */
export const policyBundles = pgTable(
  'policy_bundles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    version: bigint('version', { mode: 'number' }).notNull(),
    /** The Cedar policy set, as pushed. */
    policies: text('policies').notNull(),
    /** SHA-256 (hex) of the bundle's canonical form (policies and engine schema version). */
    digest: text('digest').notNull(),
    /** Who pushed it (`operator`, or `broker` for the shipped default). */
    pushedBy: text('pushed_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('policy_bundles_tenant_version_uq').on(t.tenantId, t.version),
    check('policy_bundles_version_positive', sql`${t.version} > 0`),
  ],
);
