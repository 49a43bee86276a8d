/**
 * Token revocation (RFC 7009) for agents: an access token, or the grant handle
 * (the `refresh_token` of the CIBA redemption). Revoking a handle revokes the
 * grant itself and every token minted under it (RFC 7009 §2.1: revoking a refresh
 * token should invalidate the access tokens of the same grant). Revoking an access
 * token revokes that token and every token exchanged from it (they name it among
 * their `ancestors`).
 *
 * An agent can only revoke its own: an access token it holds (or one minted for a
 * sub-agent from its grant), a handle of its own grant. Anything else — unknown,
 * malformed, expired, someone else's — is answered exactly like a success with
 * nothing changed (RFC 7009 §2.2), so the endpoint is no oracle for other tokens.
 */
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { grants, issuedTokens } from '../db/schema.ts';
import { revokeGrant } from '../delegation/grants.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { sha256base64url } from '../random.ts';
import { revokeTokenTree } from '../revocation/revoke.ts';
import { verifyOwnAccessToken } from '../tokens/own-token.ts';
import type { AuthenticatedClient } from './client-auth.ts';
import { OAuthError } from './errors.ts';

/** RFC 7009 §2.1 hint values this broker has tokens of. */
export const TOKEN_TYPE_HINTS = ['access_token', 'refresh_token'] as const;

export const GRANT_REVOKED_BY_AGENT = 'revoked by the agent';

export interface RevocationInput {
  caller: AuthenticatedClient;
  token: string;
  tokenTypeHint: string | undefined;
  now: Date;
  issuer: string;
}

/** What was revoked, for logs and tests; the HTTP answer is the same 200 whatever it is. */
export type RevocationOutcome = 'token' | 'grant' | 'nothing';

export async function revokeToken(
  db: Database,
  keys: Pick<KeyStore, 'jwks'>,
  p: RevocationInput,
): Promise<RevocationOutcome> {
  if (p.caller.kind !== 'agent') {
    throw new OAuthError('unauthorized_client', 'only agents may revoke tokens');
  }
  // RFC 7009 §2.2.1 (and better-auth PR 9970): an unknown hint is an error, not a silent no-op.
  if (
    p.tokenTypeHint !== undefined &&
    !(TOKEN_TYPE_HINTS as readonly string[]).includes(p.tokenTypeHint)
  ) {
    throw new OAuthError(
      'unsupported_token_type',
      `token_type_hint ${p.tokenTypeHint} is not supported; use access_token or refresh_token`,
    );
  }
  // The two kinds cannot be confused: access tokens are JWTs (dotted), handles are
  // unpadded base64url (no dots). So the hint only ever saves a lookup, never changes it.
  return p.token.includes('.') ? revokeAccessToken(db, keys, p) : revokeHandle(db, p);
}

async function revokeAccessToken(
  db: Database,
  keys: Pick<KeyStore, 'jwks'>,
  p: RevocationInput,
): Promise<RevocationOutcome> {
  const verified = await verifyOwnAccessToken(keys, p.token, { issuer: p.issuer, now: p.now });
  if (!verified.ok) return 'nothing';
  const [row] = await db
    .select({
      clientId: issuedTokens.clientId,
      grantClientId: grants.clientId,
      grantId: issuedTokens.grantId,
    })
    .from(issuedTokens)
    .innerJoin(grants, eq(grants.id, issuedTokens.grantId))
    .where(
      and(eq(issuedTokens.jti, verified.claims.jti), eq(issuedTokens.tenantId, p.caller.tenantId)),
    );
  const own =
    row && (row.clientId === p.caller.clientId || row.grantClientId === p.caller.clientId);
  if (!own) return 'nothing';
  const revoked = await db.transaction((tx) =>
    revokeTokenTree(
      tx,
      { tenantId: p.caller.tenantId, grantId: row.grantId, jti: verified.claims.jti },
      p.now,
      `agent:${p.caller.clientId}`,
    ),
  );
  return revoked.includes(verified.claims.jti) ? 'token' : 'nothing';
}

async function revokeHandle(db: Database, p: RevocationInput): Promise<RevocationOutcome> {
  // Handles are 43 characters; a long string is not one and is not worth hashing.
  if (p.token.length > 128) return 'nothing';
  const [grant] = await db
    .select({ id: grants.id, tenantId: grants.tenantId, userId: grants.userId })
    .from(grants)
    .where(
      and(
        eq(grants.handleHash, await sha256base64url(p.token)),
        eq(grants.clientId, p.caller.clientId),
        eq(grants.tenantId, p.caller.tenantId),
      ),
    );
  if (!grant) return 'nothing';
  // The person's own revocation path: the grant and all its tokens, in one transaction.
  const done = await revokeGrant(
    db,
    grant,
    grant.id,
    GRANT_REVOKED_BY_AGENT,
    p.now,
    `agent:${p.caller.clientId}`,
  );
  return done ? 'grant' : 'nothing';
}
