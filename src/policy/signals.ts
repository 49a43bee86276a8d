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
import { and, count, countDistinct, eq, gt, gte, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { issuedTokens, overrunAttempts } from '../db/schema.ts';
import type { RiskSignals } from './request.ts';

const HOUR = 3600_000;
export const BASELINE_HOURS = 7 * 24;

export async function gatherSignals(
  db: DbOrTx,
  q: { tenantId: string; clientId: string; audiences: string[]; now: Date },
): Promise<RiskSignals> {
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
  const [row] = await db
    .select({
      recent: sql<number>`(${recent})`.mapWith(Number),
      baseline: sql<number>`(${baseline})`.mapWith(Number),
      used: sql<number>`(${used})`.mapWith(Number),
      overruns: sql<number>`(${overruns})`.mapWith(Number),
    })
    .from(sql`(select 1) as one`);
  const audiences = new Set(q.audiences).size;
  return {
    firstUse: (row?.used ?? 0) < audiences,
    recentCount: row?.recent ?? 0,
    baselinePerHour: (row?.baseline ?? 0) / BASELINE_HOURS,
    recentOverruns: row?.overruns ?? 0,
  };
}

/**
 * A token minted from this grant for the same API, the same scopes (in any order),
 * the same task id, form and DPoP key, neither revoked nor within `minRemaining`
 * seconds of expiry: what REUSE would hand back. Only tokens minted from the grant
 * (not exchanged ones) qualify.
 */
export async function findIdenticalLiveToken(
  db: DbOrTx,
  q: {
    tenantId: string;
    grantId: string;
    audience: string;
    scopes: string[];
    taskId: string;
    kind: 'access' | 'vc';
    dpopJkt: string | null;
    now: Date;
    minRemaining?: number;
  },
): Promise<{ jti: string; expiresAt: Date } | undefined> {
  const candidates = await db
    .select({ jti: issuedTokens.jti, scope: issuedTokens.scope, expiresAt: issuedTokens.expiresAt })
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
        gt(issuedTokens.expiresAt, new Date(q.now.getTime() + (q.minRemaining ?? 30) * 1000)),
        sql`${issuedTokens.task} ->> 'id' = ${q.taskId}`,
      ),
    )
    .orderBy(sql`${issuedTokens.expiresAt} desc`);
  const wanted = [...new Set(q.scopes)].sort().join(' ');
  const same = candidates.find(
    (c) => [...new Set(c.scope.split(' ').filter(Boolean))].sort().join(' ') === wanted,
  );
  return same && { jti: same.jti, expiresAt: same.expiresAt };
}
