/**
 * REUSE's question: the identical live token for the same task, if the grant minted
 * one. Asked on its own (findIdenticalLiveToken) or as one column of the facts
 * statement (signals.ts), with the same placeholders (`f_tenant`, `f_i_…`).
 */
import { and, eq, gt, isNotNull, isNull, sql, type SQLWrapper } from 'drizzle-orm';
import type { DbOrTx } from '../db/database.ts';
import { issuedTokens } from '../db/schema.ts';
import { parseJson } from '../db/json.ts';

const at = (name: string) => sql.placeholder(name);

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

export interface CandidateJson {
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
export function identicalCandidates(db: DbOrTx, q: { grantId: SQLWrapper; dpopJkt: boolean }) {
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
        eq(issuedTokens.tenantId, at('f_tenant')),
        eq(issuedTokens.audience, at('f_i_aud')),
        eq(issuedTokens.kind, at('f_i_kind')),
        q.dpopJkt ? eq(issuedTokens.dpopJkt, at('f_i_jkt')) : isNull(issuedTokens.dpopJkt),
        isNull(issuedTokens.parentJti),
        isNull(issuedTokens.revokedAt),
        isNotNull(issuedTokens.statusListId),
        gt(issuedTokens.expiresAt, at('f_i_after')),
        sql`${issuedTokens.task} ->> 'id' = ${at('f_i_task')}`,
      ),
    );
}

/** The first candidate whose scopes are the wanted ones, in any order. */
export function pickIdentical(
  candidates: CandidateJson[],
  scopes: string[],
): IdenticalToken | undefined {
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
  const [row] = await identicalCandidates(db, {
    grantId: at('f_i_grant'),
    dpopJkt: q.dpopJkt !== null,
  }).execute(identicalValues(q));
  return pickIdentical(parseJson(row?.list as CandidateJson[] | string | null) ?? [], q.scopes);
}

/**
 * The placeholder values of identicalCandidates; the grant's only when given as a
 * value (a statement that reads the grant names its column instead).
 */
export function identicalValues(
  q: Omit<IdenticalQuery, 'scopes' | 'grantId'> & { grantId: string | SQLWrapper },
): Record<string, unknown> {
  return {
    f_tenant: q.tenantId,
    ...(typeof q.grantId === 'string' ? { f_i_grant: q.grantId } : {}),
    f_i_aud: q.audience,
    f_i_kind: q.kind,
    ...(q.dpopJkt === null ? {} : { f_i_jkt: q.dpopJkt }),
    f_i_task: q.taskId,
    f_i_after: new Date(q.now.getTime() + (q.minRemaining ?? 30) * 1000).toISOString(),
  };
}
