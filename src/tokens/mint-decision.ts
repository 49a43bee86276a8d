/**
 * The policy's say at a per-task mint (or a token exchange): gather the facts in
 * one round trip, ask the engine, and turn its outcome into what the token
 * endpoint does — mint as asked (ALLOW), refuse (DENY), mint narrowed and say how
 * (ADAPT), wait for the person's fresh passkey approval (ESCALATE), or hand back
 * the identical live token (REUSE).
 *
 * Runs inside the mint's transaction, after the broker's own checks against the
 * grant: the policy can only narrow what the grant allows, never widen it.
 */
import type { SQLWrapper } from 'drizzle-orm';
import type { Tx } from '../db/database.ts';
import type { ResourceScopes } from '../db/schema.ts';
import {
  escalationKey,
  findEscalation,
  openEscalation,
  redeemEscalation,
} from '../delegation/escalation.ts';
import { appendAudit } from '../audit/append.ts';
import { OAuthError } from '../oauth/errors.ts';
import { auditFields } from '../policy/replay.ts';
import type { Decision, PolicyEngine } from '../policy/engine.ts';
import type { DecisionRequest } from '../policy/request.ts';
import {
  factsStatement,
  gatherFacts,
  sensitivityKey,
  type Facts,
  type FactsQuery,
  type FactsStatement,
} from '../policy/signals.ts';
import type { IdenticalToken } from '../policy/identical.ts';
import type { TaskClaim } from './access-token.ts';

/** What the response says about the policy's answer, when it changed anything (ADAPT, REUSE). */
export interface PolicyNote {
  outcome: 'ADAPT' | 'REUSE';
  /** The ids of the policies that decided. */
  policies: string[];
  explanation: string;
  narrowed?: {
    scope?: { requested: string; granted: string; dropped: string };
    expires_in?: { requested: number; granted: number };
  };
}

export type MintVerdict =
  | {
      kind: 'mint';
      scopes: string[];
      lifetime: number;
      decision: Decision | undefined;
      note: PolicyNote | undefined;
    }
  | { kind: 'reuse'; token: IdenticalToken; decision: Decision; note: PolicyNote }
  /** Committed with its ledger entry (and escalation), then thrown. */
  | { kind: 'refuse'; error: OAuthError; decision: Decision; escalationId?: string };

export interface MintQuestion {
  action: 'MintTaskToken' | 'ExchangeToken';
  tenantId: string;
  grant: { id: string; clientId: string; userId: string; expiresAt: Date };
  /** The agent asking: the grant's client for a mint, the sub-agent for an exchange. */
  agent: string;
  target: ResourceScopes;
  scopes: string[];
  task: TaskClaim | undefined;
  authorizationDetails: Record<string, unknown>[] | undefined;
  /** The lifetime the broker would give (already within every bound), and the bound itself. */
  lifetime: number;
  ttlCeiling: number;
  depth: number;
  /** Ask whether an identical live token exists (mints from a grant only). */
  reuse?: { kind: 'access' | 'vc'; dpopJkt: string | null };
  now: Date;
  /** How long the person has to answer an escalation, and its poll interval. */
  escalation: { expiresIn: number; interval: number };
}

export async function decideMint(
  tx: Tx,
  policy: PolicyEngine | undefined,
  q: MintQuestion,
  /** Facts read with the grant (mintFacts), given the token's scopes; else gathered here. */
  prefetched?: (scopes: string[]) => Facts | undefined,
): Promise<MintVerdict> {
  if (!policy) {
    return {
      kind: 'mint',
      scopes: q.scopes,
      lifetime: q.lifetime,
      decision: undefined,
      note: undefined,
    };
  }
  const taskId = q.task?.id;
  const facts =
    prefetched?.(q.scopes) ??
    (await gatherFacts(
      tx,
      {
        tenantId: q.tenantId,
        clientId: q.agent,
        audiences: [q.target.resource],
        now: q.now,
        apiScopes: [{ apiClientId: q.target.api_client_id, names: q.scopes }],
        baselines: policy.baselines,
        ...(q.reuse && taskId !== undefined
          ? {
              identical: {
                grantId: q.grant.id,
                audience: q.target.resource,
                taskId,
                kind: q.reuse.kind,
                dpopJkt: q.reuse.dpopJkt,
              },
            }
          : {}),
      },
      q.scopes,
    ));
  const request: DecisionRequest = {
    action: q.action,
    agent: q.agent,
    person: q.grant.userId,
    targets: [
      {
        audience: q.target.resource,
        scopes: q.scopes.map((name) => ({
          name,
          // A scope gone from the catalogue since the grant counts as the riskiest.
          sensitivity:
            facts.sensitivities.get(sensitivityKey(q.target.api_client_id, name)) ?? 'admin',
        })),
      },
    ],
    task: q.task && { id: q.task.id, purpose: q.task.purpose },
    requestedTtl: q.lifetime,
    ttlCeiling: q.ttlCeiling,
    at: q.now,
    signals: facts.signals,
    identicalLiveToken: facts.identical !== undefined,
    depth: q.depth,
  };
  let decision = await policy.decide(q.tenantId, request, { db: tx });
  let approvedEscalation: string | undefined;
  if (decision.outcome === 'ESCALATE') {
    const key = escalationKey(q.action, q.target.resource, q.scopes, taskId);
    const found = await findEscalation(tx, {
      tenantId: q.tenantId,
      grantId: q.grant.id,
      key,
      now: q.now,
    });
    if (found?.status === 'approved' && !found.redeemed) {
      // The person answered: decide again, now with their fresh approval on record.
      decision = await policy.decide(q.tenantId, { ...request, freshApproval: true }, { db: tx });
      approvedEscalation = found.id;
    } else if (found?.status === 'denied') {
      return {
        kind: 'refuse',
        decision,
        escalationId: found.id,
        error: new OAuthError(
          'access_denied',
          'the person refused this task when asked to approve it afresh',
        ),
      };
    } else {
      const escalationId =
        found?.status === 'pending'
          ? found.id
          : (
              await openEscalation(tx, {
                tenantId: q.tenantId,
                grant: q.grant,
                key,
                target: q.target,
                authorizationDetails: q.authorizationDetails ?? null,
                expiresIn: q.escalation.expiresIn,
                interval: q.escalation.interval,
                now: q.now,
              })
            ).id;
      return {
        kind: 'refuse',
        decision,
        escalationId,
        error: new OAuthError(
          'authorization_pending',
          `${decision.explanation}; the person is asked to approve this task with a passkey (request ${escalationId}); retry the same request later`,
        ),
      };
    }
  }

  const verdict = settle(q, decision, facts.identical);
  if (approvedEscalation !== undefined && verdict.kind !== 'refuse') {
    // One token per fresh approval: of two requests racing for it, one gets it.
    if (!(await redeemEscalation(tx, approvedEscalation, q.now))) {
      return {
        kind: 'refuse',
        decision,
        escalationId: approvedEscalation,
        error: new OAuthError(
          'authorization_pending',
          'the fresh approval was used by a concurrent request; retry to ask the person again',
        ),
      };
    }
  }
  return verdict;
}

function settle(
  q: MintQuestion,
  decision: Decision,
  identical: IdenticalToken | undefined,
): MintVerdict {
  switch (decision.outcome) {
    case 'DENY':
      return {
        kind: 'refuse',
        decision,
        error: new OAuthError('access_denied', `refused by policy: ${decision.explanation}`),
      };
    case 'ESCALATE':
      // Still escalating with the person's fresh approval on record: no approval can satisfy it.
      return {
        kind: 'refuse',
        decision,
        error: new OAuthError(
          'access_denied',
          `refused by policy even after a fresh approval: ${decision.explanation}`,
        ),
      };
    case 'REUSE':
      if (identical) {
        return {
          kind: 'reuse',
          token: identical,
          decision,
          note: { outcome: 'REUSE', policies: decision.reasons, explanation: decision.explanation },
        };
      }
      break;
    case 'ADAPT':
      return adapted(q, decision);
    default:
      break;
  }
  return { kind: 'mint', scopes: q.scopes, lifetime: q.lifetime, decision, note: undefined };
}

function adapted(q: MintQuestion, decision: Decision): MintVerdict {
  const adapt = decision.adapt ?? {};
  const kept = adapt.targets?.find((t) => t.audience === q.target.resource)?.scopes;
  const scopes = kept ?? q.scopes;
  const lifetime = adapt.maxTtl === undefined ? q.lifetime : Math.min(q.lifetime, adapt.maxTtl);
  const narrowed: NonNullable<PolicyNote['narrowed']> = {};
  if (scopes.length < q.scopes.length) {
    narrowed.scope = {
      requested: q.scopes.join(' '),
      granted: scopes.join(' '),
      dropped: q.scopes.filter((s) => !scopes.includes(s)).join(' '),
    };
  }
  if (lifetime < q.lifetime) narrowed.expires_in = { requested: q.lifetime, granted: lifetime };
  return {
    kind: 'mint',
    scopes,
    lifetime,
    decision,
    note: {
      outcome: 'ADAPT',
      policies: decision.reasons,
      explanation: decision.explanation,
      narrowed,
    },
  };
}

/** A policy's refusal (DENY, or ESCALATE while the person has not answered), for the ledger. */
export async function recordRefusal(
  tx: Tx,
  grant: { id: string; tenantId: string },
  agent: string,
  verdict: { decision: Decision; escalationId?: string | undefined },
  now: Date,
): Promise<void> {
  const escalated = verdict.decision.outcome === 'ESCALATE';
  await appendAudit(tx, {
    tenantId: grant.tenantId,
    at: now,
    action: escalated ? 'token.escalated' : 'token.denied',
    actor: `agent:${agent}`,
    subject:
      verdict.escalationId === undefined ? `grant:${grant.id}` : `request:${verdict.escalationId}`,
    ...auditFields(verdict.decision),
  });
}

/**
 * The facts a mint's decision needs, as columns of the statement that reads (and
 * share-locks) the grant, so that a mint asks the database once for both. Only when
 * the request names its one API: otherwise the API is known from the grant alone and
 * decideMint gathers the facts itself.
 */
export function mintFacts(
  policy: PolicyEngine | undefined,
  q: {
    tenantId: string;
    clientId: string;
    resources: string[];
    taskId: string | undefined;
    kind: 'access' | 'vc';
    dpopJkt: string | null;
    now: Date;
    grantId: SQLWrapper;
  },
): { statement: FactsStatement; query: FactsQuery } | undefined {
  const [resource, ...more] = q.resources;
  // The policy's request holds at most 2048 characters of audience (the registry's limit).
  if (!policy || resource === undefined || more.length > 0 || resource.length > 2048) {
    return undefined;
  }
  const query: FactsQuery = {
    tenantId: q.tenantId,
    clientId: q.clientId,
    audiences: [resource],
    now: q.now,
    scopesOfAudience: resource,
    baselines: policy.baselines,
    ...(q.taskId === undefined
      ? {}
      : {
          identical: {
            grantId: q.grantId,
            audience: resource,
            taskId: q.taskId,
            kind: q.kind,
            dpopJkt: q.dpopJkt,
          },
        }),
  };
  return { statement: factsStatement(query), query };
}
