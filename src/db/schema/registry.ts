/** Tenants, people and OAuth clients (agents and backend APIs). */
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
import type { JSONWebKeySet } from 'jose';
import { createdAt } from './columns.ts';

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  slug: text('slug').notNull().unique(),
  /** Overruns a grant survives before the next one revokes it; null: the broker default. */
  overrunThreshold: integer('overrun_threshold'),
  createdAt: createdAt(),
});

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** Lower-cased email or handle, unique within the tenant. */
    email: text('email').notNull(),
    status: text('status', { enum: ['invited', 'active', 'disabled'] })
      .notNull()
      .default('invited'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('users_tenant_email_uq').on(t.tenantId, t.email),
    check('users_status_known', sql`${t.status} in ('invited', 'active', 'disabled')`),
  ],
);

export const invites = pgTable(
  'invites',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** SHA-256 of the link's secret, base64url; the secret itself is never stored. */
    tokenHash: text('token_hash').notNull().unique(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('invites_user_idx').on(t.userId)],
);

/** OAuth clients: agents and backend APIs both authenticate with private_key_jwt. */
export const clients = pgTable(
  'clients',
  {
    id: text('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind', { enum: ['agent', 'api'] }).notNull(),
    name: text('name').notNull(),
    jwks: jsonb('jwks').$type<JSONWebKeySet>(),
    jwksUri: text('jwks_uri'),
    status: text('status', { enum: ['active', 'disabled'] })
      .notNull()
      .default('active'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('clients_tenant_kind_name_uq').on(t.tenantId, t.kind, t.name),
    check('clients_one_key_source', sql`(${t.jwks} is null) <> (${t.jwksUri} is null)`),
    check('clients_kind_known', sql`${t.kind} in ('agent', 'api')`),
    check('clients_status_known', sql`${t.status} in ('active', 'disabled')`),
  ],
);

/** A backend API: the resource indicator (RFC 8707) its tokens carry as `aud`. */
export const apis = pgTable('apis', {
  clientId: text('client_id')
    .primaryKey()
    .references(() => clients.id),
  tenantId: uuid('tenant_id')
    .notNull()
    .references(() => tenants.id),
  /** Globally unique, so that no token minted in one tenant can name another tenant's API. */
  audience: text('audience').notNull().unique(),
  /** Overrides the tenant's overrun threshold for grants' overruns reported at this API. */
  overrunThreshold: integer('overrun_threshold'),
});

export const apiScopes = pgTable(
  'api_scopes',
  {
    apiClientId: text('api_client_id')
      .notNull()
      .references(() => apis.clientId),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    description: text('description').notNull(),
    sensitivity: text('sensitivity', { enum: ['read', 'write', 'admin'] }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.apiClientId, t.name] }),
    check('api_scopes_sensitivity_known', sql`${t.sensitivity} in ('read', 'write', 'admin')`),
  ],
);

/** Client-assertion `jti`s seen, kept until the assertion expires (RFC 7523 §3, item 7). */
export const clientAssertionJtis = pgTable(
  'client_assertion_jtis',
  {
    clientId: text('client_id').notNull(),
    jti: text('jti').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.clientId, t.jti] }),
    index('client_assertion_jtis_expiry_idx').on(t.expiresAt),
  ],
);
