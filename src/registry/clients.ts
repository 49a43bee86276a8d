/** What agents and APIs share: how their keys are registered, and how they are disabled. */
import { and, eq, inArray } from 'drizzle-orm';
import type { JSONWebKeySet } from 'jose';
import type { Database } from '../db/database.ts';
import { apis, clients } from '../db/schema.ts';
import { RegistryError } from './errors.ts';
import { validatePublicJwks } from './jwks.ts';
import { tenantIdOf } from './tenants.ts';
import { jwksUriSchema, parseInput } from './validate.ts';
import { nameTenant } from '../db/tenancy.ts';

export interface KeySourceInput {
  /** An inline public JWK Set. */
  jwks?: unknown;
  /** Or where the client publishes one. */
  jwksUri?: string;
}

export interface KeySource {
  jwks: JSONWebKeySet | null;
  jwksUri: string | null;
}

/** Exactly one of the two, validated; the database's CHECK says the same. */
export async function keySource(input: KeySourceInput): Promise<KeySource> {
  const hasJwks = input.jwks !== undefined && input.jwks !== null;
  const hasUri = input.jwksUri !== undefined && input.jwksUri !== null;
  if (hasJwks === hasUri) {
    throw new RegistryError('ERR_INVALID', 'give exactly one of jwks and jwks_uri');
  }
  return hasJwks
    ? { jwks: await validatePublicJwks(input.jwks), jwksUri: null }
    : { jwks: null, jwksUri: parseInput(jwksUriSchema, input.jwksUri, 'jwks_uri') };
}

/** Which client to act on: by id, by its name within the tenant, or (APIs) by audience. */
export interface ClientSelector {
  clientId?: string;
  name?: string;
  audience?: string;
}

/**
 * Marks one client of `kind` in `tenant` disabled; client authentication refuses
 * it from then on. The tenant is part of the WHERE, so no tenant can reach
 * another's clients even with a known client id. Idempotent.
 */
export async function disableClient(
  db: Database,
  tenant: string,
  kind: 'agent' | 'api',
  selector: ClientSelector,
): Promise<{ client_id: string; status: 'disabled' }> {
  const chosen = Object.entries(selector).filter(([, v]) => v !== undefined);
  const [only] = chosen;
  if (chosen.length !== 1 || !only) {
    throw new RegistryError(
      'ERR_INVALID',
      `name the ${kind} by exactly one of client id, name or audience`,
    );
  }
  const [field, value] = only as [keyof ClientSelector, unknown];
  if (typeof value !== 'string')
    throw new RegistryError('ERR_INVALID', `${field} must be a string`);
  return db.transaction(async (tx) => {
    const tenantId = await tenantIdOf(tx, tenant);
    // The slug names the tenant; what follows writes its rows only (src/db/tenancy.ts).
    await nameTenant(tx, tenantId);
    const which =
      field === 'clientId'
        ? eq(clients.id, value)
        : field === 'name'
          ? eq(clients.name, value)
          : inArray(
              clients.id,
              tx.select({ id: apis.clientId }).from(apis).where(eq(apis.audience, value)),
            );
    const [row] = await tx
      .update(clients)
      .set({ status: 'disabled' })
      .where(and(eq(clients.tenantId, tenantId), eq(clients.kind, kind), which))
      .returning({ id: clients.id });
    if (!row) {
      throw new RegistryError('ERR_NOT_FOUND', `no ${kind} "${value}" in tenant "${tenant}"`);
    }
    return { client_id: row.id, status: 'disabled' as const };
  });
}
