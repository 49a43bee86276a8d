/**
 * The policy engine: every decision point asks it, with the agent as principal,
 * each scope (or the API) as resource, and the context of request.ts. It answers
 * one of five outcomes (outcome.ts), names the bundle that decided (id, version,
 * digest), the risk score and its factors, and the inputs to record so that
 * replay.ts can reach the same outcome later.
 *
 * A decision is on the mint path, so the engine parses each bundle version once
 * and keeps it parsed inside Cedar (prepared.ts); a decision is then one Cedar
 * call per scope of a few hundred microseconds (bench/policy.ts). Which version
 * is in force is looked up at most every `refreshMs` per tenant, so a push from
 * the CLI, even through another broker process, takes effect within that time.
 *
 * ```ts
 * const engine = new PolicyEngine({ db, cedar: await loadNodeCedar() });
 * const d = await engine.decide(tenantId, { action: 'MintTaskToken', agent, person, … }, { db: tx });
 * if (d.outcome === 'DENY') throw new OAuthError('access_denied', d.explanation, 403);
 * ```
 */
import { systemClock, type Clock } from '../clock.ts';
import type { Database, DbOrTx } from '../db/database.ts';
import { tenantDb } from '../db/tenancy.ts';
import { compileBundle, type CompiledBundle } from './bundle.ts';
import {
  bundleInForce,
  DEFAULT_BUNDLE_ID,
  defaultBundleRef,
  loadBundle,
  pushBundle,
  shippedDefault,
  type BundleRef,
  type PushResult,
} from './bundles.ts';
import type { AuthorizationAnswer, CedarApi } from './cedar.ts';
import { DEFAULT_BUNDLE } from './default-bundle.ts';
import { PolicyError } from './errors.ts';
import { combine, type Evaluation, type Verdict } from './outcome.ts';
import { InThreadAuthorizer, type Authorizer, type CedarCall } from './authorizer.ts';
import {
  cedarQueries,
  normalizeRequest,
  type CedarQuery,
  type DecisionRequest,
  type RecordedRequest,
} from './request.ts';
import { riskScore, type RiskAssessment } from './risk.ts';
import { BaselineCache } from './signals.ts';
import { CEDAR_SCHEMA } from './schema.ts';

/** What to record in the audit entry's `inputs` (other keys may sit beside these). */
export interface PolicyInputs {
  /** The format of `decision_request`. */
  v: 1;
  decision_request: RecordedRequest;
}

export interface Decision extends Verdict {
  /** The bundle that decided. */
  policy: BundleRef;
  risk: RiskAssessment;
  inputs: PolicyInputs;
}

export interface PolicyEngineOptions {
  db: Database;
  cedar: CedarApi;
  /** For the version cache only; decisions take their time from the request. */
  clock?: Clock;
  /** How long (ms) the version in force is trusted before it is looked up again; default 1000. */
  refreshMs?: number;
  /** Bundle versions kept parsed inside Cedar; default 256. */
  capacity?: number;
  /** `per-call` parses schema and policies at every decision: only for measuring. */
  parse?: 'once' | 'per-call';
  /** Have Cedar check every request against the schema too (tests; costs about a third more). */
  validateRequests?: boolean;
  /**
   * Where Cedar's calls run (decision-workers.ts on the Node broker); by default on
   * this thread. Checking requests against the schema always runs on this thread.
   */
  authorizer?: Authorizer;
}

export class PolicyEngine {
  readonly #db: Database;
  readonly #cedar: CedarApi;
  readonly #clock: Clock;
  readonly #refreshMs: number;
  readonly #parse: 'once' | 'per-call';
  readonly #authorizer: Authorizer;
  readonly #compiled = new Map<string, Promise<CompiledBundle>>();
  readonly #inForce = new Map<string, { ref: BundleRef; at: number }>();
  /** Agents' 7-day baselines, counted at most once a minute each (signals.ts). */
  readonly baselines = new BaselineCache();

  constructor(options: PolicyEngineOptions) {
    this.#db = options.db;
    this.#cedar = options.cedar;
    this.#clock = options.clock ?? systemClock;
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#parse = options.parse ?? 'once';
    const validate = options.validateRequests ?? false;
    this.#authorizer =
      options.authorizer && !validate
        ? options.authorizer
        : new InThreadAuthorizer(options.cedar, options.capacity ?? 256, validate);
  }

  /**
   * Decides under the tenant's bundle in force. Pass `db: tx` when calling inside a
   * transaction (on PGlite a query outside it would wait for it to end).
   */
  async decide(
    tenantId: string,
    request: DecisionRequest | RecordedRequest,
    options: { db?: DbOrTx } = {},
  ): Promise<Decision> {
    const recorded = normalizeRequest(request);
    const db = options.db ?? tenantDb(this.#db, tenantId);
    const ref = await this.inForce(tenantId, db);
    const compiled = await this.#compile(tenantId, ref, db);
    return this.#evaluate(tenantId, ref, compiled, recorded);
  }

  /** Decides under one given version (replay): its digest must be the recorded one. */
  async decideUnder(
    tenantId: string,
    bundle: { version: number; digest: string },
    request: DecisionRequest | RecordedRequest,
    options: { db?: DbOrTx } = {},
  ): Promise<Decision> {
    const recorded = normalizeRequest(request);
    const db = options.db ?? tenantDb(this.#db, tenantId);
    let ref: BundleRef;
    if (bundle.version === 0) {
      ref = { id: DEFAULT_BUNDLE_ID, version: 0, digest: bundle.digest };
    } else {
      const row = await loadBundle(db, tenantId, bundle.version);
      if (!row) {
        throw new PolicyError(
          'ERR_BUNDLE_NOT_FOUND',
          `no policy bundle version ${bundle.version} for this tenant`,
        );
      }
      if (row.digest !== bundle.digest) {
        throw new PolicyError(
          'ERR_BUNDLE_DIGEST',
          `bundle version ${bundle.version} has digest ${row.digest}, not the recorded ${bundle.digest}`,
        );
      }
      ref = { id: row.id, version: row.version, digest: row.digest };
    }
    const compiled = await this.#compile(tenantId, ref, db);
    return this.#evaluate(tenantId, ref, compiled, recorded);
  }

  /** The bundle in force for the tenant (cached for `refreshMs`). */
  async inForce(tenantId: string, db?: DbOrTx): Promise<BundleRef> {
    const now = this.#clock.now().getTime();
    const known = this.#inForce.get(tenantId);
    if (known && now - known.at < this.#refreshMs) return known.ref;
    const ref = await bundleInForce(db ?? tenantDb(this.#db, tenantId), tenantId);
    this.#inForce.set(tenantId, { ref, at: now });
    return ref;
  }

  /** Forget what is in force (for one tenant, or all): the next decision looks it up. */
  invalidate(tenantId?: string): void {
    if (tenantId === undefined) this.#inForce.clear();
    else this.#inForce.delete(tenantId);
  }

  /** pushBundle, then this engine decides under the new version at once. */
  async push(tenantId: string, policies: string, pushedBy: string): Promise<PushResult> {
    try {
      return await pushBundle(
        tenantDb(this.#db, tenantId),
        tenantId,
        policies,
        pushedBy,
        this.#cedar,
      );
    } finally {
      this.invalidate(tenantId);
    }
  }

  /** Validates and compiles a bundle without storing it (`policy push` does this first). */
  check(policies: string): Promise<CompiledBundle> {
    return compileBundle(this.#cedar, policies);
  }

  #compile(tenantId: string, ref: BundleRef, db: DbOrTx): Promise<CompiledBundle> {
    const key = ref.version === 0 ? `default:${ref.digest}` : `${tenantId}:${ref.version}`;
    let compiled = this.#compiled.get(key);
    if (!compiled) {
      compiled = this.#load(tenantId, ref, db);
      this.#compiled.set(key, compiled);
      // A failure is not remembered: the next decision tries again.
      compiled.catch(() => this.#compiled.delete(key));
    }
    return compiled;
  }

  async #load(tenantId: string, ref: BundleRef, db: DbOrTx): Promise<CompiledBundle> {
    let text: string | undefined;
    if (ref.version === 0) {
      text =
        ref.digest === (await defaultBundleRef()).digest
          ? DEFAULT_BUNDLE
          : await shippedDefault(ref.digest);
    } else {
      text = (await loadBundle(db, tenantId, ref.version))?.policies;
    }
    if (text === undefined) {
      throw new PolicyError(
        'ERR_BUNDLE_NOT_FOUND',
        ref.version === 0
          ? `no shipped default bundle has digest ${ref.digest}`
          : `no policy bundle version ${ref.version} for this tenant`,
      );
    }
    const compiled = await compileBundle(this.#cedar, text);
    if (compiled.digest !== ref.digest) {
      throw new PolicyError(
        'ERR_BUNDLE_DIGEST',
        `bundle version ${ref.version} hashes to ${compiled.digest}, not its recorded ${ref.digest}`,
      );
    }
    return compiled;
  }

  async #evaluate(
    tenantId: string,
    ref: BundleRef,
    compiled: CompiledBundle,
    request: RecordedRequest,
  ): Promise<Decision> {
    const risk = riskScore({
      sensitivities: request.targets.flatMap((t) => t.scopes.map((s) => s.sensitivity)),
      requestedTtl: request.requestedTtl,
      firstUse: request.signals.firstUse,
      recentCount: request.signals.recentCount,
      baselinePerHour: request.signals.baselinePerHour,
      recentOverruns: request.signals.recentOverruns,
    });
    const queries = cedarQueries(tenantId, request, risk.score);
    const calls = queries.map((q): CedarCall => ({
      principal: q.principal,
      action: q.action,
      resource: q.resource,
      context: q.context,
      entities: q.entities,
    }));
    const answers =
      this.#parse === 'per-call'
        ? calls.map((call) =>
            this.#cedar.isAuthorized({
              ...call,
              schema: CEDAR_SCHEMA,
              policies: { staticPolicies: compiled.policies },
              validateRequest: true,
            }),
          )
        : // Same digest, same text: tenants running identical bundles share one parsed set.
          await this.#authorizer.authorize(compiled.digest, compiled.policies, calls);
    const evaluations = queries.map((q, i): Evaluation => {
      const answer = answers[i];
      if (!answer) throw new PolicyError('ERR_CEDAR', `Cedar gave no answer for ${q.resource.id}`);
      return evaluation(q, answer);
    });
    const verdict = combine(evaluations, compiled.metas, request);
    return {
      ...verdict,
      policy: { id: ref.id, version: ref.version, digest: ref.digest },
      risk,
      inputs: { v: 1, decision_request: request },
    };
  }
}

function evaluation(q: CedarQuery, answer: AuthorizationAnswer): Evaluation {
  if (answer.type === 'failure') {
    throw new PolicyError(
      'ERR_CEDAR',
      `Cedar could not evaluate ${q.resource.id}: ${answer.errors.map((e) => e.message).join('; ')}`,
    );
  }
  const { decision, diagnostics } = answer.response;
  return {
    audience: q.audience,
    ...(q.scope === undefined ? {} : { scope: q.scope }),
    decision,
    determining: diagnostics.reason,
    errors: diagnostics.errors.map((e) => ({ policy: e.policyId, message: e.error.message })),
  };
}
