/**
 * The one Drizzle schema. Migrations in /migrations are generated from it by
 * `npm run db:generate`; never edit them by hand.
 *
 * Every row that belongs to a tenant carries `tenant_id`, so that later
 * row-level security can key on it without joins.
 */
export * from './schema/registry.ts';
export * from './schema/keys.ts';
export * from './schema/passkeys.ts';
export * from './schema/delegation.ts';
export * from './schema/tokens.ts';
export * from './schema/revocation.ts';
export * from './schema/audit.ts';
export * from './schema/ratelimit.ts';
