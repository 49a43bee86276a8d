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
import { and, count, eq, gte, inArray, lt, lte, or, sql, type SQLWrapper } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { parseJson } from '../db/json.ts';
import { apis, apiScopes, issuedTokens, overrunAttempts } from '../db/schema.ts';
import {
  identicalCandidates,
  identicalValues,
  pickIdentical,
  type CandidateJson,
  type IdenticalQuery,
  type IdenticalToken,
} from './identical.ts';
import type { RiskSignals } from './request.ts';
import { rateSaturation, SENSITIVITIES, type Sensitivity } from './risk.ts';

const HOUR = 3600_000;
export const BASELINE_HOURS = 7 * 24;
/**
 * The recent hour is counted up to this many tokens at most, and, once the agent's
 * baseline is known, only up to where the rate factor is at its maximum
 * (rateSaturation: 5 times the baseline, floored at 5 an hour): beyond that no score
 * changes. So the count is exact wherever it matters for baselines up to 200 tokens
 * an hour, and a mint never counts more than 1,000.
 */
export const RECENT_CAP = 1000;
/** How long a broker process trusts an agent's 7-day baseline before counting it again. */
export const BASELINE_TTL_MS = 60_000;

export interface FactsQuery {
  tenantId: string;
  clientId: string;
  audiences: string[];
  now: Date;
  /** Scope names whose sensitivity to read from each API's catalogue. */
  apiScopes?: { apiClientId: string; names: string[] }[];
  /** Every scope of the API with this audience (when its client id is not known yet). */
  scopesOfAudience?: string;
  /**
   * Look for the token REUSE would hand back (findIdenticalLiveToken's question); the
   * grant may be a column of the statement the facts are part of. Scopes are compared
   * by readFacts.
   */
  identical?: Omit<IdenticalQuery, 'tenantId' | 'now' | 'scopes' | 'grantId'> & {
    grantId: string | SQLWrapper;
  };
  /** Baselines already counted (the engine keeps one per broker process). */
  baselines?: BaselineCache;
}

export interface Facts {
  signals: RiskSignals;
  /** By `<api client id> <scope name>`; a scope missing from its catalogue is absent. */
  sensitivities: Map<string, Sensitivity>;
  identical: IdenticalToken | undefined;
}

export const sensitivityKey = (apiClientId: string, name: string): string =>
  `${apiClientId} ${name}`;

/**
 * Per (tenant, agent): tokens per hour over the 7 days before the last hour. It moves
 * slowly and is the one count that grows with an agent's history, so each broker
 * process counts it at most once a minute per agent. Decisions stay replayable: the
 * value used is recorded with them.
 */
export class BaselineCache {
  readonly #known = new Map<string, { perHour: number; at: number }>();
  constructor(
    private readonly ttlMs = BASELINE_TTL_MS,
    private readonly capacity = 10_000,
  ) {}

  get(tenantId: string, clientId: string, now: Date): number | undefined {
    const known = this.#known.get(`${tenantId} ${clientId}`);
    const age = known ? now.getTime() - known.at : Infinity;
    return age >= 0 && age < this.ttlMs ? known?.perHour : undefined;
  }

  set(tenantId: string, clientId: string, perHour: number, now: Date): void {
    if (this.#known.size >= this.capacity) this.#known.clear();
    this.#known.set(`${tenantId} ${clientId}`, { perHour, at: now.getTime() });
  }
}

const at = (name: string) => sql.placeholder(name);
const iso = (d: Date): string => d.toISOString();

/**
 * The facts statement's text depends only on its shape; every value is a placeholder
 * (`f_…`), so the text is the same at every mint of a shape and can be built once
 * (db/compiled.ts) and prepared. Timestamps are filled in as ISO strings.
 */
export interface FactsStatement {
  /** Tells apart every text factsFields builds for a query. */
  shape: string;
  values: Record<string, unknown>;
  /**
   * The baseline the statement was built with (taken from the cache), if any: the
   * recent count is cut for it, and readFacts must score with this very value, not
   * whatever the cache holds by the time the answer comes back.
   */
  baseline: number | undefined;
  /** The facts as columns, with placeholders for `values`. */
  fields(db: DbOrTx): ReturnType<typeof factsFields>;
}

export function factsStatement(q: FactsQuery): FactsStatement {
  const hourAgo = new Date(q.now.getTime() - HOUR);
  const known = q.baselines?.get(q.tenantId, q.clientId, q.now);
  const audiences = [...new Set(q.audiences)];
  const wanted = (q.apiScopes ?? []).filter((a) => a.names.length > 0);
  const values: Record<string, unknown> = {
    f_tenant: q.tenantId,
    f_client: q.clientId,
    f_now: iso(q.now),
    f_hour_ago: iso(hourAgo),
    f_day_ago: iso(new Date(q.now.getTime() - 24 * HOUR)),
    f_recent_cap: known === undefined ? RECENT_CAP : Math.min(RECENT_CAP, rateSaturation(known)),
  };
  if (known === undefined) {
    values.f_baseline_from = iso(new Date(hourAgo.getTime() - BASELINE_HOURS * HOUR));
  }
  for (const [i, a] of audiences.entries()) values[`f_aud_${i}`] = a;
  for (const [i, a] of wanted.entries()) {
    values[`f_api_${i}`] = a.apiClientId;
    for (const [j, n] of a.names.entries()) values[`f_scope_${i}_${j}`] = n;
  }
  if (q.scopesOfAudience !== undefined) values.f_soa = q.scopesOfAudience;
  const id = q.identical;
  if (id) Object.assign(values, identicalValues({ ...id, tenantId: q.tenantId, now: q.now }));
  const shape = [
    known === undefined ? 'b' : '-',
    audiences.length,
    wanted.map((a) => a.names.length).join(','),
    q.scopesOfAudience === undefined ? '-' : 's',
    id ? `i${typeof id.grantId === 'string' ? 'v' : 'c'}${id.dpopJkt === null ? '-' : 'j'}` : '-',
  ].join('/');
  return {
    shape,
    values,
    baseline: known,
    fields: (db) =>
      factsFields(db, {
        baseline: known === undefined,
        audiences: audiences.length,
        apiScopes: wanted.map((a) => a.names.length),
        scopesOfAudience: q.scopesOfAudience !== undefined,
        identical: id && {
          grantId: typeof id.grantId === 'string' ? at('f_i_grant') : id.grantId,
          dpopJkt: id.dpopJkt !== null,
        },
      }),
  };
}

/**
 * The facts as columns of one SELECT: on their own (gatherFacts) or beside the grant
 * row the mint reads anyway, so that a mint asks the database once for both. Built
 * for a shape, with the placeholders factsStatement fills.
 */
function factsFields(
  db: DbOrTx,
  shape: {
    baseline: boolean;
    audiences: number;
    /** Per API whose catalogue is read, how many scope names. */
    apiScopes: number[];
    scopesOfAudience: boolean;
    identical: { grantId: SQLWrapper; dpopJkt: boolean } | undefined;
  },
) {
  const mine = and(
    eq(issuedTokens.tenantId, at('f_tenant')),
    eq(issuedTokens.clientId, at('f_client')),
  );
  const recent = db.select({ n: count() }).from(
    db
      .select({ one: sql`1` })
      .from(issuedTokens)
      .where(
        and(
          mine,
          gte(issuedTokens.issuedAt, at('f_hour_ago')),
          lte(issuedTokens.issuedAt, at('f_now')),
        ),
      )
      .limit(at('f_recent_cap'))
      .as('recent'),
  );
  const baseline = shape.baseline
    ? sql`(${db
        .select({ n: count() })
        .from(issuedTokens)
        .where(
          and(
            mine,
            gte(issuedTokens.issuedAt, at('f_baseline_from')),
            lt(issuedTokens.issuedAt, at('f_hour_ago')),
          ),
        )})`
    : sql`null`;
  // One EXISTS per API (an index probe each), however long the agent's history.
  const used = sql.join(
    Array.from(
      { length: shape.audiences },
      (_, i) =>
        sql`(case when exists (${db
          .select({ one: sql`1` })
          .from(issuedTokens)
          .where(and(mine, eq(issuedTokens.audience, at(`f_aud_${i}`))))}) then 1 else 0 end)`,
    ),
    sql` + `,
  );
  const overruns = db
    .select({ n: count() })
    .from(overrunAttempts)
    .where(
      and(
        eq(overrunAttempts.tenantId, at('f_tenant')),
        eq(overrunAttempts.clientId, at('f_client')),
        gte(overrunAttempts.createdAt, at('f_day_ago')),
      ),
    );
  const which = [
    ...shape.apiScopes.map((n, i) =>
      and(
        eq(apiScopes.apiClientId, at(`f_api_${i}`)),
        inArray(
          apiScopes.name,
          Array.from({ length: n }, (_, j) => at(`f_scope_${i}_${j}`)),
        ),
      ),
    ),
    ...(shape.scopesOfAudience
      ? [
          eq(
            apiScopes.apiClientId,
            sql`(${db
              .select({ id: apis.clientId })
              .from(apis)
              .where(and(eq(apis.audience, at('f_soa')), eq(apis.tenantId, at('f_tenant'))))})`,
          ),
        ]
      : []),
  ];
  const scopes =
    which.length === 0
      ? sql`null`
      : sql`(${db
          .select({
            m: sql`json_object_agg(${apiScopes.apiClientId} || ' ' || ${apiScopes.name}, ${apiScopes.sensitivity})`,
          })
          .from(apiScopes)
          .where(and(eq(apiScopes.tenantId, at('f_tenant')), or(...which)))})`;
  const identical = shape.identical
    ? sql`(${identicalCandidates(db, shape.identical)})`
    : sql`null`;
  return {
    factsRecent: sql<number>`(${recent})`.mapWith(Number),
    factsBaseline: sql<number | null>`${baseline}`,
    factsUsed: sql<number>`(${shape.audiences === 0 ? sql`0` : used})`.mapWith(Number),
    factsOverruns: sql<number>`(${overruns})`.mapWith(Number),
    factsScopes: sql<Record<string, string> | string | null>`${scopes}`,
    factsIdentical: sql<CandidateJson[] | string | null>`${identical}`,
  };
}

/**
 * The facts from one row as the driver returns it in array mode, from `offset` on, in
 * factsFields' order (for a compiled statement, which maps its rows itself).
 */
export function factsFromArray(raw: unknown[], offset: number): FactsRow {
  const n = (v: unknown) => Number(v ?? 0);
  return {
    factsRecent: n(raw[offset]),
    factsBaseline: (raw[offset + 1] ?? null) as FactsRow['factsBaseline'],
    factsUsed: n(raw[offset + 2]),
    factsOverruns: n(raw[offset + 3]),
    factsScopes: (raw[offset + 4] ?? null) as FactsRow['factsScopes'],
    factsIdentical: (raw[offset + 5] ?? null) as FactsRow['factsIdentical'],
  };
}

export type FactsRow = {
  [K in keyof ReturnType<typeof factsFields>]: ReturnType<typeof factsFields>[K]['_']['type'];
};

/** The facts from a row of factsFields; `scopes`: the token's, for the identical-token match. */
export function readFacts(
  row: FactsRow,
  q: FactsQuery,
  statement: Pick<FactsStatement, 'baseline'>,
  scopes: string[] = [],
): Facts {
  const sensitivities = new Map<string, Sensitivity>();
  for (const [key, value] of Object.entries(parseJson(row.factsScopes) ?? {})) {
    if ((SENSITIVITIES as readonly string[]).includes(value)) {
      sensitivities.set(key, value as Sensitivity);
    }
  }
  // Counted in this statement unless it was built with a known baseline.
  let baselinePerHour = statement.baseline;
  if (baselinePerHour === undefined) {
    baselinePerHour = Number(row.factsBaseline ?? 0) / BASELINE_HOURS;
    q.baselines?.set(q.tenantId, q.clientId, baselinePerHour, q.now);
  }
  return {
    signals: {
      firstUse: row.factsUsed < new Set(q.audiences).size,
      recentCount: row.factsRecent,
      baselinePerHour,
      recentOverruns: row.factsOverruns,
    },
    sensitivities,
    identical: q.identical ? pickIdentical(parseJson(row.factsIdentical) ?? [], scopes) : undefined,
  };
}

/** Everything a decision needs from the database, in one round trip. */
export async function gatherFacts(
  db: DbOrTx,
  q: FactsQuery,
  scopes: string[] = [],
): Promise<Facts> {
  const statement = factsStatement(q);
  const [row] = await db
    .select(statement.fields(db))
    .from(sql`(select 1) as one`)
    .execute(statement.values);
  if (!row) throw new Error('the facts query returned no row');
  return readFacts(row, q, statement, scopes);
}

export async function gatherSignals(
  db: DbOrTx,
  q: { tenantId: string; clientId: string; audiences: string[]; now: Date },
): Promise<RiskSignals> {
  return (await gatherFacts(db, q)).signals;
}
