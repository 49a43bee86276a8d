import type postgres from 'postgres';

/** Builds URLs to sibling databases on the server TEST_DATABASE_URL points at. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.href;
}

/** The database named in the URL is where we run CREATE/DROP DATABASE from. */
export function adminUrl(base: string): string {
  return base;
}

/** The non-owner login the tests' brokers use (global-setup creates it). */
export const BROKER_LOGIN = 'mandate_broker';

/** The same database, logged in as the broker's non-owner role. */
export function brokerUrl(url: string): string {
  const u = new URL(url);
  u.username = BROKER_LOGIN;
  u.password = '';
  return u.href;
}

/**
 * The login the tests' brokers connect as: a member of mandate_app that owns nothing
 * and is no superuser, as docs/SECURITY.md asks of a deployment. Roles are
 * cluster-wide; a concurrent run may create it first.
 */
export async function createBrokerLogin(admin: postgres.Sql): Promise<void> {
  await admin.unsafe(`do $$ begin
    create role ${BROKER_LOGIN} login in role mandate_app;
  exception when duplicate_object or unique_violation then null;
  end $$`);
}
