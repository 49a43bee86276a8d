/**
 * Resolves requested resources (RFC 8707) and scopes against the agent's tenant:
 * each resource must be an active API of that tenant, each scope must be in the
 * catalogue of at least one requested API, and each API must be left with at
 * least one scope. An API of another tenant is answered exactly like one that
 * does not exist.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { apis, apiScopes, clients, type ResourceScopes } from '../db/schema.ts';
import { OAuthError } from '../oauth/errors.ts';

export async function resolveTargets(
  db: DbOrTx,
  tenantId: string,
  resources: string[],
  scopes: string[],
): Promise<ResourceScopes[]> {
  const found = await db
    .select({ clientId: apis.clientId, audience: apis.audience })
    .from(apis)
    .innerJoin(clients, eq(clients.id, apis.clientId))
    .where(
      and(
        eq(apis.tenantId, tenantId),
        eq(clients.tenantId, tenantId),
        eq(clients.kind, 'api'),
        eq(clients.status, 'active'),
        inArray(apis.audience, resources),
      ),
    );
  const byAudience = new Map(found.map((a) => [a.audience, a.clientId]));
  for (const resource of resources) {
    if (!byAudience.has(resource)) {
      throw new OAuthError('invalid_target', `resource ${resource} is not an API of this tenant`);
    }
  }
  const catalogue = await db
    .select({ apiClientId: apiScopes.apiClientId, name: apiScopes.name })
    .from(apiScopes)
    .where(
      and(
        eq(apiScopes.tenantId, tenantId),
        inArray(apiScopes.apiClientId, [...byAudience.values()]),
      ),
    );

  const unknown = scopes.filter((s) => !catalogue.some((c) => c.name === s));
  if (unknown.length > 0) {
    throw new OAuthError(
      'invalid_scope',
      `scope ${unknown.join(' ')} is not offered by any requested resource`,
    );
  }
  return resources.map((resource) => {
    const apiClientId = byAudience.get(resource) ?? '';
    const offered = scopes.filter((s) =>
      catalogue.some((c) => c.apiClientId === apiClientId && c.name === s),
    );
    if (offered.length === 0) {
      throw new OAuthError('invalid_scope', `no requested scope belongs to resource ${resource}`);
    }
    return { resource, api_client_id: apiClientId, scopes: offered };
  });
}
