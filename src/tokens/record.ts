/**
 * Records a minted access token. Callers run this in the transaction that
 * decided to mint, before the token leaves the broker: a token whose row failed
 * to insert is never returned (DESIGN.md), so revocation and status lists can
 * always find every token in circulation.
 */
import { CompiledStatement, insertRow } from '../db/compiled.ts';
import type { DbOrTx } from '../db/database.ts';
import { auditEntries, issuedTokens } from '../db/schema.ts';
import { auditRow, ledgerEnabled } from '../audit/append.ts';
import type { StatusEntry } from '../revocation/status-claim.ts';
import type { AccessTokenClaims } from './access-token.ts';
import type { Decision } from '../policy/engine.ts';
import { auditFields } from '../policy/replay.ts';

/** What kind of token it is and where it comes from; a token minted from a grant has no parent. */
export interface Lineage {
  kind: 'access' | 'vc';
  parentJti: string | null;
  /** Root first; revoking any of them makes the token inactive. */
  ancestors: string[];
  depth: number;
}

const FROM_GRANT: Lineage = { kind: 'access', parentJti: null, ancestors: [], depth: 0 };

export async function recordIssuedToken(
  db: DbOrTx,
  minted: { claims: AccessTokenClaims; status: StatusEntry },
  lineage: Lineage = FROM_GRANT,
  /** The policy decision that allowed it: its fields and inputs go into the same ledger entry. */
  decision?: Decision,
): Promise<void> {
  const { claims } = minted;
  const token: typeof issuedTokens.$inferInsert = {
    jti: claims.jti,
    tenantId: claims.tid,
    grantId: claims.grant_id,
    clientId: claims.client_id,
    audience: claims.aud,
    scope: claims.scope,
    task: claims.task ? { ...claims.task } : null,
    dpopJkt: claims.cnf?.jkt ?? null,
    kind: lineage.kind,
    parentJti: lineage.parentJti,
    ancestors: lineage.ancestors,
    depth: lineage.depth,
    issuedAt: new Date(claims.iat * 1000),
    expiresAt: new Date(claims.exp * 1000),
    statusListId: minted.status.listId,
    statusIdx: minted.status.idx,
  };
  const tokenRow = insertRow('t_', token);
  const insertToken = () =>
    db.insert(issuedTokens).values(tokenRow.columns).returning({ jti: issuedTokens.jti });
  if (!ledgerEnabled()) {
    await recordToken.run(db, `token ${tokenRow.shape}`, insertToken, tokenRow.values);
    return;
  }
  const decided = decision && auditFields(decision);
  // The ledger entry rides in the token's INSERT (a data-modifying CTE): they commit
  // together or not at all, in one round trip.
  const entry = insertRow(
    'a_',
    auditRow({
      ...decided,
      tenantId: claims.tid,
      at: new Date(claims.iat * 1000),
      action: lineage.parentJti === null ? 'token.minted' : 'token.exchanged',
      actor: `agent:${claims.client_id}`,
      subject: `token:${claims.jti}`,
      inputs: {
        person: claims.sub,
        grant: claims.grant_id,
        audience: claims.aud,
        scope: claims.scope,
        kind: lineage.kind,
        expires: claims.exp,
        ...(claims.task ? { task: { ...claims.task } } : {}),
        ...(claims.cnf ? { dpop_jkt: claims.cnf.jkt } : {}),
        ...(lineage.parentJti === null ? {} : { parent: lineage.parentJti, depth: lineage.depth }),
        ...decided?.inputs,
      },
    }),
  );
  await recordToken.run(
    db,
    `token ${tokenRow.shape} entry ${entry.shape}`,
    () => db.with(db.$with('token').as(insertToken())).insert(auditEntries).values(entry.columns),
    { ...tokenRow.values, ...entry.values },
  );
}

/** The token's INSERT, with or without its ledger entry; its text built once per shape. */
const recordToken = new CompiledStatement('record_token', undefined);
