/**
 * A person's decision on a pending CIBA request. Approval turns the request into
 * a grant in one transaction: the request moves from `pending` with a
 * compare-and-swap, so of two concurrent decisions exactly one lands, and a grant
 * never exists without its approved request (or the reverse).
 *
 * Before the grant is created the tenant's policy is asked (Approve, with the
 * person's fresh approval on record): DENY turns the approval into a denial by the
 * broker, ADAPT creates the grant narrowed (grant-policy.ts).
 */
import { appendAudit } from '../audit/append.ts';
import { and, eq, gt } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/database.ts';
import { cibaRequests, grants, type ApprovalEvidence, type ResourceScopes } from '../db/schema.ts';
import type { Decision, PolicyEngine } from '../policy/engine.ts';
import { auditFields } from '../policy/replay.ts';
import { isUuid } from '../random.ts';
import { askGrantPolicy, narrowGrant, taskOf, type GrantPolicyNote } from './grant-policy.ts';
import { agentTask } from './request-view.ts';

/** The shortest grant a person can approve, seconds. */
export const MIN_GRANT_TTL = 60;

export type DelegationErrorCode = 'ERR_NOT_PENDING' | 'ERR_WIDENED' | 'ERR_EMPTY';

export class DelegationError extends Error {
  override readonly name = 'DelegationError';
  constructor(
    readonly code: DelegationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One answer for unknown, someone else's, decided and expired requests: nothing to learn. */
const notPending = () =>
  new DelegationError('ERR_NOT_PENDING', 'this request is no longer waiting for you');

export interface Approval {
  tenantId: string;
  userId: string;
  requestId: string;
  /** What the person left ticked: a subset of what the agent asked for. */
  resources: { resource: string; scopes: string[] }[];
  grantExpiresAt: Date;
  maxTokenTtl: number;
  evidence: ApprovalEvidence;
  now: Date;
  /**
   * The policy to ask (Approve) and MANDATE_GRANT_MAX_TTL, its `ttl_ceiling`;
   * undefined decides nothing (an app built with `policy: false`, for benchmarks).
   */
  policy: { engine: PolicyEngine; grantMaxTtl: number } | undefined;
}

export type ApprovalResult =
  | {
      kind: 'approved';
      grantId: string;
      /** What the policy narrowed (ADAPT). */
      note?: GrantPolicyNote | undefined;
    }
  /**
   * The policy refused: the request is denied (by the broker, in the ledger) and no
   * grant exists. Committed with the caller's transaction, so the challenge stays used.
   */
  | { kind: 'refused'; explanation: string; decision: Decision };

/**
 * Narrows `requested` to `approved`: only resources and scopes that were asked for,
 * in the request's order, empty resources dropped. Throws ERR_WIDENED if the approval
 * names anything the agent did not ask for, ERR_EMPTY if nothing is left.
 */
export function narrowResources(
  requested: ResourceScopes[],
  approved: { resource: string; scopes: string[] }[],
): ResourceScopes[] {
  const asked = new Map(requested.map((r) => [r.resource, r]));
  for (const a of approved) {
    const r = asked.get(a.resource);
    const extra = r ? a.scopes.filter((s) => !r.scopes.includes(s)) : a.scopes;
    if (!r || extra.length > 0) {
      throw new DelegationError(
        'ERR_WIDENED',
        `the approval names ${r ? `scopes ${extra.join(' ')} of` : ''} ${a.resource}, which the agent did not ask for`,
      );
    }
  }
  const narrowed = requested
    .map((r) => {
      const keep = new Set(approved.find((a) => a.resource === r.resource)?.scopes ?? []);
      return { ...r, scopes: r.scopes.filter((s) => keep.has(s)) };
    })
    .filter((r) => r.scopes.length > 0);
  if (narrowed.length === 0) {
    throw new DelegationError('ERR_EMPTY', 'an approval must leave at least one scope');
  }
  return narrowed;
}

/**
 * Approves a pending, unexpired request of this person and creates its grant, as
 * the policy allows. Given a transaction, it nests (a savepoint), so the caller's
 * other writes (consuming the challenge, the passkey counter) commit or fail with it.
 * A policy refusal is returned, not thrown, so that it commits too.
 */
export async function approveRequest(db: DbOrTx, a: Approval): Promise<ApprovalResult> {
  if (!isUuid(a.requestId)) throw notPending();
  return db.transaction(async (tx) => {
    const [request] = await tx
      .select()
      .from(cibaRequests)
      .where(
        and(
          eq(cibaRequests.id, a.requestId),
          eq(cibaRequests.tenantId, a.tenantId),
          eq(cibaRequests.userId, a.userId),
        ),
      )
      .for('update');
    if (!request || request.status !== 'pending' || request.expiresAt <= a.now) {
      throw notPending();
    }
    const approved = narrowResources(request.requested, a.resources);
    // A fresh approval of one task answers a decision already (ESCALATE): not asked again.
    if (request.escalatesGrantId !== null) return approveEscalation(tx, a, request, approved);

    let resources = approved;
    let expiresAt = a.grantExpiresAt;
    let maxTokenTtl = a.maxTokenTtl;
    let decision: Decision | undefined;
    let note: GrantPolicyNote | undefined;
    if (a.policy) {
      const duration = Math.max(
        0,
        Math.floor((a.grantExpiresAt.getTime() - a.now.getTime()) / 1000),
      );
      decision = await askGrantPolicy(tx, a.policy.engine, {
        action: 'Approve',
        tenantId: a.tenantId,
        agent: request.clientId,
        person: a.userId,
        resources: approved,
        task: taskOf(agentTask(request.authorizationDetails)),
        duration,
        ttlCeiling: a.policy.grantMaxTtl,
        freshApproval: true,
        now: a.now,
      });
      if (decision.outcome === 'DENY') {
        return refuseApproval(tx, a, request, approved, decision, decision.explanation);
      }
      // ESCALATE is satisfied by the passkey assertion just made; REUSE has no token to reuse.
      const narrowed = narrowGrant(decision, approved, duration);
      // Capped to nothing: no grant to create (a duration that ran out meanwhile is not the policy's).
      if (narrowed.duration < duration && narrowed.duration < 1) {
        return refuseApproval(
          tx,
          a,
          request,
          approved,
          decision,
          `${decision.explanation}, which leaves no time to grant`,
        );
      }
      resources = narrowed.resources;
      note = narrowed.note;
      if (narrowed.duration < duration) {
        expiresAt = new Date(a.now.getTime() + narrowed.duration * 1000);
        if (maxTokenTtl > narrowed.duration) {
          if (note)
            note.narrowed.max_token_ttl = { requested: maxTokenTtl, granted: narrowed.duration };
          maxTokenTtl = narrowed.duration;
        }
      }
    }

    const [grant] = await tx
      .insert(grants)
      .values({
        tenantId: a.tenantId,
        userId: a.userId,
        clientId: request.clientId,
        requestId: request.id,
        resources,
        authorizationDetails: request.authorizationDetails,
        maxTokenTtl,
        evidence: a.evidence,
        createdAt: a.now,
        expiresAt,
      })
      .returning({ id: grants.id });
    if (!grant) throw new Error('grant insert returned nothing');
    await tx
      .update(cibaRequests)
      .set({ status: 'approved', decidedAt: a.now, grantId: grant.id })
      .where(and(eq(cibaRequests.id, request.id), eq(cibaRequests.status, 'pending')));
    const decided = decision && auditFields(decision);
    await appendAudit(tx, {
      ...decided,
      tenantId: a.tenantId,
      at: a.now,
      action: 'grant.approved',
      actor: `user:${a.userId}`,
      subject: `grant:${grant.id}`,
      inputs: {
        request: request.id,
        agent: request.clientId,
        person: a.userId,
        resources: resources.map((r) => ({ resource: r.resource, scopes: [...r.scopes] })),
        max_token_ttl: maxTokenTtl,
        expires: expiresAt.toISOString(),
        credential: a.evidence.credential_id,
        ...decided?.inputs,
      },
    });
    return { kind: 'approved', grantId: grant.id, note };
  });
}

/**
 * The policy refused what the person approved: the request is denied by the broker
 * (its poll answers access_denied) and the ledger records the decision. No grant.
 */
async function refuseApproval(
  tx: Tx,
  a: Approval,
  request: typeof cibaRequests.$inferSelect,
  approved: ResourceScopes[],
  decision: Decision,
  explanation: string,
): Promise<ApprovalResult> {
  await tx
    .update(cibaRequests)
    .set({ status: 'denied', decidedAt: a.now })
    .where(and(eq(cibaRequests.id, request.id), eq(cibaRequests.status, 'pending')));
  const decided = auditFields(decision);
  await appendAudit(tx, {
    ...decided,
    tenantId: a.tenantId,
    at: a.now,
    action: 'grant.denied',
    actor: 'broker',
    subject: `request:${request.id}`,
    inputs: {
      agent: request.clientId,
      person: a.userId,
      resources: approved.map((r) => ({ resource: r.resource, scopes: [...r.scopes] })),
      expires: a.grantExpiresAt.toISOString(),
      credential: a.evidence.credential_id,
      ...decided.inputs,
    },
  });
  return { kind: 'refused', explanation, decision };
}

/**
 * A fresh approval of one task under an existing grant (policy outcome ESCALATE):
 * no new grant; the request keeps the assertion and lets one token of the task through.
 */
async function approveEscalation(
  tx: Tx,
  a: Approval,
  request: typeof cibaRequests.$inferSelect,
  resources: ResourceScopes[],
): Promise<ApprovalResult> {
  const grantId = request.escalatesGrantId;
  if (grantId === null || request.escalation === null) throw notPending();
  // The policy asked about exactly this task; a partial answer would approve something else.
  const all = request.requested.every((r) =>
    r.scopes.every((s) => resources.some((x) => x.resource === r.resource && x.scopes.includes(s))),
  );
  if (!all) {
    throw new DelegationError(
      'ERR_WIDENED',
      'a fresh approval of a task covers all it asks for; deny it instead of unticking scopes',
    );
  }
  await tx
    .update(cibaRequests)
    .set({ status: 'approved', decidedAt: a.now, grantId, evidence: a.evidence })
    .where(and(eq(cibaRequests.id, request.id), eq(cibaRequests.status, 'pending')));
  await appendAudit(tx, {
    tenantId: a.tenantId,
    at: a.now,
    action: 'task.approved',
    actor: `user:${a.userId}`,
    subject: `request:${request.id}`,
    inputs: {
      grant: grantId,
      agent: request.clientId,
      person: a.userId,
      escalation: { ...request.escalation, scopes: [...request.escalation.scopes] },
      credential: a.evidence.credential_id,
    },
  });
  return { kind: 'approved', grantId };
}

/** Denies a pending, unexpired request of this person. */
export async function denyRequest(
  db: DbOrTx,
  d: { tenantId: string; userId: string; requestId: string; now: Date },
): Promise<void> {
  if (!isUuid(d.requestId)) throw notPending();
  const [row] = await db
    .update(cibaRequests)
    .set({ status: 'denied', decidedAt: d.now })
    .where(
      and(
        eq(cibaRequests.id, d.requestId),
        eq(cibaRequests.tenantId, d.tenantId),
        eq(cibaRequests.userId, d.userId),
        eq(cibaRequests.status, 'pending'),
        gt(cibaRequests.expiresAt, d.now),
      ),
    )
    .returning({
      id: cibaRequests.id,
      clientId: cibaRequests.clientId,
      escalatesGrantId: cibaRequests.escalatesGrantId,
    });
  if (!row) throw notPending();
  await appendAudit(db, {
    tenantId: d.tenantId,
    at: d.now,
    action: row.escalatesGrantId === null ? 'grant.denied' : 'task.denied',
    actor: `user:${d.userId}`,
    subject: `request:${row.id}`,
    inputs: {
      agent: row.clientId,
      person: d.userId,
      ...(row.escalatesGrantId === null ? {} : { grant: row.escalatesGrantId }),
    },
  });
}
