/**
 * Token introspection (RFC 7662) for backend APIs. An API learns about a token
 * only if the token was issued for it: its audience must be the calling API's
 * own (DESIGN.md), so no API can probe tokens meant for another, nor another
 * tenant's. Every other case — malformed, forged, expired, unrecorded, revoked,
 * revoked through its grant or an ancestor, someone else's — is `{active: false}`
 * and nothing more (RFC 7662 §2.2), so the answer never says why.
 *
 * Only APIs may introspect (RFC 7662 §2.1 requires the caller to be authorised):
 * an agent is answered `unauthorized_client`, the RFC 6749 §5.2 code for an
 * authenticated client not allowed to do what it asked.
 */
import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { apis, grants, issuedTokens } from '../db/schema.ts';
import type { KeyStore } from '../keys/key-store.ts';
import type { Actor, TaskClaim } from '../tokens/access-token.ts';
import { verifyOwnAccessToken } from '../tokens/own-token.ts';
import type { AuthenticatedClient } from './client-auth.ts';
import { OAuthError } from './errors.ts';

export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      iss: string;
      sub: string;
      aud: string;
      exp: number;
      iat: number;
      jti: string;
      client_id: string;
      scope: string;
      act: Actor;
      tid: string;
      grant_id: string;
      task?: TaskClaim;
      cnf?: { jkt: string };
      token_type: 'Bearer' | 'DPoP';
    };

export interface IntrospectionInput {
  caller: AuthenticatedClient;
  token: string;
  now: Date;
  issuer: string;
}

const inactive = (): IntrospectionResponse => ({ active: false });

export async function introspectToken(
  db: Database,
  keys: Pick<KeyStore, 'jwks'>,
  p: IntrospectionInput,
): Promise<IntrospectionResponse> {
  if (p.caller.kind !== 'api') {
    throw new OAuthError('unauthorized_client', 'only APIs may introspect tokens');
  }
  const verified = await verifyOwnAccessToken(keys, p.token, { issuer: p.issuer, now: p.now });
  if (!verified.ok) return inactive();
  const { claims } = verified;

  const [api] = await db
    .select({ audience: apis.audience })
    .from(apis)
    .where(and(eq(apis.clientId, p.caller.clientId), eq(apis.tenantId, p.caller.tenantId)));
  if (!api || claims.aud !== api.audience) return inactive();

  const [row] = await db
    .select({ token: issuedTokens, grant: grants })
    .from(issuedTokens)
    .innerJoin(grants, eq(grants.id, issuedTokens.grantId))
    .where(and(eq(issuedTokens.jti, claims.jti), eq(issuedTokens.tenantId, p.caller.tenantId)));
  // A token that was never recorded was never handed out by us (DESIGN.md): not active.
  if (!row) return inactive();
  const { token, grant } = row;
  const live =
    token.audience === api.audience &&
    token.grantId === claims.grant_id &&
    token.revokedAt === null &&
    token.expiresAt > p.now &&
    grant.status === 'active' &&
    grant.expiresAt > p.now;
  if (!live || (await anyRevoked(db, token.ancestors))) return inactive();

  return {
    active: true,
    iss: claims.iss,
    sub: claims.sub,
    aud: claims.aud,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    client_id: claims.client_id,
    scope: claims.scope,
    act: claims.act,
    tid: claims.tid,
    grant_id: claims.grant_id,
    ...(claims.task ? { task: claims.task } : {}),
    ...(claims.cnf ? { cnf: claims.cnf } : {}),
    token_type: claims.cnf ? 'DPoP' : 'Bearer',
  };
}

/** RFC 8693 lineage: revoking a parent token makes every token exchanged from it inactive. */
async function anyRevoked(db: Database, ancestors: string[]): Promise<boolean> {
  if (ancestors.length === 0) return false;
  const revoked = await db
    .select({ jti: issuedTokens.jti })
    .from(issuedTokens)
    .where(and(inArray(issuedTokens.jti, ancestors), isNotNull(issuedTokens.revokedAt)))
    .limit(1);
  return revoked.length > 0;
}
