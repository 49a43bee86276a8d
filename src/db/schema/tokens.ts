/** Every access token the broker mints, recorded before it is handed out. */
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';
import { grants } from './delegation.ts';
import { clients, tenants } from './registry.ts';
import { statusLists } from './revocation.ts';

export const issuedTokens = pgTable(
  'issued_tokens',
  {
    jti: text('jti').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    grantId: uuid('grant_id')
      .notNull()
      .references(() => grants.id),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    audience: text('audience').notNull(),
    scope: text('scope').notNull(),
    /** The task the token was minted for (RFC 9396 details: id, purpose), if any. */
    task: jsonb('task').$type<Record<string, unknown>>(),
    /** `access` (RFC 9068 JWT) or `vc` (the verifiable-credential form). */
    kind: text('kind', { enum: ['access', 'vc'] })
      .notNull()
      .default('access'),
    /** RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`). */
    dpopJkt: text('dpop_jkt'),
    /** For a token exchange (RFC 8693): the token it was exchanged from. */
    parentJti: text('parent_jti'),
    /** Every ancestor's jti, root first: revoking any of them makes this token inactive. */
    ancestors: jsonb('ancestors').$type<string[]>().notNull().default([]),
    /** 0 for a token minted from a grant; 1 + the parent's for an exchanged one. */
    depth: integer('depth').notNull().default(0),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /**
     * Where the token's revocation bit lives (its `status` claim). Every token minted
     * since migration 0003 has one; older rows (expired within the hour) have none.
     */
    statusListId: uuid('status_list_id').references(() => statusLists.id),
    statusIdx: integer('status_idx'),
    createdAt: createdAt(),
  },
  (t) => [
    index('issued_tokens_grant_idx').on(t.grantId),
    uniqueIndex('issued_tokens_status_uq').on(t.statusListId, t.statusIdx),
    // Building a list reads only its revoked entries.
    index('issued_tokens_revoked_status_idx')
      .on(t.statusListId, t.statusIdx)
      .where(sql`${t.revokedAt} is not null`),
    index('issued_tokens_parent_idx').on(t.parentJti),
    // The policy's signals: an agent's recent rate and baseline, and its APIs used before.
    index('issued_tokens_agent_time_idx').on(t.tenantId, t.clientId, t.issuedAt),
    index('issued_tokens_agent_audience_idx').on(t.tenantId, t.clientId, t.audience),
    // REUSE: a grant's live tokens for one task, without reading the grant's others.
    index('issued_tokens_grant_task_idx').on(t.grantId, sql`(${t.task} ->> 'id')`),
    check(
      'issued_tokens_status_complete',
      sql`(${t.statusListId} is null) = (${t.statusIdx} is null)`,
    ),
    check('issued_tokens_kind_known', sql`${t.kind} in ('access', 'vc')`),
  ],
);

/**
 * Attempts to act beyond a grant: asked for at the token endpoint (scope or resource
 * outside the grant) or reported by an API. The revocation issue acts on them.
 */
export const overrunAttempts = pgTable(
  'overrun_attempts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    grantId: uuid('grant_id').references(() => grants.id),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    /** The token involved, when there was one. */
    jti: text('jti'),
    source: text('source', { enum: ['token_endpoint', 'api_report'] }).notNull(),
    /** What was attempted: scope, resource, method, path. */
    attempted: jsonb('attempted').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('overrun_attempts_grant_idx').on(t.grantId),
    index('overrun_attempts_agent_time_idx').on(t.tenantId, t.clientId, t.createdAt),
    check('overrun_attempts_source_known', sql`${t.source} in ('token_endpoint', 'api_report')`),
  ],
);

/** DPoP proof `jti`s seen (RFC 9449 §11.1), per key, kept until the proof is too old to use. */
export const dpopProofJtis = pgTable(
  'dpop_proof_jtis',
  {
    jkt: text('jkt').notNull(),
    jti: text('jti').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.jkt, t.jti] }),
    index('dpop_proof_jtis_expiry_idx').on(t.expiresAt),
  ],
);
