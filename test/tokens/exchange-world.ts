/**
 * Sub-agent token exchange, driven as agents drive it: Ada's release bot holds the
 * first access token of a redeemed grant (REPOS, repo:read repo:write, 120 s), and
 * hands it to sub-agents of the same tenant, which exchange it at the token endpoint
 * with an actor token of their own.
 */
import { count, eq } from 'drizzle-orm';
import { issuedTokens } from '../../src/db/schema.ts';
import { ISSUER } from '../helpers/app.ts';
import { clientAssertion, type AssertionOptions, type TestClient } from '../helpers/clients.ts';
import { approve, poll, post, startRequest, TOKEN, type World } from '../delegation/world.ts';

export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const VC_TOKEN_TYPE = 'urn:mandate:token-type:vc+jwt';

/** Redeems a fresh grant for the release bot; returns its first access token (REPOS). */
export async function parentToken(
  w: World,
  approval: Parameters<typeof approve>[2] = {},
): Promise<{ token: string; grantId: string }> {
  const r = await startRequest(w);
  const { grantId } = await approve(w, r.requestId, approval);
  const res = await poll(w, r.auth_req_id);
  if (res.status !== 200) throw new Error(`redemption failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { access_token: string };
  return { token: body.access_token, grantId };
}

/** The sub-agent's own assertion: iss = sub = its client id, aud = the issuer. */
export const actorToken = (w: World, client: TestClient, options: AssertionOptions = {}) =>
  clientAssertion(client, ISSUER, { now: w.t.clock.now(), ...options });

export async function exchange(
  w: World,
  client: TestClient,
  subjectToken: string,
  extra: Record<string, string | string[]> = {},
): Promise<Response> {
  return post(w.t, TOKEN, client, {
    grant_type: EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    actor_token: await actorToken(w, client),
    actor_token_type: JWT_TOKEN_TYPE,
    ...extra,
  });
}

export interface ExchangeBody {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Exchanges and insists on success. */
export async function exchanged(
  w: World,
  client: TestClient,
  subjectToken: string,
  extra: Record<string, string | string[]> = {},
): Promise<ExchangeBody> {
  const res = await exchange(w, client, subjectToken, extra);
  if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as ExchangeBody;
}

export async function tokenCount(w: World): Promise<number> {
  const [row] = await w.t.owner.select({ n: count() }).from(issuedTokens);
  return row?.n ?? 0;
}

export async function tokenRow(w: World, jti: string) {
  const [row] = await w.t.owner.select().from(issuedTokens).where(eq(issuedTokens.jti, jti));
  if (!row) throw new Error(`no issued_tokens row for ${jti}`);
  return row;
}
