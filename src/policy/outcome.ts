/**
 * Five outcomes from a two-valued authoriser. Cedar answers allow or deny and
 * names the policies that determined the answer; Mandate reads the outcome from
 * annotations on those policies.
 *
 * The annotations (docs/POLICY.md has examples):
 * - `@outcome("allow" | "adapt" | "escalate" | "reuse")` on a `permit`; a permit
 *   without one means allow. A `forbid` always means deny (`@outcome("deny")` is
 *   allowed on it, for symmetry, and nothing else is).
 * - `@max_ttl("300")` (seconds, on an adapt permit): cap the lifetime.
 * - `@drop_scope` (on an adapt permit matched for a Scope resource): drop that scope.
 * - `@drop_scopes("a b")` (on an adapt permit): drop the named scopes, wherever asked.
 * - `@id("…")`: the policy's id in decisions and the audit trail (else `policyN`,
 *   N counting from 0 in the bundle's order, as Cedar numbers them).
 *
 * Each scope asked for is one Cedar request (resource `Scope`); an API asked for
 * without scopes is one request on the `Api`. The outcome of the decision:
 *
 *   DENY     if any request was denied: a forbid matched, no permit matched, a
 *            policy could not be evaluated (fail closed), or adapting would drop
 *            every scope;
 *   ESCALATE else, if an escalate permit matched anywhere;
 *   ADAPT    else, if adapt permits matched and actually narrow something: the
 *            lowest `max_ttl` below the requested lifetime, and/or scopes dropped
 *            (an adapt permit that narrows nothing counts for nothing);
 *   REUSE    else, if a reuse permit matched anywhere;
 *   ALLOW    otherwise.
 *
 * That is DENY over ESCALATE over ADAPT over REUSE over ALLOW: the more cautious
 * outcome wins, and a reused token is never one the policy would now narrow.
 */
import type { PolicyMeta } from './annotations.ts';

export type { PolicyMeta };

export const OUTCOMES = ['ALLOW', 'DENY', 'ADAPT', 'ESCALATE', 'REUSE'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Strongest first. */
export const PRECEDENCE: readonly Outcome[] = ['DENY', 'ESCALATE', 'ADAPT', 'REUSE', 'ALLOW'];

/** One Cedar request of a decision and its answer. */
export interface Evaluation {
  audience: string;
  /** The scope name when the resource was a Scope. */
  scope?: string;
  decision: 'allow' | 'deny';
  /** The determining policies Cedar named. */
  determining: string[];
  /** Policies that could not be evaluated, with Cedar's message. */
  errors: { policy: string; message: string }[];
}

export interface Adaptation {
  /** The lifetime cap in seconds, when it is below the requested lifetime. */
  maxTtl?: number;
  /** Scope names that remain, when scopes were dropped (over all APIs, in request order). */
  scopes?: string[];
  /** Scope names dropped. */
  dropped?: string[];
  /** What remains per API, when scopes were dropped. */
  targets?: { audience: string; scopes: string[] }[];
}

export interface Verdict {
  outcome: Outcome;
  adapt?: Adaptation;
  /** The policies that determined the outcome, in bundle order. */
  reasons: string[];
  /** One sentence for logs, responses and the audit trail. */
  explanation: string;
}

export interface Asked {
  targets: { audience: string; scopes: { name: string }[] }[];
  requestedTtl: number;
}

export function combine(
  evaluations: Evaluation[],
  metas: ReadonlyMap<string, PolicyMeta>,
  asked: Asked,
): Verdict {
  const order = (ids: Iterable<string>) =>
    [...new Set(ids)].sort(
      (a, b) => (metas.get(a)?.index ?? Infinity) - (metas.get(b)?.index ?? Infinity),
    );
  const where = (e: Evaluation) => (e.scope === undefined ? e.audience : e.scope);

  const errored = evaluations.filter((e) => e.errors.length > 0);
  if (errored.length > 0) {
    const errors = errored
      .flatMap((e) => e.errors)
      .sort((a, b) => `${a.policy} ${a.message}`.localeCompare(`${b.policy} ${b.message}`));
    return {
      outcome: 'DENY',
      reasons: order(errors.map((e) => e.policy)),
      explanation: `DENY (fail closed): ${errors.map((e) => `policy ${e.policy} could not be evaluated: ${e.message}`).join('; ')}`,
    };
  }
  const denied = evaluations.filter((e) => e.decision === 'deny');
  if (denied.length > 0) {
    const forbids = order(denied.flatMap((e) => e.determining));
    const unpermitted = denied.filter((e) => e.determining.length === 0).map(where);
    const parts = [
      ...(forbids.length > 0 ? [`forbidden by ${forbids.join(', ')}`] : []),
      ...(unpermitted.length > 0 ? [`no policy permits ${unpermitted.join(', ')}`] : []),
    ];
    return { outcome: 'DENY', reasons: forbids, explanation: `DENY: ${parts.join('; ')}` };
  }

  const matched = (outcome: Outcome) =>
    evaluations.flatMap((e) =>
      e.determining
        .map((id) => metas.get(id))
        .filter((m): m is PolicyMeta => m?.outcome === outcome)
        .map((meta) => ({ meta, evaluation: e })),
    );

  const escalations = matched('ESCALATE');
  if (escalations.length > 0) {
    const ids = order(escalations.map((m) => m.meta.id));
    return {
      outcome: 'ESCALATE',
      reasons: ids,
      explanation: `ESCALATE: ${ids.join(', ')} asks for the person's fresh approval`,
    };
  }

  const adapted = adapt(matched('ADAPT'), asked, order);
  if (adapted) {
    if (adapted.adapt.targets?.length === 0) {
      return {
        outcome: 'DENY',
        reasons: order(adapted.used),
        explanation: `DENY: adapting by ${order(adapted.used).join(', ')} would drop every scope`,
      };
    }
    return {
      outcome: 'ADAPT',
      adapt: adapted.adapt,
      reasons: order(adapted.used),
      explanation: `ADAPT: ${adapted.said.join('; ')}`,
    };
  }

  const reuses = matched('REUSE');
  if (reuses.length > 0) {
    const ids = order(reuses.map((m) => m.meta.id));
    return {
      outcome: 'REUSE',
      reasons: ids,
      explanation: `REUSE: ${ids.join(', ')} returns the identical live token`,
    };
  }
  const allows = order(evaluations.flatMap((e) => e.determining));
  return {
    outcome: 'ALLOW',
    reasons: allows,
    explanation: `ALLOW: permitted by ${allows.join(', ')}`,
  };
}

/** The narrowing the matched adapt permits ask for, or undefined when it narrows nothing. */
function adapt(
  matches: { meta: PolicyMeta; evaluation: Evaluation }[],
  asked: Asked,
  order: (ids: Iterable<string>) => string[],
): { adapt: Adaptation; used: string[]; said: string[] } | undefined {
  const used = new Set<string>();
  const said: string[] = [];
  const result: Adaptation = {};

  const ttls = matches.filter((m) => m.meta.maxTtl !== undefined);
  const cap = Math.min(...ttls.map((m) => m.meta.maxTtl ?? Infinity));
  if (cap < asked.requestedTtl) {
    result.maxTtl = cap;
    const by = ttls.filter((m) => m.meta.maxTtl === cap).map((m) => m.meta.id);
    by.forEach((id) => used.add(id));
    said.push(
      `lifetime capped at ${cap} s (was ${asked.requestedTtl} s) by ${order(by).join(', ')}`,
    );
  }

  // (audience, scope) pairs to drop, and who dropped them.
  const drops = new Map<string, Set<string>>();
  const drop = (audience: string, scope: string, id: string) => {
    const key = `${audience}#${scope}`;
    drops.set(key, (drops.get(key) ?? new Set()).add(id));
  };
  for (const { meta, evaluation } of matches) {
    if (meta.dropResource && evaluation.scope !== undefined) {
      drop(evaluation.audience, evaluation.scope, meta.id);
    }
    for (const name of meta.dropScopes ?? []) {
      for (const t of asked.targets) {
        if (t.scopes.some((s) => s.name === name)) drop(t.audience, name, meta.id);
      }
    }
  }
  if (drops.size > 0) {
    const targets = asked.targets.map((t) => ({
      audience: t.audience,
      scopes: t.scopes.map((s) => s.name).filter((n) => !drops.has(`${t.audience}#${n}`)),
    }));
    const dropped = asked.targets.flatMap((t) =>
      t.scopes.map((s) => s.name).filter((n) => drops.has(`${t.audience}#${n}`)),
    );
    // An API whose every scope was dropped is dropped with them; one asked for without scopes stays.
    result.targets = targets.filter(
      (t, i) => t.scopes.length > 0 || asked.targets[i]?.scopes.length === 0,
    );
    result.scopes = [...new Set(result.targets.flatMap((t) => t.scopes))];
    result.dropped = [...new Set(dropped)];
    const by = [...drops.values()].flatMap((s) => [...s]);
    by.forEach((id) => used.add(id));
    said.push(`dropped ${result.dropped.join(' ')} by ${order(by).join(', ')}`);
  }
  return used.size > 0 ? { adapt: result, used: [...used], said } : undefined;
}
