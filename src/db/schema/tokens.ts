/** Every access token the broker mints, recorded before it is handed out. */
import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from './columns.ts';
import { grants } from './delegation.ts';
import { clients, tenants } from './registry.ts';

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
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('issued_tokens_grant_idx').on(t.grantId)],
);
