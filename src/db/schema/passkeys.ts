/** People's passkeys, WebAuthn challenges and signed-in sessions. */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';
import { tenants, users } from './registry.ts';

/** One row per registered credential; the credential id is globally unique (WebAuthn §6.1). */
export const passkeys = pgTable(
  'passkeys',
  {
    /** Credential id, base64url. */
    id: text('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** COSE public key, base64url: what every later assertion and stored evidence verifies with. */
    publicKey: text('public_key').notNull(),
    /** Signature counter; an assertion that does not raise a non-zero counter is refused. */
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    transports: jsonb('transports').$type<string[]>().notNull().default([]),
    deviceType: text('device_type').notNull(),
    backedUp: boolean('backed_up').notNull(),
    aaguid: text('aaguid'),
    /** A label the person recognises, e.g. the browser that created it. */
    name: text('name'),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [index('passkeys_user_idx').on(t.userId)],
);

/**
 * Outstanding WebAuthn challenges: single use (consumed by DELETE … RETURNING) and
 * expiring. `purpose` binds a challenge to one ceremony; `context` holds what that
 * ceremony must match later (e.g. the approval document for `approval`).
 */
export const webauthnChallenges = pgTable(
  'webauthn_challenges',
  {
    /** The challenge itself, base64url. */
    challenge: text('challenge').primaryKey(),
    purpose: text('purpose', { enum: ['registration', 'authentication', 'approval'] }).notNull(),
    /** Null for a discoverable sign-in, where the person is unknown until they answer. */
    tenantId: uuid('tenant_id').references(() => tenants.id),
    userId: uuid('user_id').references(() => users.id),
    context: jsonb('context').$type<Record<string, unknown>>().notNull().default({}),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('webauthn_challenges_expiry_idx').on(t.expiresAt),
    check(
      'webauthn_challenges_purpose_known',
      sql`${t.purpose} in ('registration', 'authentication', 'approval')`,
    ),
  ],
);

/** Signed-in sessions; the cookie carries a secret whose SHA-256 is the id. */
export const sessions = pgTable(
  'sessions',
  {
    /** SHA-256 of the cookie's secret, base64url: a database leak yields no usable cookie. */
    idHash: text('id_hash').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** Per-session CSRF token that every state-changing form and fetch must echo. */
    csrfToken: text('csrf_token').notNull(),
    /** The passkey that signed in. */
    passkeyId: text('passkey_id').references(() => passkeys.id),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expiry_idx').on(t.expiresAt)],
);
