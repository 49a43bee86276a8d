/** The broker's signing keys. */
import { sql } from 'drizzle-orm';
import { check, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { JWK } from 'jose';
import { createdAt } from './columns.ts';

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
