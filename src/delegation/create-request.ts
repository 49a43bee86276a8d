/**
 * Stores a validated backchannel authentication request (CIBA poll mode), after
 * asking the tenant's policy (RequestGrant). The agent receives `auth_req_id`, 32
 * random bytes; only its SHA-256 is kept, so a copy of the table cannot be used to
 * poll for someone's tokens.
 */
import { appendAudit } from '../audit/append.ts';
import type { DbOrTx } from '../db/database.ts';
import { cibaRequests, type ResourceScopes } from '../db/schema.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { Decision, PolicyEngine } from '../policy/engine.ts';
import { auditFields } from '../policy/replay.ts';
import { randomToken, sha256base64url } from '../random.ts';
import type { AgentTaskDetail } from './authorization-details.ts';
import { MIN_GRANT_TTL } from './decide.ts';
import { askGrantPolicy, narrowGrant, taskOf, type GrantPolicyNote } from './grant-policy.ts';

export interface NewCibaRequest {
  tenantId: string;
  clientId: string;
  userId: string;
  requested: ResourceScopes[];
  authorizationDetails: AgentTaskDetail[] | null;
  bindingMessage: string | null;
  /**
   * Seconds the grant may last at most (the approval page's ceiling); default the
   * `agent_task` duration, and none (the configured grant TTL) without one.
   */
  requestedGrantTtl?: number | null | undefined;
  /** The policy's decision (RequestGrant): recorded on the `grant.requested` entry. */
  decision?: Decision | undefined;
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

/** The request and its ledger entry in one transaction: both exist or neither does. */
export async function createCibaRequest(
  db: DbOrTx,
  r: NewCibaRequest,
): Promise<CibaAuthenticationResponse & { requestId: string }> {
  return db.transaction((tx) => insertRequest(tx, r));
}

async function insertRequest(
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
      requestedGrantTtl:
        r.requestedGrantTtl === undefined ? (task?.duration ?? null) : r.requestedGrantTtl,
      pollInterval: r.interval,
      expiresAt: new Date(r.now.getTime() + r.expiresIn * 1000),
      createdAt: r.now,
    })
    .returning({ id: cibaRequests.id });
  if (!row) throw new Error('ciba request insert returned nothing');
  const decided = r.decision && auditFields(r.decision);
  await appendAudit(db, {
    ...decided,
    tenantId: r.tenantId,
    at: r.now,
    action: 'grant.requested',
    actor: `agent:${r.clientId}`,
    subject: `request:${row.id}`,
    inputs: {
      ...requestInputs(r),
      ...decided?.inputs,
    },
  });
  return {
    requestId: row.id,
    auth_req_id: authReqId,
    expires_in: r.expiresIn,
    interval: r.interval,
  };
}

/** What the ledger says about a request (stored or refused), beside the decision's inputs. */
function requestInputs(
  r: Pick<NewCibaRequest, 'clientId' | 'userId' | 'requested' | 'bindingMessage'> & {
    authorizationDetails: AgentTaskDetail[] | null;
  },
): Record<string, unknown> {
  const task = r.authorizationDetails?.[0];
  return {
    agent: r.clientId,
    person: r.userId,
    requested: r.requested.map((x) => ({ resource: x.resource, scopes: [...x.scopes] })),
    binding_message: r.bindingMessage ?? null,
    ...(task ? { task: { ...task } } : {}),
  };
}

export interface GrantRequest extends Omit<NewCibaRequest, 'requestedGrantTtl' | 'decision'> {
  /** The grant duration the agent asked for: its `agent_task` duration, else MANDATE_GRANT_TTL. */
  grantTtl: number;
  /** MANDATE_GRANT_MAX_TTL: the policy's `ttl_ceiling`. */
  grantMaxTtl: number;
}

export type GrantRequestOutcome =
  | {
      kind: 'stored';
      response: CibaAuthenticationResponse & { requestId: string };
      /** What the policy narrowed (ADAPT). */
      note: GrantPolicyNote | undefined;
    }
  /** Committed with its `grant.refused` ledger entry: throw it after the transaction. */
  | { kind: 'refused'; error: OAuthError };

/**
 * Asks the tenant's policy (RequestGrant) about a validated request whose person
 * and APIs are resolved, then acts on the outcome, all in the caller's transaction:
 *
 * - ALLOW stores the request as asked;
 * - DENY stores nothing but a `grant.refused` ledger entry with the decision, and
 *   the agent gets `access_denied` (OpenID CIBA Core §13: HTTP 403);
 * - ADAPT stores the narrowed request — scopes dropped, an API left without scopes
 *   removed, the grant's duration capped (also in its `agent_task`, so the person
 *   sees, and the grant echoes, what was narrowed) — and the response says so;
 * - ESCALATE and REUSE store it as asked, like ALLOW: every CIBA request must still
 *   be approved by the person with a fresh passkey assertion, which is what an
 *   escalation asks for, and a grant request has no token to reuse.
 *
 * With no policy (benchmarks that build the app with `policy: false`) the request is
 * stored as asked and no decision is recorded.
 */
export async function requestGrant(
  tx: DbOrTx,
  policy: PolicyEngine | undefined,
  r: GrantRequest,
): Promise<GrantRequestOutcome> {
  const { grantTtl, grantMaxTtl, ...request } = r;
  if (!policy) {
    return { kind: 'stored', response: await insertRequest(tx, request), note: undefined };
  }
  const task = r.authorizationDetails?.[0];
  const decision = await askGrantPolicy(tx, policy, {
    action: 'RequestGrant',
    tenantId: r.tenantId,
    agent: r.clientId,
    person: r.userId,
    resources: r.requested,
    task: taskOf(task),
    duration: grantTtl,
    ttlCeiling: grantMaxTtl,
    now: r.now,
  });
  const refuse = async (description: string): Promise<GrantRequestOutcome> => {
    const decided = auditFields(decision);
    await appendAudit(tx, {
      ...decided,
      tenantId: r.tenantId,
      at: r.now,
      action: 'grant.refused',
      actor: `agent:${r.clientId}`,
      subject: `user:${r.userId}`,
      inputs: { ...requestInputs(r), ...decided.inputs },
    });
    return { kind: 'refused', error: new OAuthError('access_denied', description, 403) };
  };
  if (decision.outcome === 'DENY') return refuse(`refused by policy: ${decision.explanation}`);

  const narrowed = narrowGrant(decision, r.requested, grantTtl);
  const capped = narrowed.duration < grantTtl;
  // Capped below what a person can approve, the request could only expire unanswered.
  if (capped && narrowed.duration < MIN_GRANT_TTL) {
    return refuse(
      `refused by policy: ${decision.explanation}, shorter than the shortest grant a person can approve (${MIN_GRANT_TTL} s)`,
    );
  }
  const response = await insertRequest(tx, {
    ...request,
    requested: narrowed.resources,
    // The approval page offers at most this; the grant's details echo it to the agent.
    authorizationDetails:
      capped && task ? [{ ...task, duration: narrowed.duration }] : r.authorizationDetails,
    requestedGrantTtl: capped ? narrowed.duration : (task?.duration ?? null),
    decision,
  });
  return { kind: 'stored', response, note: narrowed.note };
}
