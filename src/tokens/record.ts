/**
 * Records a minted access token. Callers run this in the transaction that
 * decided to mint, before the token leaves the broker: a token whose row failed
 * to insert is never returned (DESIGN.md), so revocation and status lists can
 * always find every token in circulation.
 */
import type { DbOrTx } from '../db/database.ts';
import { issuedTokens } from '../db/schema.ts';
import type { MintedAccessToken } from './access-token.ts';

export async function recordIssuedToken(db: DbOrTx, minted: MintedAccessToken): Promise<void> {
  const { claims } = minted;
  await db.insert(issuedTokens).values({
    jti: claims.jti,
    tenantId: claims.tid,
    grantId: claims.grant_id,
    clientId: claims.client_id,
    audience: claims.aud,
    scope: claims.scope,
    task: claims.task ? { ...claims.task } : null,
    dpopJkt: claims.cnf?.jkt ?? null,
    issuedAt: new Date(claims.iat * 1000),
    expiresAt: new Date(claims.exp * 1000),
  });
}
