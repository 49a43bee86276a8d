/**
 * The two tokens a sub-agent brings to a token exchange (RFC 8693 §2.1), checked
 * before the exchange's transaction: the parent access token (`subject_token`, one
 * of ours) and the sub-agent's own assertion (`actor_token`, held to a client
 * assertion's rules). Every refusal is `invalid_request` (§2.2.2).
 */
import { eq } from 'drizzle-orm';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { Database } from '../db/database.ts';
import { clients } from '../db/schema.ts';
import type { AuthenticatedClient } from '../oauth/client-auth.ts';
import { ClientJwtError, verifyClientJwt, type ClientJwtProblem } from '../oauth/client-jwt.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { AccessTokenClaims, Actor, TaskClaim } from './access-token.ts';
import { verifyOwnAccessToken } from './own-token.ts';

/** Longest token or assertion we bother parsing: a cheap guard before any crypto. */
const MAX_TOKEN_LENGTH = 8192;

export const refuse = (description: string, cause?: unknown) =>
  new OAuthError('invalid_request', description, 400, { cause });

/** What the checks need of the exchange's context (see ExchangeContext). */
export interface ExchangeTokenContext {
  db: Database;
  client: AuthenticatedClient;
  issuer: string;
  now: Date;
  jwks: JSONWebKeySet;
  clockSkew: number;
  maxAssertionTtl: number;
  fetch?: typeof fetch;
}

export interface VerifiedParent {
  jti: string;
  act: Actor;
  task: TaskClaim | undefined;
}

/** Our own at+jwt: the same check introspection and revocation make (own-token.ts). */
export async function verifySubjectToken(
  ctx: ExchangeTokenContext,
  token: string,
): Promise<VerifiedParent> {
  if (token.length > MAX_TOKEN_LENGTH) throw refuse('subject_token is too long');
  const verified = await verifyOwnAccessToken({ jwks: () => Promise.resolve(ctx.jwks) }, token, {
    issuer: ctx.issuer,
    now: ctx.now,
  });
  const invalid = 'subject_token is not a valid access token from this broker';
  if (!verified.ok) throw refuse(invalid);
  const { jti, act, task } = verified.claims as Partial<AccessTokenClaims>;
  if (typeof jti !== 'string' || !isActor(act) || !(task === undefined || isTask(task))) {
    throw refuse(invalid);
  }
  return { jti, act, task };
}

/**
 * The sub-agent's own assertion, held to a client assertion's rules (RFC 7523 §3):
 * iss = sub = the authenticated client, aud = the issuer, short-lived, with a jti.
 */
export async function verifyActorToken(
  ctx: ExchangeTokenContext,
  token: string,
): Promise<{ jti: string; exp: number }> {
  if (token.length > MAX_TOKEN_LENGTH) throw refuse('actor_token is too long');
  try {
    return await verifyClientJwt(token, await actorKeys(ctx), {
      clientId: ctx.client.clientId,
      audiences: [ctx.issuer],
      now: ctx.now,
      clockSkew: ctx.clockSkew,
      maxTtl: ctx.maxAssertionTtl,
    });
  } catch (err) {
    if (!(err instanceof ClientJwtError)) throw err;
    throw refuse(ACTOR_TOKEN_PROBLEMS[err.code](ctx), err);
  }
}

const ACTOR_TOKEN_PROBLEMS: Record<ClientJwtProblem, (ctx: ExchangeTokenContext) => string> = {
  ERR_SIGNATURE: () => 'actor_token must be a JWT signed by the calling agent, for this issuer',
  ERR_TYP: () => 'actor_token must be a client JWT (typ JWT or client-authentication+jwt)',
  ERR_TOO_LONG_LIVED: (ctx) => `actor_token must expire within ${ctx.maxAssertionTtl} seconds`,
  ERR_FUTURE: () => 'actor_token is issued in the future',
  ERR_JTI: () => 'actor_token jti is unusable',
};

async function actorKeys(ctx: ExchangeTokenContext): Promise<JWTVerifyGetKey> {
  const [row] = await ctx.db
    .select({ jwks: clients.jwks, jwksUri: clients.jwksUri })
    .from(clients)
    .where(eq(clients.id, ctx.client.clientId));
  if (row?.jwks) return createLocalJWKSet(row.jwks);
  if (row?.jwksUri) {
    return createRemoteJWKSet(new URL(row.jwksUri), {
      timeoutDuration: 5_000,
      ...(ctx.fetch ? { [customFetch]: ctx.fetch } : {}),
    });
  }
  throw refuse('the calling agent has no registered keys');
}

function isActor(value: unknown, depth = 0): value is Actor {
  // Our own tokens nest at most maxDepth (≤ 10) deep; anything deeper is not ours.
  if (depth > 16 || typeof value !== 'object' || value === null) return false;
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  return typeof sub === 'string' && (act === undefined || isActor(act, depth + 1));
}

function isTask(value: unknown): value is TaskClaim {
  if (typeof value !== 'object' || value === null) return false;
  const { id, purpose } = value as { id?: unknown; purpose?: unknown };
  return (
    (id === undefined || typeof id === 'string') &&
    (purpose === undefined || typeof purpose === 'string')
  );
}
