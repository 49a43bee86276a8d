/**
 * The delegation world with a redeemed grant: Ada approved her release bot for
 * repo:read repo:write on REPOS and mail:send on MAIL (2 h grant, 120 s per token)
 * through the real CIBA flow, and the bot holds the grant handle. Plus the calls
 * agents and APIs make afterwards: per-task mint, introspection, revocation.
 */
import type { TestDatabase } from '../helpers/db.ts';
import { count, eq } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { grants, issuedTokens, overrunAttempts } from '../../src/db/schema.ts';
import { ISSUER } from '../helpers/app.ts';
import type { TestClient } from '../helpers/clients.ts';
import {
  approve,
  createWorld,
  poll,
  post,
  startRequest,
  TOKEN,
  type World,
} from '../delegation/world.ts';

export const INTROSPECT = '/oauth/introspect';
export const REVOKE = '/oauth/revoke';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface TaskWorld extends World {
  grantId: string;
  /** The grant handle (the CIBA redemption's refresh_token). */
  handle: string;
  /** The first access token (REPOS), from the redemption. */
  firstToken: string;
}

export async function redeemedGrant(
  w: World,
  approval: Parameters<typeof approve>[2] = {},
): Promise<{ grantId: string; handle: string; firstToken: string }> {
  const r = await startRequest(w);
  const { grantId } = await approve(w, r.requestId, approval);
  const res = await poll(w, r.auth_req_id);
  if (res.status !== 200) throw new Error(`redemption failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { refresh_token: string; access_token: string };
  return { grantId, handle: body.refresh_token, firstToken: body.access_token };
}

export async function createTaskWorld(
  env: Record<string, string> = {},
  database?: TestDatabase,
): Promise<TaskWorld> {
  const w = await createWorld(env, database);
  return { ...w, ...(await redeemedGrant(w)) };
}

/** grant_type=refresh_token with the handle (or `handle` override) and extra parameters. */
export const mint = (
  w: TaskWorld,
  params: Record<string, string | string[]> = {},
  client: TestClient = w.acme.agent,
) => post(w.t, TOKEN, client, { grant_type: 'refresh_token', refresh_token: w.handle, ...params });

/** Mints and returns the token response, failing loudly if the broker refused. */
export async function mintOk(
  w: TaskWorld,
  params: Record<string, string | string[]> = {},
): Promise<{ access_token: string; scope: string; expires_in: number; token_type: string }> {
  const res = await mint(w, params);
  if (res.status !== 200) throw new Error(`mint failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as {
    access_token: string;
    scope: string;
    expires_in: number;
    token_type: string;
  };
}

export const introspect = (w: World, api: TestClient, token: string, extra = {}) =>
  post(w.t, INTROSPECT, api, { token, ...extra });

export const revoke = (
  w: World,
  client: TestClient,
  token: string,
  extra: Record<string, string> = {},
) => post(w.t, REVOKE, client, { token, ...extra });

/** Verifies an access token against the published JWKS, as any resource server would. */
export async function verifyAccessToken(w: World, token: string) {
  const jwks = (await (await w.t.request('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: ISSUER,
    typ: 'at+jwt',
    currentDate: w.t.clock.now(),
    requiredClaims: ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'],
  });
}

/** Everything a refused request must leave as it was: tokens, grants, overruns. */
export async function snapshot(w: World) {
  const db = w.t.owner;
  const [tokens] = await db.select({ n: count() }).from(issuedTokens);
  const grantRows = await db
    .select({ id: grants.id, status: grants.status, revokedAt: grants.revokedAt })
    .from(grants)
    .orderBy(grants.id);
  const tokenRows = await db
    .select({ jti: issuedTokens.jti, revokedAt: issuedTokens.revokedAt })
    .from(issuedTokens)
    .orderBy(issuedTokens.jti);
  const [overruns] = await db.select({ n: count() }).from(overrunAttempts);
  return { tokens: tokens?.n, grantRows, tokenRows, overruns: overruns?.n };
}

export async function overrunsOf(w: World, grantId: string) {
  return w.t.owner.select().from(overrunAttempts).where(eq(overrunAttempts.grantId, grantId));
}

export async function expectOAuthError(res: Response, error: string, status = 400) {
  const body = (await res.json()) as { error: string; error_description: string };
  if (body.error !== error || res.status !== status) {
    throw new Error(`expected ${status} ${error}, got ${res.status} ${JSON.stringify(body)}`);
  }
  return body;
}
