/**
 * Backend APIs (resource servers): a client that authenticates with
 * private_key_jwt, an audience (RFC 8707 resource indicator) and its scopes.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { apis, apiScopes, clients } from '../db/schema.ts';
import { randomId } from '../random.ts';
import { disableClient, keySource, type ClientSelector, type KeySourceInput } from './clients.ts';
import { conflictOn } from './errors.ts';
import { tenantIdOf } from './tenants.ts';
import {
  audienceSchema,
  nameSchema,
  overrunThresholdSchema,
  parseInput,
  scopesSchema,
  type ScopeInput,
} from './validate.ts';
import { nameTenant, tenantDb } from '../db/tenancy.ts';

export interface ApiInput extends KeySourceInput {
  tenant: string;
  audience: string;
  scopes: unknown;
  /** Display name; defaults to the audience. */
  name?: string;
  /** Overruns a grant may have at this API before the next one revokes it; default: the tenant's. */
  overrunThreshold?: string | number | undefined;
}

export interface ApiSummary {
  client_id: string;
  name: string;
  audience: string;
  status: 'active' | 'disabled';
  scopes: ScopeInput[];
  jwks_uri: string | null;
  created_at: string;
}

/** Writes the client, the API and its scopes in one transaction: all or nothing. */
export async function addApi(
  db: Database,
  input: ApiInput,
): Promise<{ client_id: string; audience: string }> {
  const audience = parseInput(audienceSchema, input.audience, 'audience');
  const name = parseInput(nameSchema, input.name ?? audience.slice(0, 100), 'API name');
  const scopes = parseInput(scopesSchema, input.scopes, 'scopes');
  const threshold =
    input.overrunThreshold === undefined
      ? null
      : parseInput(overrunThresholdSchema, input.overrunThreshold, 'overrun threshold');
  const keys = await keySource(input);
  const clientId = randomId('api');
  await db.transaction(async (tx) => {
    const tenantId = await tenantIdOf(tx, input.tenant);
    // The slug names the tenant; what follows writes its rows only (src/db/tenancy.ts).
    await nameTenant(tx, tenantId);
    try {
      await tx.insert(clients).values({ id: clientId, tenantId, kind: 'api', name, ...keys });
      // Audience uniqueness across all tenants is enforced here, after the client row:
      // a conflict rolls that row back with everything else.
      await tx.insert(apis).values({ clientId, tenantId, audience, overrunThreshold: threshold });
      await tx
        .insert(apiScopes)
        .values(scopes.map((s) => ({ apiClientId: clientId, tenantId, ...s })));
    } catch (err) {
      conflictOn(err, {
        clients_tenant_kind_name_uq: `an API named "${name}" already exists in tenant "${input.tenant}"`,
        apis_audience_unique: `audience "${audience}" is already registered`,
      });
    }
  });
  return { client_id: clientId, audience };
}

export async function listApis(db: Database, tenant: string): Promise<{ apis: ApiSummary[] }> {
  const tenantId = await tenantIdOf(db, tenant);
  const scoped = tenantDb(db, tenantId);
  const rows = await scoped
    .select({ client: clients, audience: apis.audience })
    .from(apis)
    .innerJoin(clients, eq(clients.id, apis.clientId))
    .where(and(eq(apis.tenantId, tenantId), eq(clients.tenantId, tenantId)))
    .orderBy(asc(apis.audience));
  const ids = rows.map((r) => r.client.id);
  const scopeRows = ids.length
    ? await scoped
        .select()
        .from(apiScopes)
        .where(and(eq(apiScopes.tenantId, tenantId), inArray(apiScopes.apiClientId, ids)))
        .orderBy(asc(apiScopes.name))
    : [];
  return {
    apis: rows.map(({ client, audience }) => ({
      client_id: client.id,
      name: client.name,
      audience,
      status: client.status,
      scopes: scopeRows
        .filter((s) => s.apiClientId === client.id)
        .map(({ name, description, sensitivity }) => ({ name, description, sensitivity })),
      jwks_uri: client.jwksUri,
      created_at: client.createdAt.toISOString(),
    })),
  };
}

export function disableApi(
  db: Database,
  tenant: string,
  selector: ClientSelector,
): Promise<{ client_id: string; status: 'disabled' }> {
  return disableClient(db, tenant, 'api', selector);
}
