/** Delegation: CIBA requests from agents, and the grants people approve with a passkey. */
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';
import { clients, tenants, users } from './registry.ts';

/** What an agent asked for, or a person approved: per API (RFC 8707 resource), its scopes. */
export interface ResourceScopes {
  resource: string;
  /** The API's client id, so scopes resolve against its catalogue without a lookup by URI. */
  api_client_id: string;
  scopes: string[];
}

/** The evidence a grant keeps so anyone can re-verify the approval later. */
export interface ApprovalEvidence {
  credential_id: string;
  /** base64url, exactly as the authenticator returned them. */
  authenticator_data: string;
  client_data_json: string;
  signature: string;
  user_handle: string | null;
  /** The approval document's canonical text (RFC 8785); its SHA-256 is the challenge. */
  document: string;
  /** The origin and RP ID the assertion was verified against. */
  origin: string;
  rp_id: string;
}

/**
 * What an escalated decision asked the person to approve afresh (policy outcome
 * ESCALATE): one action of the agent under an existing grant, for one task.
 */
export interface EscalationKey {
  action: 'MintTaskToken' | 'ExchangeToken';
  resource: string;
  /** Sorted, distinct. */
  scopes: string[];
  /** The task's id ('' when the task named none). */
  task_id: string;
}

/**
 * A backchannel authentication request (OpenID CIBA, poll mode), or an escalation:
 * a policy's demand that the person approve one task afresh under an existing grant
 * (escalates_grant_id set). Both are approved on the same page with a passkey; an
 * approved escalation creates no grant, it keeps its evidence and lets one mint of
 * that task through.
 */
export const cibaRequests = pgTable(
  'ciba_requests',
  {
    /** Page-facing id: appears in the approval URL, never enough to poll for tokens. */
    id: uuid('id').primaryKey().defaultRandom(),
    /** SHA-256 of the `auth_req_id` handed to the agent, base64url. */
    authReqIdHash: text('auth_req_id_hash').notNull().unique(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    requested: jsonb('requested').$type<ResourceScopes[]>().notNull(),
    /** RFC 9396 authorization details as the agent sent them (validated). */
    authorizationDetails: jsonb('authorization_details').$type<Record<string, unknown>[]>(),
    bindingMessage: text('binding_message'),
    /** How long the agent asked the grant to last, in seconds (null: the default). */
    requestedGrantTtl: integer('requested_grant_ttl'),
    status: text('status', { enum: ['pending', 'approved', 'denied'] })
      .notNull()
      .default('pending'),
    /** Minimum seconds between polls; a faster poll gets `slow_down` and a longer interval. */
    pollInterval: integer('poll_interval').notNull(),
    lastPolledAt: timestamp('last_polled_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    grantId: uuid('grant_id'),
    /** Set when the approved tokens were handed out; a second poll then gets invalid_grant. */
    redeemedAt: timestamp('redeemed_at', { withTimezone: true }),
    /** For an escalation: the grant whose task needs the person's fresh approval. */
    escalatesGrantId: uuid('escalates_grant_id').references((): AnyPgColumn => grants.id),
    escalation: jsonb('escalation').$type<EscalationKey>(),
    /** For an approved escalation: the passkey assertion (grants keep theirs). */
    evidence: jsonb('evidence').$type<ApprovalEvidence>(),
    createdAt: createdAt(),
  },
  (t) => [
    index('ciba_requests_user_status_idx').on(t.userId, t.status),
    index('ciba_requests_escalation_idx')
      .on(t.escalatesGrantId)
      .where(sql`${t.escalatesGrantId} is not null`),
    check(
      'ciba_requests_escalation_complete',
      sql`(${t.escalatesGrantId} is null) = (${t.escalation} is null)`,
    ),
    check('ciba_requests_status_known', sql`${t.status} in ('pending', 'approved', 'denied')`),
  ],
);

/** A person's approval: the ceiling for every task token the agent mints under it. */
export const grants = pgTable(
  'grants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    requestId: uuid('request_id')
      .notNull()
      .unique()
      .references(() => cibaRequests.id),
    /** The approved ceiling: per API, the scopes the person left ticked. */
    resources: jsonb('resources').$type<ResourceScopes[]>().notNull(),
    authorizationDetails: jsonb('authorization_details').$type<Record<string, unknown>[]>(),
    /**
     * SHA-256 of the grant handle (the refresh_token given to the agent), base64url.
     * Null until the agent redeems the approval: the handle is generated then, so its
     * secret never has to be kept anywhere.
     */
    handleHash: text('handle_hash').unique(),
    /**
     * RFC 7638 thumbprint of the DPoP key the grant is bound to (RFC 9449 §5), set when
     * the agent redeemed it with a DPoP proof; the handle then works only with that key.
     */
    dpopJkt: text('dpop_jkt'),
    /** Longest lifetime of any access token minted under this grant, seconds. */
    maxTokenTtl: integer('max_token_ttl').notNull(),
    status: text('status', { enum: ['active', 'revoked'] })
      .notNull()
      .default('active'),
    evidence: jsonb('evidence').$type<ApprovalEvidence>().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revocationReason: text('revocation_reason'),
  },
  (t) => [
    index('grants_user_idx').on(t.userId, t.status),
    index('grants_client_idx').on(t.clientId),
    check('grants_status_known', sql`${t.status} in ('active', 'revoked')`),
    check(
      'grants_revocation_consistent',
      sql`(${t.status} = 'revoked') = (${t.revokedAt} is not null)`,
    ),
  ],
);
