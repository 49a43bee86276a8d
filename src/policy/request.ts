/**
 * What a decision is asked about, as plain JSON so that it can be recorded and
 * replayed exactly, and how it becomes Cedar requests (entities and context, per
 * schema.ts). docs/POLICY.md describes every field at every decision point.
 */
import { z } from 'zod';
import type { EntityJson } from './cedar.ts';
import { PolicyError } from './errors.ts';
import { SENSITIVITIES, type Sensitivity } from './risk.ts';
import { ENTITY } from './schema.ts';

export const POLICY_ACTIONS = [
  'RequestGrant',
  'Approve',
  'MintTaskToken',
  'ExchangeToken',
  'HandleOverrun',
] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

export interface ScopeRef {
  name: string;
  sensitivity: Sensitivity;
}

export interface Target {
  /** The API's audience (RFC 8707 resource). */
  audience: string;
  /** The scopes asked for at this API; none means a decision about the API itself. */
  scopes: ScopeRef[];
}

export interface RiskSignals {
  /** The agent has never had a token for (one of) the target API(s). */
  firstUse: boolean;
  /** Tokens minted for this agent in the last hour. */
  recentCount: number;
  /** The agent's average tokens per hour over its baseline window (signals.ts: 7 days). */
  baselinePerHour: number;
  /** Overruns recorded against this agent in the last 24 hours. */
  recentOverruns: number;
}

export interface DecisionRequest {
  action: PolicyAction;
  /** The agent's client id: the principal. */
  agent: string;
  /** The person (user id) the agent acts for. */
  person: string;
  targets: Target[];
  task?: { id?: string | undefined; purpose?: string | undefined } | undefined;
  /** Seconds of lifetime asked for (the token's; for RequestGrant and Approve, the grant's). */
  requestedTtl: number;
  /** The most the grant and the broker allow, seconds. */
  ttlCeiling: number;
  /** When the decision is made. */
  at: Date | string;
  signals: RiskSignals;
  /** An identical, still-valid token exists for the same task (mint, exchange). */
  identicalLiveToken?: boolean | undefined;
  /** The person approved this task with a fresh passkey assertion (after an ESCALATE; Approve). */
  freshApproval?: boolean | undefined;
  /** Exchange depth of the token that would be issued (0 for a mint). */
  depth?: number | undefined;
  /** HandleOverrun (and, when known, mint and exchange): the grant's overrun standing. */
  overrun?:
    | {
        /** Overruns recorded against the grant, the current one included. */
        grantOverruns: number;
        /** The API's, else the tenant's, else the broker's threshold. */
        threshold: number;
        /** The attempt lay outside what the person granted. */
        outsideGrant: boolean;
      }
    | undefined;
}

/** The request as recorded: validated, with `at` as an ISO 8601 UTC string. */
export type RecordedRequest = Omit<DecisionRequest, 'at'> & { at: string };

const count = z.number().int().min(0).max(1_000_000_000);
const seconds = z
  .number()
  .int()
  .min(0)
  .max(100 * 365 * 86_400);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Strings jsonb stores exactly as given: no NUL, no half surrogate pair. */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine(
      (s) => !s.includes('\0') && !LONE_SURROGATE.test(s),
      'contains NUL or a lone surrogate',
    );

export const recordedRequestSchema = z.strictObject({
  action: z.enum(POLICY_ACTIONS),
  agent: text(200).min(1),
  person: text(200),
  targets: z
    .array(
      z.strictObject({
        audience: text(2048).min(1),
        scopes: z
          .array(z.strictObject({ name: text(200).min(1), sensitivity: z.enum(SENSITIVITIES) }))
          .max(200),
      }),
    )
    .min(1)
    .max(20),
  task: z.strictObject({ id: text(200).optional(), purpose: text(2000).optional() }).optional(),
  requestedTtl: seconds,
  ttlCeiling: seconds,
  at: z.union([z.date(), z.iso.datetime({ offset: true })]).transform((at, ctx) => {
    const date = new Date(at);
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'not a time' });
      return z.NEVER;
    }
    return date.toISOString();
  }),
  signals: z.strictObject({
    firstUse: z.boolean(),
    recentCount: count,
    baselinePerHour: z.number().min(0).max(1_000_000_000),
    recentOverruns: count,
  }),
  identicalLiveToken: z.boolean().optional(),
  freshApproval: z.boolean().optional(),
  depth: z.number().int().min(0).max(100).optional(),
  overrun: z
    .strictObject({ grantOverruns: count, threshold: count, outsideGrant: z.boolean() })
    .optional(),
});

/** Validates a request (fresh or recorded); ERR_REQUEST_INVALID says what is wrong. */
export function normalizeRequest(request: unknown): RecordedRequest {
  const parsed = recordedRequestSchema.safeParse(request);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`)
      .join('; ');
    throw new PolicyError('ERR_REQUEST_INVALID', `invalid decision request: ${issues}`);
  }
  return parsed.data;
}

interface Uid {
  type: string;
  id: string;
}

/** One Cedar request of a decision. */
export interface CedarQuery {
  audience: string;
  scope?: string;
  principal: Uid;
  action: Uid;
  resource: Uid;
  context: Record<string, string | number | boolean | string[] | Record<string, string>>;
  entities: EntityJson[];
}

/** No threshold given: one no count reaches. */
const NO_THRESHOLD = 2 ** 31 - 1;

export const scopeUid = (audience: string, name: string): string => `${audience}#${name}`;

/**
 * One query per scope asked for (resource `Scope`), or per API asked for without
 * scopes (resource `Api`), all sharing one context.
 */
export function cedarQueries(tenantId: string, r: RecordedRequest, risk: number): CedarQuery[] {
  const tenant = { type: ENTITY.tenant, id: tenantId };
  const principal = { type: ENTITY.agent, id: r.agent };
  const action = { type: ENTITY.action, id: r.action };
  const at = new Date(r.at);
  const context: CedarQuery['context'] = {
    person: r.person,
    task: { id: r.task?.id ?? '', purpose: r.task?.purpose ?? '' },
    scopes: [...new Set(r.targets.flatMap((t) => t.scopes.map((s) => s.name)))],
    requested_ttl: r.requestedTtl,
    ttl_ceiling: r.ttlCeiling,
    risk,
    recent_overruns: r.signals.recentOverruns,
    grant_overruns: r.overrun?.grantOverruns ?? 0,
    overrun_threshold: r.overrun?.threshold ?? NO_THRESHOLD,
    outside_grant: r.overrun?.outsideGrant ?? false,
    now: Math.floor(at.getTime() / 1000),
    hour: at.getUTCHours(),
    weekday: at.getUTCDay(),
    first_use: r.signals.firstUse,
    identical_live_token: r.identicalLiveToken ?? false,
    fresh_approval: r.freshApproval ?? false,
    depth: r.depth ?? 0,
  };

  // Each query carries only what its resource needs (tenant, agent, its API, its scope):
  // Cedar's cost grows with the entities it is handed.
  const base: EntityJson[] = [
    { uid: tenant, attrs: {}, parents: [] },
    { uid: principal, attrs: {}, parents: [tenant] },
  ];
  const queries: CedarQuery[] = [];
  const seen = new Set<string>();
  for (const t of r.targets) {
    const api = { type: ENTITY.api, id: t.audience };
    const withApi = [...base, { uid: api, attrs: { audience: t.audience }, parents: [tenant] }];
    if (t.scopes.length === 0) {
      queries.push({
        audience: t.audience,
        principal,
        action,
        resource: api,
        context,
        entities: withApi,
      });
    }
    for (const s of t.scopes) {
      const scope = { type: ENTITY.scope, id: scopeUid(t.audience, s.name) };
      if (seen.has(scope.id)) continue;
      seen.add(scope.id);
      queries.push({
        audience: t.audience,
        scope: s.name,
        principal,
        action,
        resource: scope,
        context,
        entities: [
          ...withApi,
          {
            uid: scope,
            attrs: { name: s.name, sensitivity: s.sensitivity, api: { __entity: api } },
            parents: [api],
          },
        ],
      });
    }
  }
  return queries;
}
