/**
 * The policy's say over a grant (docs/POLICY.md, "Where the policy is asked"): when
 * an agent asks a person for one (RequestGrant, at the backchannel authentication
 * endpoint) and when the person approves it with a passkey (Approve). Both ask about
 * the same things — the agent, the APIs and scopes, the task, how long the grant
 * would last — with the facts gathered in one round trip, and both narrow the same
 * way on ADAPT: scopes dropped, an API whose every scope was dropped removed, the
 * grant's duration capped.
 *
 * ESCALATE and REUSE go ahead as ALLOW at both points: every grant is already
 * approved by the person with a fresh passkey assertion, which is what ESCALATE
 * asks for, and there is no token to reuse.
 */
import type { DbOrTx } from '../db/database.ts';
import type { ResourceScopes } from '../db/schema.ts';
import type { Decision, PolicyEngine } from '../policy/engine.ts';
import type { DecisionRequest } from '../policy/request.ts';
import { gatherFacts, sensitivityKey } from '../policy/signals.ts';

/** What a response says about an ADAPT: what the policy narrowed, and who decided. */
export interface GrantPolicyNote {
  outcome: 'ADAPT';
  /** The ids of the policies that decided. */
  policies: string[];
  explanation: string;
  narrowed: GrantNarrowing;
}

export interface GrantNarrowing {
  /**
   * Each API whose scopes the policy narrowed, in the request's order (scopes
   * space-separated); `granted` is empty when the policy removed the API.
   */
  resources?: { resource: string; requested: string; granted: string; dropped: string }[];
  /** The grant's duration, seconds. */
  duration?: { requested: number; granted: number };
  /** The longest life of a token minted under the grant, seconds (Approve). */
  max_token_ttl?: { requested: number; granted: number };
}

export interface GrantQuestion {
  action: 'RequestGrant' | 'Approve';
  tenantId: string;
  /** The agent's client id. */
  agent: string;
  /** The person's user id. */
  person: string;
  resources: ResourceScopes[];
  /** The task (RFC 9396 `agent_task`): its identifier and purpose. */
  task: { id?: string | undefined; purpose?: string | undefined } | undefined;
  /** Seconds the grant would last. */
  duration: number;
  /** The longest grant the broker allows (MANDATE_GRANT_MAX_TTL). */
  ttlCeiling: number;
  /** The person approved with a fresh passkey assertion (Approve). */
  freshApproval?: boolean;
  now: Date;
}

/** Gathers the facts (one round trip) and decides. Pass the transaction the outcome acts in. */
export async function askGrantPolicy(
  db: DbOrTx,
  policy: PolicyEngine,
  q: GrantQuestion,
): Promise<Decision> {
  const facts = await gatherFacts(db, {
    tenantId: q.tenantId,
    clientId: q.agent,
    audiences: q.resources.map((r) => r.resource),
    now: q.now,
    apiScopes: q.resources.map((r) => ({ apiClientId: r.api_client_id, names: r.scopes })),
  });
  const request: DecisionRequest = {
    action: q.action,
    agent: q.agent,
    person: q.person,
    targets: q.resources.map((r) => ({
      audience: r.resource,
      scopes: r.scopes.map((name) => ({
        name,
        // A scope missing from the catalogue counts as the riskiest.
        sensitivity: facts.sensitivities.get(sensitivityKey(r.api_client_id, name)) ?? 'admin',
      })),
    })),
    task: q.task && {
      ...(q.task.id === undefined ? {} : { id: q.task.id }),
      ...(q.task.purpose === undefined ? {} : { purpose: q.task.purpose }),
    },
    requestedTtl: q.duration,
    ttlCeiling: q.ttlCeiling,
    at: q.now,
    signals: facts.signals,
    ...(q.freshApproval ? { freshApproval: true } : {}),
  };
  return policy.decide(q.tenantId, request, { db });
}

export interface NarrowedGrant {
  resources: ResourceScopes[];
  /** Seconds. */
  duration: number;
  /** Set on ADAPT: what was narrowed. */
  note: GrantPolicyNote | undefined;
}

/**
 * What a decision that goes ahead leaves of the grant asked for: ADAPT narrows it
 * (the policy never widens anything), ALLOW, ESCALATE and REUSE leave it as asked.
 */
export function narrowGrant(
  decision: Decision,
  resources: ResourceScopes[],
  duration: number,
): NarrowedGrant {
  if (decision.outcome !== 'ADAPT' || !decision.adapt) {
    return { resources, duration, note: undefined };
  }
  const adapt = decision.adapt;
  const narrowed: GrantNarrowing = {};
  let kept = resources;
  if (adapt.targets) {
    const remaining = new Map(adapt.targets.map((t) => [t.audience, t.scopes]));
    kept = resources
      .map((r) => {
        const left = remaining.get(r.resource) ?? [];
        return { ...r, scopes: r.scopes.filter((s) => left.includes(s)) };
      })
      .filter((r) => r.scopes.length > 0);
    const changed = resources.flatMap((r) => {
      const granted = kept.find((k) => k.resource === r.resource)?.scopes ?? [];
      const dropped = r.scopes.filter((s) => !granted.includes(s));
      return dropped.length === 0
        ? []
        : [
            {
              resource: r.resource,
              requested: r.scopes.join(' '),
              granted: granted.join(' '),
              dropped: dropped.join(' '),
            },
          ];
    });
    if (changed.length > 0) narrowed.resources = changed;
  }
  let capped = duration;
  if (adapt.maxTtl !== undefined && adapt.maxTtl < duration) {
    capped = adapt.maxTtl;
    narrowed.duration = { requested: duration, granted: capped };
  }
  return {
    resources: kept,
    duration: capped,
    note: {
      outcome: 'ADAPT',
      policies: decision.reasons,
      explanation: decision.explanation,
      narrowed,
    },
  };
}

/** The task a decision is asked about, from a request's `agent_task` details (none: undefined). */
export function taskOf(
  details: { identifier?: string | undefined; purpose?: string | undefined } | undefined,
): GrantQuestion['task'] {
  if (details?.identifier === undefined && details?.purpose === undefined) return undefined;
  return { id: details.identifier, purpose: details.purpose };
}
