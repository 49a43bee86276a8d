/**
 * The one Drizzle schema. Migrations in /migrations are generated from it by
 * `npm run db:generate`; never edit them by hand.
 *
 * Every row that belongs to a tenant carries `tenant_id`, so that later
 * row-level security can key on it without joins.
 */
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { JSONWebKeySet, JWK } from 'jose';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  slug: text('slug').notNull().unique(),
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

/**
 * The broker's own signing keys. `private_jwe` is the private JWK sealed under the
 * KEK (compact JWE, dir + A256GCM) and is erased when the key retires.
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg').notNull(),
    status: text('status', { enum: ['next', 'current', 'retired'] }).notNull(),
    publicJwk: jsonb('public_jwk').$type<JWK>().notNull(),
    privateJwe: text('private_jwe'),
    createdAt: createdAt(),
    activatedAt: timestamp('activated_at', { withTimezone: true }),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
    /** A retired key stays in JWKS until every token it signed has expired. */
    publishUntil: timestamp('publish_until', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('signing_keys_one_current')
      .on(t.status)
      .where(sql`${t.status} = 'current'`),
    uniqueIndex('signing_keys_one_next')
      .on(t.status)
      .where(sql`${t.status} = 'next'`),
    check('signing_keys_status_known', sql`${t.status} in ('next', 'current', 'retired')`),
    // Only a key that may still sign keeps its sealed private half.
    check(
      'signing_keys_private_only_live',
      sql`${t.status} <> 'retired' or ${t.privateJwe} is null`,
    ),
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
