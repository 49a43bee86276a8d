/**
 * grant_type=urn:openid:params:grant-type:ciba at the real token endpoint: every
 * state of a request as the agent sees it, single redemption, and the first
 * access token, verified against the published JWKS.
 */
import { eq, sql } from 'drizzle-orm';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, grants, issuedTokens } from '../../src/db/schema.ts';
import { revokeGrant } from '../../src/delegation/grants.ts';
import { sha256base64url } from '../../src/random.ts';
import { ISSUER } from '../helpers/app.ts';
import {
  approve,
  createWorld,
  deny,
  MAIL,
  poll,
  REPOS,
  startRequest,
  type World,
} from './world.ts';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => w.t.close());

const db = () => w.t.owner;

async function expectError(res: Response, error: string) {
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = (await res.json()) as { error: string };
  expect(body.error).toBe(error);
  expect(res.status).toBe(400);
}

async function requestRow(requestId: string) {
  const [row] = await db().select().from(cibaRequests).where(eq(cibaRequests.id, requestId));
  if (!row) throw new Error('request vanished');
  return row;
}

async function verify(token: string) {
  const jwks = (await (await w.t.request('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: ISSUER,
    typ: 'at+jwt',
    currentDate: w.t.clock.now(),
    requiredClaims: ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'],
  });
}

describe('CIBA poll grant', () => {
  it('answers authorization_pending while the person has not decided, recording the poll', async () => {
    const r = await startRequest(w);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
    expect((await requestRow(r.requestId)).lastPolledAt?.getTime()).toBe(w.t.clock.now().getTime());
    w.t.clock.advance(5);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
  });

  it('answers slow_down to a poll sooner than the interval, and adds five seconds to it', async () => {
    const r = await startRequest(w);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
    w.t.clock.advance(4);
    await expectError(await poll(w, r.auth_req_id), 'slow_down');
    expect((await requestRow(r.requestId)).pollInterval).toBe(10);
    // The longer interval counts from the last poll that was served: 9 s after it is too soon.
    w.t.clock.advance(5);
    await expectError(await poll(w, r.auth_req_id), 'slow_down');
    expect((await requestRow(r.requestId)).pollInterval).toBe(15);
    w.t.clock.advance(6);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
  });

  it('lets a client whose interval fell behind catch up, and never asks for more than 120 s', async () => {
    const r = await startRequest(w);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
    // A burst of early polls (two waiters, a bug) pushes the interval to its ceiling.
    for (let i = 0; i < 40; i++) await expectError(await poll(w, r.auth_req_id), 'slow_down');
    expect((await requestRow(r.requestId)).pollInterval).toBe(120);
    // Early polls do not restart the wait: 120 s after the last served poll, it is served.
    w.t.clock.advance(120);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
  });

  it('answers expired_token once the request expired undecided', async () => {
    const r = await startRequest(w);
    w.t.clock.advance(601);
    await expectError(await poll(w, r.auth_req_id), 'expired_token');
  });

  it('answers access_denied after the person denied', async () => {
    const r = await startRequest(w);
    await deny(w, r.requestId);
    await expectError(await poll(w, r.auth_req_id), 'access_denied');
  });

  it('answers invalid_grant to an unknown auth_req_id and to another agent polling someone else’s', async () => {
    const r = await startRequest(w);
    await approve(w, r.requestId);
    await expectError(await poll(w, 'x'.repeat(43)), 'invalid_grant');
    await expectError(await poll(w, r.auth_req_id, w.acme.otherAgent), 'invalid_grant');
    await expectError(await poll(w, r.auth_req_id, w.globex.agent), 'invalid_grant');
    // The rightful agent is unaffected by those attempts.
    expect((await poll(w, r.auth_req_id)).status).toBe(200);
  });

  it('refuses the grant to an API client', async () => {
    const r = await startRequest(w);
    await expectError(await poll(w, r.auth_req_id, w.acme.api), 'unauthorized_client');
  });

  it('requires auth_req_id', async () => {
    const { post, TOKEN, CIBA } = await import('./world.ts');
    await expectError(
      await post(w.t, TOKEN, w.acme.agent, { grant_type: CIBA }),
      'invalid_request',
    );
  });

  it('hands out the grant handle and a recorded RFC 9068 token once approved', async () => {
    const r = await startRequest(w);
    await expectError(await poll(w, r.auth_req_id), 'authorization_pending');
    const { grantId } = await approve(w, r.requestId);
    w.t.clock.advance(5);
    const res = await poll(w, r.auth_req_id);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 120,
      scope: 'repo:read repo:write',
      authorization_details: [
        {
          type: 'agent_task',
          identifier: 'task-42',
          purpose: 'Tag release 4.2',
          duration: 7200,
          max_token_ttl: 120,
        },
      ],
    });
    expect(body.id_token).toBeUndefined();
    expect(body.refresh_token).toMatch(/^[\w-]{43}$/);

    const token = body.access_token as string;
    const signer = await w.t.deps.keys.signer();
    expect(decodeProtectedHeader(token)).toEqual({
      alg: signer.alg,
      kid: signer.kid,
      typ: 'at+jwt',
    });
    const { payload } = await verify(token);
    const iat = Math.floor(w.t.clock.now().getTime() / 1000);
    expect(payload).toEqual({
      iss: ISSUER,
      sub: w.acme.userId,
      aud: REPOS,
      iat,
      exp: iat + 120,
      jti: expect.stringMatching(/^[\w-]{22}$/) as unknown,
      client_id: w.acme.agent.clientId,
      scope: 'repo:read repo:write',
      act: { sub: w.acme.agent.clientId },
      tid: w.acme.tenantId,
      grant_id: grantId,
      task: { id: 'task-42', purpose: 'Tag release 4.2' },
      status: {
        status_list: {
          idx: expect.any(Number) as unknown,
          uri: expect.stringMatching(new RegExp(`^${ISSUER}/status/[0-9a-f-]{36}$`)) as unknown,
        },
      },
    });

    const [recorded] = await db()
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, payload.jti ?? ''));
    expect(recorded).toMatchObject({
      tenantId: w.acme.tenantId,
      grantId,
      clientId: w.acme.agent.clientId,
      audience: REPOS,
      scope: 'repo:read repo:write',
      task: { id: 'task-42', purpose: 'Tag release 4.2' },
      revokedAt: null,
    });
    // The status claim names exactly the position recorded for the token.
    const { idx, uri } = (payload.status as { status_list: { idx: number; uri: string } })
      .status_list;
    expect(uri).toBe(`${ISSUER}/status/${recorded?.statusListId}`);
    expect(idx).toBe(recorded?.statusIdx);
    expect(recorded?.expiresAt.getTime()).toBe((iat + 120) * 1000);
    const [grant] = await db().select().from(grants).where(eq(grants.id, grantId));
    expect(grant?.handleHash).toBe(await sha256base64url(body.refresh_token as string));
    expect((await requestRow(r.requestId)).redeemedAt?.getTime()).toBe(w.t.clock.now().getTime());
  });

  it('mints the first token for the resource the poll names, with that resource’s scopes', async () => {
    const r = await startRequest(w);
    await approve(w, r.requestId);
    const res = await poll(w, r.auth_req_id, w.acme.agent, { resource: MAIL });
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('mail:send');
    const { payload } = await verify(body.access_token);
    expect(payload).toMatchObject({ aud: MAIL, scope: 'mail:send' });
  });

  it('refuses a resource outside the grant, or several, without redeeming', async () => {
    const r = await startRequest(w);
    await approve(w, r.requestId, { resources: [{ resource: REPOS, scopes: ['repo:read'] }] });
    await expectError(
      await poll(w, r.auth_req_id, w.acme.agent, { resource: MAIL }),
      'invalid_target',
    );
    await expectError(
      await poll(w, r.auth_req_id, w.acme.agent, { resource: [REPOS, MAIL] }),
      'invalid_target',
    );
    expect((await requestRow(r.requestId)).redeemedAt).toBeNull();
    const ok = (await (await poll(w, r.auth_req_id)).json()) as { scope: string };
    expect(ok.scope).toBe('repo:read');
  });

  it('redeems once: a second poll, even concurrent, gets invalid_grant', async () => {
    const r = await startRequest(w);
    await approve(w, r.requestId);
    const [a, b] = await Promise.all([poll(w, r.auth_req_id), poll(w, r.auth_req_id)]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
    await expectError(await poll(w, r.auth_req_id), 'invalid_grant');
    expect(await db().select().from(issuedTokens)).toHaveLength(1);
  });

  it('bounds the token by the grant: its max_token_ttl and its end', async () => {
    const r = await startRequest(w);
    await approve(w, r.requestId, { grantTtl: 90, maxTokenTtl: 3600 });
    w.t.clock.advance(30);
    const body = (await (await poll(w, r.auth_req_id)).json()) as {
      access_token: string;
      expires_in: number;
    };
    // Default 300 s, grant allows 3600 s per token, but the grant ends in 60 s.
    expect(body.expires_in).toBe(60);
    const { payload } = await verify(body.access_token);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(60);
  });

  it('answers invalid_grant when the grant was revoked or has ended before redemption', async () => {
    const revoked = await startRequest(w);
    const { grantId } = await approve(w, revoked.requestId);
    await revokeGrant(
      db(),
      { tenantId: w.acme.tenantId, userId: w.acme.userId },
      grantId,
      'test',
      w.t.clock.now(),
    );
    await expectError(await poll(w, revoked.auth_req_id), 'invalid_grant');

    const ended = await startRequest(w);
    await approve(w, ended.requestId, { grantTtl: 60 });
    w.t.clock.advance(61);
    await expectError(await poll(w, ended.auth_req_id), 'invalid_grant');
    expect(await db().select().from(issuedTokens)).toHaveLength(0);
  });

  it('returns no token and redeems nothing when the token cannot be recorded', async () => {
    const r = await startRequest(w);
    const { grantId } = await approve(w, r.requestId);
    // Simulates a failing write of issued_tokens (disk full, constraint, lost connection).
    await db().execute(sql`create function refuse_token() returns trigger language plpgsql as $$
      begin raise exception 'cannot record'; end $$`);
    await db().execute(sql`create trigger refuse_token before insert on issued_tokens
      for each row execute function refuse_token()`);
    const res = await poll(w, r.auth_req_id);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('eyJ');
    expect(JSON.parse(text)).toMatchObject({ error: 'server_error' });
    expect((await requestRow(r.requestId)).redeemedAt).toBeNull();
    const [grant] = await db().select().from(grants).where(eq(grants.id, grantId));
    expect(grant?.handleHash).toBeNull();

    await db().execute(sql`drop trigger refuse_token on issued_tokens`);
    expect((await poll(w, r.auth_req_id)).status).toBe(200);
  });

  it('still refuses unknown grant types', async () => {
    const { post, TOKEN } = await import('./world.ts');
    const res = await post(w.t, TOKEN, w.acme.agent, { grant_type: 'password' });
    await expectError(res, 'unsupported_grant_type');
  });
});
