/**
 * The identifiers that arrive before their tenant is known, each answered by one
 * SECURITY DEFINER function of migration 0008 for that exact identifier. Everything
 * else the broker reads runs in a tenant's scope (tenancy.ts).
 */
import { sql } from 'drizzle-orm';
import type { JSONWebKeySet } from 'jose';
import type { RevocationEvent } from '../revocation/feed.ts';
import type { DbOrTx } from './database.ts';

/** `db.execute` returns `{ rows }` on PGlite and an array on postgres.js. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

export interface ClientRecord {
  id: string;
  tenantId: string;
  kind: 'agent' | 'api';
  name: string;
  jwks: JSONWebKeySet | null;
  jwksUri: string | null;
  status: 'active' | 'disabled';
}

/** The client a client_id names, in whichever tenant: client authentication's first step. */
export async function clientById(db: DbOrTx, id: string): Promise<ClientRecord | undefined> {
  const [row] = rowsOf<{
    id: string;
    tenant_id: string;
    kind: ClientRecord['kind'];
    name: string;
    jwks: JSONWebKeySet | null;
    jwks_uri: string | null;
    status: ClientRecord['status'];
  }>(
    await db.execute(
      sql`select id, tenant_id, kind, name, jwks, jwks_uri, status from mandate_client(${id})`,
    ),
  );
  return (
    row && {
      id: row.id,
      tenantId: row.tenant_id,
      kind: row.kind,
      name: row.name,
      jwks: row.jwks,
      jwksUri: row.jwks_uri,
      status: row.status,
    }
  );
}

async function tenantOf(db: DbOrTx, lookup: ReturnType<typeof sql>): Promise<string | undefined> {
  const [row] = rowsOf<{ tenant_id: string | null }>(
    await db.execute(sql`select ${lookup} as tenant_id`),
  );
  return row?.tenant_id ?? undefined;
}

/** The tenant of a session, by the SHA-256 of its cookie's secret. */
export function sessionTenant(db: DbOrTx, idHash: string): Promise<string | undefined> {
  return tenantOf(db, sql`mandate_session_tenant(${idHash})`);
}

/** The tenant of an invite, by the SHA-256 of its link's secret. */
export function inviteTenant(db: DbOrTx, tokenHash: string): Promise<string | undefined> {
  return tenantOf(db, sql`mandate_invite_tenant(${tokenHash})`);
}

/** The tenant of a passkey, by its credential id (a discoverable sign-in's answer). */
export function passkeyTenant(db: DbOrTx, credentialId: string): Promise<string | undefined> {
  return tenantOf(db, sql`mandate_passkey_tenant(${credentialId})`);
}

/** The tenant of a status list, by its id (the list's URL is public). */
export function statusListTenant(db: DbOrTx, listId: string): Promise<string | undefined> {
  return tenantOf(db, sql`mandate_status_list_tenant(${listId}::uuid)`);
}

/**
 * The chainer's view across tenants: which tenants have unchained entries above the
 * lower bound, and that bound (see src/audit/chain.ts). Null lookback: from the start.
 */
export async function auditPending(
  db: DbOrTx,
  lookbackSecs: number | null,
): Promise<{ tenantIds: string[]; after: number }> {
  const rows = rowsOf<{ tenant_id: string; after_id: string | number }>(
    await db.execute(
      sql`select tenant_id, after_id from mandate_audit_pending(${lookbackSecs}::float8)`,
    ),
  );
  return { tenantIds: rows.map((r) => r.tenant_id), after: Number(rows[0]?.after_id ?? 0) };
}

/** Revocation events of every tenant after `afterId`, in commit order (the feed dispatches them per tenant). */
export async function revocationEventsAfter(
  db: DbOrTx,
  afterId: number,
  limit: number,
): Promise<RevocationEvent[]> {
  const rows = rowsOf<{
    id: string | number;
    tenant_id: string;
    audience: string;
    kind: 'token' | 'grant';
    subject: string;
    expires_at: string | Date;
  }>(
    await db.execute(
      sql`select id, tenant_id, audience, kind, subject, expires_at
          from mandate_revocation_events_after(${afterId}::bigint, ${limit}::integer)`,
    ),
  );
  return rows.map((r) => ({
    id: Number(r.id),
    tenantId: r.tenant_id,
    audience: r.audience,
    kind: r.kind,
    subject: r.subject,
    expiresAt: new Date(r.expires_at),
  }));
}

/** The newest revocation event's id across tenants (0 when there is none). */
export async function lastRevocationEventId(db: DbOrTx): Promise<number> {
  const [row] = rowsOf<{ last: string | number }>(
    await db.execute(sql`select mandate_revocation_events_last() as last`),
  );
  return Number(row?.last ?? 0);
}
