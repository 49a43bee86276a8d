/** Agents: OAuth clients that act for people, authenticating with private_key_jwt. */
import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { clients } from '../db/schema.ts';
import { randomId } from '../random.ts';
import { disableClient, keySource, type ClientSelector, type KeySourceInput } from './clients.ts';
import { conflictOn } from './errors.ts';
import { tenantIdOf } from './tenants.ts';
import { nameSchema, parseInput } from './validate.ts';
import { nameTenant, tenantDb } from '../db/tenancy.ts';

export interface AgentInput extends KeySourceInput {
  tenant: string;
  name: string;
}

export interface AgentSummary {
  client_id: string;
  name: string;
  status: 'active' | 'disabled';
  /** Key ids of an inline JWK Set; empty when keys come from jwks_uri. */
  kids: string[];
  jwks_uri: string | null;
  created_at: string;
}

export async function addAgent(db: Database, input: AgentInput): Promise<{ client_id: string }> {
  const name = parseInput(nameSchema, input.name, 'agent name');
  const keys = await keySource(input);
  const clientId = randomId('agent');
  await db.transaction(async (tx) => {
    const tenantId = await tenantIdOf(tx, input.tenant);
    // The slug names the tenant; what follows writes its rows only (src/db/tenancy.ts).
    await nameTenant(tx, tenantId);
    try {
      await tx.insert(clients).values({ id: clientId, tenantId, kind: 'agent', name, ...keys });
    } catch (err) {
      conflictOn(err, {
        clients_tenant_kind_name_uq: `an agent named "${name}" already exists in tenant "${input.tenant}"`,
      });
    }
  });
  return { client_id: clientId };
}

export async function listAgents(
  db: Database,
  tenant: string,
): Promise<{ agents: AgentSummary[] }> {
  const tenantId = await tenantIdOf(db, tenant);
  const rows = await tenantDb(db, tenantId)
    .select()
    .from(clients)
    .where(and(eq(clients.tenantId, tenantId), eq(clients.kind, 'agent')))
    .orderBy(asc(clients.name));
  return {
    agents: rows.map((r) => ({
      client_id: r.id,
      name: r.name,
      status: r.status,
      kids: (r.jwks?.keys ?? []).flatMap((k) => (k.kid ? [k.kid] : [])),
      jwks_uri: r.jwksUri,
      created_at: r.createdAt.toISOString(),
    })),
  };
}

export function disableAgent(
  db: Database,
  tenant: string,
  selector: Pick<ClientSelector, 'clientId' | 'name'>,
): Promise<{ client_id: string; status: 'disabled' }> {
  return disableClient(db, tenant, 'agent', selector);
}
