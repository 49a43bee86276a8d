/**
 * POST /oauth/introspect (RFC 7662): an API learns about tokens issued for it and
 * nothing else; every token that is not live is only `{active: false}`.
 */
import { eq } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issuedTokens } from '../../src/db/schema.ts';
import { revokeGrant } from '../../src/delegation/grants.ts';
import { mintAccessToken } from '../../src/tokens/access-token.ts';
import { recordIssuedToken } from '../../src/tokens/record.ts';
import { ISSUER, statusFor } from '../helpers/app.ts';
import { REPOS } from '../delegation/world.ts';
import {
  createTaskWorld,
  expectOAuthError,
  introspect,
  INTROSPECT,
  mintOk,
  revoke,
  verifyAccessToken,
  type TaskWorld,
} from './task-world.ts';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

const db = () => w.t.owner;
const task = JSON.stringify([{ type: 'agent_task', identifier: 'pr-7', purpose: 'Read PR 7' }]);

async function answer(res: Response): Promise<Record<string, unknown>> {
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return (await res.json()) as Record<string, unknown>;
}

/** A token signed with the broker's key and shaped like ours, but never recorded. */
async function unrecordedToken(): Promise<string> {
  const minted = await mintAccessToken(await w.t.deps.keys.signer(), {
    issuer: ISSUER,
    subject: w.acme.userId,
    audience: REPOS,
    clientId: w.acme.agent.clientId,
    scopes: ['repo:read'],
    actor: { sub: w.acme.agent.clientId },
    tenantId: w.acme.tenantId,
    grantId: w.grantId,
    issuedAt: w.t.clock.now(),
    lifetime: 60,
    status: await statusFor(w.t, w.acme.tenantId),
  });
  return minted.token;
}

describe('introspection', () => {
  it('describes a live token to the API it was issued for', async () => {
    const { access_token } = await mintOk(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task,
    });
    const { payload } = await verifyAccessToken(w, access_token);
    const body = await answer(await introspect(w, w.acme.api, access_token));
    expect(body).toEqual({
      active: true,
      iss: ISSUER,
      sub: w.acme.userId,
      aud: REPOS,
      exp: payload.exp,
      iat: payload.iat,
      jti: payload.jti,
      client_id: w.acme.agent.clientId,
      scope: 'repo:read',
      act: { sub: w.acme.agent.clientId },
      tid: w.acme.tenantId,
      grant_id: w.grantId,
      task: { id: 'pr-7', purpose: 'Read PR 7' },
      token_type: 'Bearer',
    });
  });

  it('ignores token_type_hint, whatever it says', async () => {
    const body = await answer(
      await introspect(w, w.acme.api, w.firstToken, { token_type_hint: 'refresh_token' }),
    );
    expect(body.active).toBe(true);
  });

  it('answers only active:false to another API of the same tenant and to another tenant’s API', async () => {
    expect(await answer(await introspect(w, w.acme.mailApi, w.firstToken))).toEqual({
      active: false,
    });
    expect(await answer(await introspect(w, w.globex.api, w.firstToken))).toEqual({
      active: false,
    });
  });

  it('refuses agents: only APIs may introspect', async () => {
    await expectOAuthError(await introspect(w, w.acme.agent, w.firstToken), 'unauthorized_client');
  });

  it('refuses an unauthenticated caller with 401 and a missing token with invalid_request', async () => {
    const res = await w.t.request(INTROSPECT, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: w.firstToken }).toString(),
    });
    await expectOAuthError(res, 'invalid_client', 401);
    await expectOAuthError(await introspect(w, w.acme.api, ''), 'invalid_request');
  });

  it('answers active:false to garbage, forgeries, the grant handle and unrecorded tokens', async () => {
    const { privateKey } = w.acme.agent;
    const signer = await w.t.deps.keys.signer();
    const forged = await new SignJWT({ scope: 'repo:read', client_id: 'x' })
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(REPOS)
      .setSubject(w.acme.userId)
      .setIssuedAt()
      .setExpirationTime('1m')
      .setJti('forged')
      .sign(privateKey);
    const wrongTyp = await new SignJWT({ scope: 'repo:read', client_id: 'x' })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(REPOS)
      .setSubject(w.acme.userId)
      .setIssuedAt(Math.floor(w.t.clock.now().getTime() / 1000))
      .setExpirationTime(Math.floor(w.t.clock.now().getTime() / 1000) + 60)
      .setJti('wrong-typ')
      .sign(signer.key);
    for (const token of ['nonsense', forged, wrongTyp, w.handle, await unrecordedToken()]) {
      expect(await answer(await introspect(w, w.acme.api, token))).toEqual({ active: false });
    }
  });

  it('answers active:false once the token expired', async () => {
    w.t.clock.advance(121);
    expect(await answer(await introspect(w, w.acme.api, w.firstToken))).toEqual({
      active: false,
    });
  });

  it('answers active:false after the agent revokes the token, and after the grant is revoked', async () => {
    const second = await mintOk(w, { resource: REPOS });
    expect((await revoke(w, w.acme.agent, w.firstToken)).status).toBe(200);
    expect(await answer(await introspect(w, w.acme.api, w.firstToken))).toEqual({
      active: false,
    });
    expect((await answer(await introspect(w, w.acme.api, second.access_token))).active).toBe(true);
    expect((await revoke(w, w.acme.agent, w.handle)).status).toBe(200);
    expect(await answer(await introspect(w, w.acme.api, second.access_token))).toEqual({
      active: false,
    });
  });

  it('answers active:false once the person revoked the grant', async () => {
    await revokeGrant(
      db(),
      { tenantId: w.acme.tenantId, userId: w.acme.userId },
      w.grantId,
      'no longer needed',
      w.t.clock.now(),
    );
    expect(await answer(await introspect(w, w.acme.api, w.firstToken))).toEqual({
      active: false,
    });
  });

  it('answers active:false for a token whose ancestor was revoked (RFC 8693 lineage)', async () => {
    const parent = await verifyAccessToken(w, w.firstToken);
    const child = await mintAccessToken(await w.t.deps.keys.signer(), {
      issuer: ISSUER,
      subject: w.acme.userId,
      audience: REPOS,
      clientId: w.acme.otherAgent.clientId,
      scopes: ['repo:read'],
      actor: { sub: w.acme.otherAgent.clientId, act: { sub: w.acme.agent.clientId } },
      tenantId: w.acme.tenantId,
      grantId: w.grantId,
      issuedAt: w.t.clock.now(),
      lifetime: 60,
      status: await statusFor(w.t, w.acme.tenantId),
    });
    await recordIssuedToken(db(), child);
    const parentJti = parent.payload.jti ?? '';
    await db()
      .update(issuedTokens)
      .set({ parentJti, ancestors: [parentJti], depth: 1 })
      .where(eq(issuedTokens.jti, child.claims.jti));
    expect((await answer(await introspect(w, w.acme.api, child.token))).active).toBe(true);
    await revoke(w, w.acme.agent, w.firstToken);
    expect(await answer(await introspect(w, w.acme.api, child.token))).toEqual({ active: false });
  });
});
