/**
 * The facts a decision needs from the database, gathered in one round trip:
 * whether the agent ever had a token for the API(s), its rate in the last hour
 * against its own baseline, its overruns in the last 24 hours; and, for REUSE,
 * an identical live token for the same task. The engine itself never reads them:
 * they travel in the request, so that the decision can be recorded and replayed.
 *
 * Windows (docs/POLICY.md): recent rate = tokens minted in the hour up to `now`;
 * baseline = tokens per hour over the 7 days before that hour; overruns = attempts
 * recorded against the agent in the 24 hours before `now`.
 */
import {
  and,
  count,
  countDistinct,
  eq,
  gt,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  sql,
} from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { apiScopes, issuedTokens, overrunAttempts } from '../db/schema.ts';
import type { RiskSignals } from './request.ts';
import { SENSITIVITIES, type Sensitivity } from './risk.ts';

const HOUR = 3600_000;
export const BASELINE_HOURS = 7 * 24;

export interface FactsQuery {
  tenantId: string;
  clientId: string;
  audiences: string[];
  now: Date;
  /** Scope names whose sensitivity to read from each API's catalogue. */
  apiScopes?: { apiClientId: string; names: string[] }[];
  /** Look for the token REUSE would hand back (findIdenticalLiveToken's question). */
  identical?: Omit<IdenticalQuery, 'tenantId' | 'now'>;
}

export interface Facts {
  signals: RiskSignals;
  /** By `<api client id> <scope name>`; a scope missing from its catalogue is absent. */
  sensitivities: Map<string, Sensitivity>;
  identical: IdenticalToken | undefined;
}

export const sensitivityKey = (apiClientId: string, name: string): string =>
  `${apiClientId} ${name}`;

/** Everything a decision needs from the database, in one round trip. */
export async function gatherFacts(db: DbOrTx, q: FactsQuery): Promise<Facts> {
  const mine = and(eq(issuedTokens.tenantId, q.tenantId), eq(issuedTokens.clientId, q.clientId));
  const hourAgo = new Date(q.now.getTime() - HOUR);
  const baselineFrom = new Date(hourAgo.getTime() - BASELINE_HOURS * HOUR);
  const recent = db
    .select({ n: count() })
    .from(issuedTokens)
    .where(and(mine, gte(issuedTokens.issuedAt, hourAgo), lte(issuedTokens.issuedAt, q.now)));
  const baseline = db
    .select({ n: count() })
    .from(issuedTokens)
    .where(and(mine, gte(issuedTokens.issuedAt, baselineFrom), lt(issuedTokens.issuedAt, hourAgo)));
  const used = db
    .select({ n: countDistinct(issuedTokens.audience) })
    .from(issuedTokens)
    .where(and(mine, inArray(issuedTokens.audience, q.audiences)));
  const overruns = db
    .select({ n: count() })
    .from(overrunAttempts)
    .where(
      and(
        eq(overrunAttempts.tenantId, q.tenantId),
        eq(overrunAttempts.clientId, q.clientId),
        gte(overrunAttempts.createdAt, new Date(q.now.getTime() - 24 * HOUR)),
      ),
    );
  const wanted = (q.apiScopes ?? []).filter((a) => a.names.length > 0);
  const scopes =
    wanted.length === 0
      ? sql`null`
      : sql`(${db
          .select({
            m: sql`json_object_agg(${apiScopes.apiClientId} || ' ' || ${apiScopes.name}, ${apiScopes.sensitivity})`,
          })
          .from(apiScopes)
          .where(
            and(
              eq(apiScopes.tenantId, q.tenantId),
              or(
                ...wanted.map((a) =>
                  and(eq(apiScopes.apiClientId, a.apiClientId), inArray(apiScopes.name, a.names)),
                ),
              ),
            ),
          )})`;
  const identical = q.identical
    ? sql`(${identicalCandidates(db, { ...q.identical, tenantId: q.tenantId, now: q.now })})`
    : sql`null`;
  const [row] = await db
    .select({
      recent: sql<number>`(${recent})`.mapWith(Number),
      baseline: sql<number>`(${baseline})`.mapWith(Number),
      used: sql<number>`(${used})`.mapWith(Number),
      overruns: sql<number>`(${overruns})`.mapWith(Number),
      scopes: sql<Record<string, string> | null>`${scopes}`,
      identical: sql<CandidateJson[] | null>`${identical}`,
    })
    .from(sql`(select 1) as one`);
  const audiences = new Set(q.audiences).size;
  const sensitivities = new Map<string, Sensitivity>();
  for (const [key, value] of Object.entries(parseJson(row?.scopes) ?? {})) {
    if ((SENSITIVITIES as readonly string[]).includes(value)) {
      sensitivities.set(key, value as Sensitivity);
    }
  }
  return {
    signals: {
      firstUse: (row?.used ?? 0) < audiences,
      recentCount: row?.recent ?? 0,
      baselinePerHour: (row?.baseline ?? 0) / BASELINE_HOURS,
      recentOverruns: row?.overruns ?? 0,
    },
    sensitivities,
    identical: q.identical
      ? pickIdentical(parseJson(row?.identical) ?? [], q.identical.scopes)
      : undefined,
  };
}

export async function gatherSignals(
  db: DbOrTx,
  q: { tenantId: string; clientId: string; audiences: string[]; now: Date },
): Promise<RiskSignals> {
  return (await gatherFacts(db, q)).signals;
}

/** json columns come back parsed from postgres.js and PGlite alike, but a string is tolerated. */
function parseJson<T>(value: T | string | null | undefined): T | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

export interface IdenticalQuery {
  tenantId: string;
  grantId: string;
  audience: string;
  scopes: string[];
  taskId: string;
  kind: 'access' | 'vc';
  dpopJkt: string | null;
  now: Date;
  /** Seconds the token must still have to be worth handing back; default 30. */
  minRemaining?: number;
}

/** What REUSE hands back: the recorded token, enough to sign its claims again. */
export interface IdenticalToken {
  jti: string;
  scope: string;
  issuedAt: Date;
  expiresAt: Date;
  statusListId: string | null;
  statusIdx: number | null;
  /** The `task` claim as recorded (its purpose may differ from this request's words). */
  task: Record<string, unknown> | null;
}

interface CandidateJson {
  jti: string;
  scope: string;
  issued_at: string;
  expires_at: string;
  status_list_id: string | null;
  status_idx: number | null;
  task: Record<string, unknown> | null;
}

/**
 * Tokens minted from this grant for the same API, task id, form and DPoP key,
 * neither revoked nor within `minRemaining` seconds of expiry, newest expiry first,
 * as one json array (scopes are compared by pickIdentical). Only tokens minted from
 * the grant (not exchanged ones) qualify.
 */
function identicalCandidates(db: DbOrTx, q: IdenticalQuery) {
  return db
    .select({
      list: sql`coalesce(json_agg(json_build_object(
        'jti', ${issuedTokens.jti}, 'scope', ${issuedTokens.scope},
        'issued_at', ${issuedTokens.issuedAt}, 'expires_at', ${issuedTokens.expiresAt},
        'status_list_id', ${issuedTokens.statusListId}, 'status_idx', ${issuedTokens.statusIdx},
        'task', ${issuedTokens.task}
      ) order by ${issuedTokens.expiresAt} desc), '[]'::json)`,
    })
    .from(issuedTokens)
    .where(
      and(
        eq(issuedTokens.grantId, q.grantId),
        eq(issuedTokens.tenantId, q.tenantId),
        eq(issuedTokens.audience, q.audience),
        eq(issuedTokens.kind, q.kind),
        q.dpopJkt === null ? isNull(issuedTokens.dpopJkt) : eq(issuedTokens.dpopJkt, q.dpopJkt),
        isNull(issuedTokens.parentJti),
        isNull(issuedTokens.revokedAt),
        isNotNull(issuedTokens.statusListId),
        gt(issuedTokens.expiresAt, new Date(q.now.getTime() + (q.minRemaining ?? 30) * 1000)),
        sql`${issuedTokens.task} ->> 'id' = ${q.taskId}`,
      ),
    );
}

/** The first candidate whose scopes are the wanted ones, in any order. */
function pickIdentical(candidates: CandidateJson[], scopes: string[]): IdenticalToken | undefined {
  const wanted = [...new Set(scopes)].sort().join(' ');
  const same = candidates.find(
    (c) => [...new Set(c.scope.split(' ').filter(Boolean))].sort().join(' ') === wanted,
  );
  return (
    same && {
      jti: same.jti,
      scope: same.scope,
      issuedAt: new Date(same.issued_at),
      expiresAt: new Date(same.expires_at),
      statusListId: same.status_list_id,
      statusIdx: same.status_idx,
      task: same.task,
    }
  );
}

/** What REUSE would hand back for this task, if anything (see identicalCandidates). */
export async function findIdenticalLiveToken(
  db: DbOrTx,
  q: IdenticalQuery,
): Promise<IdenticalToken | undefined> {
  const [row] = await identicalCandidates(db, q);
  return pickIdentical(parseJson(row?.list as CandidateJson[] | string | null) ?? [], q.scopes);
}
