/**
 * Stores a validated backchannel authentication request (CIBA poll mode). The
 * agent receives `auth_req_id`, 32 random bytes; only its SHA-256 is kept, so a
 * copy of the table cannot be used to poll for someone's tokens.
 */
import { appendAudit } from '../audit/append.ts';
import type { DbOrTx } from '../db/database.ts';
import { cibaRequests, type ResourceScopes } from '../db/schema.ts';
import { randomToken, sha256base64url } from '../random.ts';
import type { AgentTaskDetail } from './authorization-details.ts';

export interface NewCibaRequest {
  tenantId: string;
  clientId: string;
  userId: string;
  requested: ResourceScopes[];
  authorizationDetails: AgentTaskDetail[] | null;
  bindingMessage: string | null;
  /** Seconds until the request can no longer be approved or polled. */
  expiresIn: number;
  /** Minimum seconds between polls. */
  interval: number;
  now: Date;
}

export interface CibaAuthenticationResponse {
  auth_req_id: string;
  expires_in: number;
  interval: number;
}

/** One INSERT: either the whole request exists or nothing does. */
export async function createCibaRequest(
  db: DbOrTx,
  r: NewCibaRequest,
): Promise<CibaAuthenticationResponse & { requestId: string }> {
  const authReqId = randomToken(32);
  const task = r.authorizationDetails?.[0];
  const [row] = await db
    .insert(cibaRequests)
    .values({
      authReqIdHash: await sha256base64url(authReqId),
      tenantId: r.tenantId,
      clientId: r.clientId,
      userId: r.userId,
      requested: r.requested,
      authorizationDetails: r.authorizationDetails,
      bindingMessage: r.bindingMessage,
      requestedGrantTtl: task?.duration ?? null,
      pollInterval: r.interval,
      expiresAt: new Date(r.now.getTime() + r.expiresIn * 1000),
      createdAt: r.now,
    })
    .returning({ id: cibaRequests.id });
  if (!row) throw new Error('ciba request insert returned nothing');
  await appendAudit(db, {
    tenantId: r.tenantId,
    at: r.now,
    action: 'grant.requested',
    actor: `agent:${r.clientId}`,
    subject: `request:${row.id}`,
    inputs: {
      agent: r.clientId,
      person: r.userId,
      requested: r.requested.map((x) => ({ resource: x.resource, scopes: [...x.scopes] })),
      binding_message: r.bindingMessage ?? null,
      ...(task ? { task: { ...task } } : {}),
    },
  });
  return {
    requestId: row.id,
    auth_req_id: authReqId,
    expires_in: r.expiresIn,
    interval: r.interval,
  };
}
