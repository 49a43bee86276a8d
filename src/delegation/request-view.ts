/**
 * What a person sees of a CIBA request: the agent by name, each API by name and
 * audience, each scope with its catalogue description and sensitivity, the
 * purpose and binding message, and how long the grant would last. Always read
 * for one tenant and one person: a request id from elsewhere finds nothing.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { apis, apiScopes, cibaRequests, clients, type ResourceScopes } from '../db/schema.ts';
import { isUuid } from '../random.ts';

export interface ScopeView {
  name: string;
  description: string;
  sensitivity: 'read' | 'write' | 'admin';
}

export interface ResourceView {
  resource: string;
  apiName: string;
  scopes: ScopeView[];
}

export interface AgentTask {
  purpose?: string;
  identifier?: string;
  /** Seconds the agent asked the grant to last. */
  duration?: number;
  /** Seconds each task token may live at most. */
  maxTokenTtl?: number;
}

export interface RequestView {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'expired';
  agentName: string;
  clientId: string;
  resources: ResourceView[];
  requested: ResourceScopes[];
  bindingMessage: string | null;
  task: AgentTask;
  authorizationDetails: Record<string, unknown>[] | null;
  requestedGrantTtl: number | null;
  expiresAt: Date;
  decidedAt: Date | null;
  grantId: string | null;
  /** Set when this is a policy's escalation of one task under that grant. */
  escalatesGrantId: string | null;
  createdAt: Date;
}

/** The agent_task entry of RFC 9396 details, read defensively (validated when the request came in). */
export function agentTask(details: Record<string, unknown>[] | null): AgentTask {
  const task = details?.find((d) => d.type === 'agent_task');
  if (!task) return {};
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const out: AgentTask = {};
  const purpose = str(task.purpose);
  const identifier = str(task.identifier);
  const duration = num(task.duration);
  const maxTokenTtl = num(task.max_token_ttl);
  if (purpose !== undefined) out.purpose = purpose;
  if (identifier !== undefined) out.identifier = identifier;
  if (duration !== undefined) out.duration = duration;
  if (maxTokenTtl !== undefined) out.maxTokenTtl = maxTokenTtl;
  return out;
}

export async function loadRequestView(
  db: DbOrTx,
  who: { tenantId: string; userId: string },
  requestId: string,
  now: Date,
): Promise<RequestView | undefined> {
  if (!isUuid(requestId)) return undefined;
  const [row] = await db
    .select({ request: cibaRequests, agentName: clients.name })
    .from(cibaRequests)
    .innerJoin(clients, eq(clients.id, cibaRequests.clientId))
    .where(
      and(
        eq(cibaRequests.id, requestId),
        eq(cibaRequests.tenantId, who.tenantId),
        eq(cibaRequests.userId, who.userId),
      ),
    );
  if (!row) return undefined;
  const { request } = row;
  const apiIds = request.requested.map((r) => r.api_client_id);
  const [apiRows, scopeRows] = apiIds.length
    ? await Promise.all([
        db
          .select({ clientId: apis.clientId, name: clients.name })
          .from(apis)
          .innerJoin(clients, eq(clients.id, apis.clientId))
          .where(and(eq(apis.tenantId, who.tenantId), inArray(apis.clientId, apiIds))),
        db
          .select()
          .from(apiScopes)
          .where(and(eq(apiScopes.tenantId, who.tenantId), inArray(apiScopes.apiClientId, apiIds))),
      ])
    : [[], []];
  const resources = request.requested.map((r) => ({
    resource: r.resource,
    apiName: apiRows.find((a) => a.clientId === r.api_client_id)?.name ?? r.resource,
    scopes: r.scopes.map((name) => {
      const s = scopeRows.find((x) => x.apiClientId === r.api_client_id && x.name === name);
      // A scope removed from the catalogue since the request still shows, marked as the riskiest.
      return s
        ? { name, description: s.description, sensitivity: s.sensitivity }
        : { name, description: '(no longer in the catalogue)', sensitivity: 'admin' as const };
    }),
  }));
  const expired = request.status === 'pending' && request.expiresAt <= now;
  return {
    id: request.id,
    status: expired ? 'expired' : request.status,
    agentName: row.agentName,
    clientId: request.clientId,
    resources,
    requested: request.requested,
    bindingMessage: request.bindingMessage,
    task: agentTask(request.authorizationDetails),
    authorizationDetails: request.authorizationDetails,
    requestedGrantTtl: request.requestedGrantTtl,
    expiresAt: request.expiresAt,
    decidedAt: request.decidedAt,
    grantId: request.grantId,
    escalatesGrantId: request.escalatesGrantId,
    createdAt: request.createdAt,
  };
}
