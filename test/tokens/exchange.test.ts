/**
 * RFC 8693 token exchange for sub-agents: what the child token carries, how it is
 * attenuated and recorded, and every refusal, each of which records nothing.
 */
import { eq } from 'drizzle-orm';
import { createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { grants, issuedTokens } from '../../src/db/schema.ts';
import { ISSUER } from '../helpers/app.ts';
import type { TestClient } from '../helpers/clients.ts';
import { agent, createWorld, REPOS, MAIL, type World } from '../delegation/world.ts';
import {
  actorToken,
  exchange,
  exchanged,
  parentToken,
  tokenCount,
  tokenRow,
  JWT_TOKEN_TYPE,
} from './exchange-world.ts';

let w: World;
let sub: TestClient;
let parent: { token: string; grantId: string };
beforeEach(async () => {
  w = await createWorld();
  sub = w.acme.otherAgent;
  parent = await parentToken(w);
});
afterEach(async () => w.t.close());

const verify = async (token: string) =>
  (
    await jwtVerify(token, createLocalJWKSet(await w.t.deps.keys.jwks()), {
      typ: 'at+jwt',
      issuer: ISSUER,
      currentDate: w.t.clock.now(),
    })
  ).payload;

/** Asserts an OAuth error and that no token was recorded by the refused request. */
async function refused(res: Promise<Response>, status: number, error: string, before: number) {
  const r = await res;
  const body = (await r.json()) as { error: string; error_description: string };
  expect({ status: r.status, error: body.error }, body.error_description).toEqual({
    status,
    error,
  });
  expect(await tokenCount(w)).toBe(before);
  return body.error_description;
}

describe('token exchange: the child token', () => {
  it('keeps the person, API, tenant, grant and task, names the sub-agent and nests act', async () => {
    const body = await exchanged(w, sub, parent.token);
    expect(body).toMatchObject({
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      scope: 'repo:read repo:write',
    });
    const p = await verify(parent.token);
    const c = await verify(body.access_token);
    expect(c).toMatchObject({
      sub: p.sub,
      aud: REPOS,
      tid: p.tid,
      grant_id: parent.grantId,
      task: p.task,
      client_id: sub.clientId,
      scope: 'repo:read repo:write',
      act: { sub: sub.clientId, act: { sub: w.acme.agent.clientId } },
    });
    expect(c.jti).not.toBe(p.jti);
    expect(c.exp).toBeLessThanOrEqual(p.exp ?? 0);
    expect(body.expires_in).toBe((c.exp ?? 0) - (c.iat ?? 0));
  });

  it('is recorded before it is returned, with its parent, ancestors and depth', async () => {
    const body = await exchanged(w, sub, parent.token);
    const parentJti = decodeJwt(parent.token).jti ?? '';
    const row = await tokenRow(w, decodeJwt(body.access_token).jti ?? '');
    expect(row).toMatchObject({
      kind: 'access',
      parentJti,
      ancestors: [parentJti],
      depth: 1,
      clientId: sub.clientId,
      grantId: parent.grantId,
      audience: REPOS,
      scope: 'repo:read repo:write',
      revokedAt: null,
    });
    expect(row.expiresAt.getTime()).toBe((decodeJwt(body.access_token).exp ?? 0) * 1000);
  });

  it('nests act two levels deep when a sub-agent delegates again', async () => {
    const third = await agent(w.t, 'acme', w.acme.tenantId, 'Sub-sub bot');
    const child = await exchanged(w, sub, parent.token);
    const grandchild = await exchanged(w, third, child.access_token);
    const claims = await verify(grandchild.access_token);
    expect(claims.client_id).toBe(third.clientId);
    expect(claims.act).toEqual({
      sub: third.clientId,
      act: { sub: sub.clientId, act: { sub: w.acme.agent.clientId } },
    });
    const root = decodeJwt(parent.token).jti;
    const middle = decodeJwt(child.access_token).jti;
    expect(await tokenRow(w, claims.jti ?? '')).toMatchObject({
      parentJti: middle,
      ancestors: [root, middle],
      depth: 2,
    });
  });

  it('narrows scope on request, and a narrowed child cannot widen again', async () => {
    const child = await exchanged(w, sub, parent.token, { scope: 'repo:read' });
    expect(child.scope).toBe('repo:read');
    expect((await verify(child.access_token)).scope).toBe('repo:read');
    const third = await agent(w.t, 'acme', w.acme.tenantId, 'Sub-sub bot');
    const before = await tokenCount(w);
    const why = await refused(
      exchange(w, third, child.access_token, { scope: 'repo:read repo:write' }),
      400,
      'invalid_scope',
      before,
    );
    expect(why).toContain('repo:write');
  });

  it('never outlives its parent: with 20 s left on the parent, the child gets at most 20 s', async () => {
    const p = decodeJwt(parent.token);
    w.t.clock.advance((p.exp ?? 0) - (p.iat ?? 0) - 20);
    const child = await exchanged(w, sub, parent.token);
    // Whole seconds, rounded down: the clock's milliseconds past iat cost at most one.
    expect(child.expires_in).toBeGreaterThanOrEqual(19);
    expect(child.expires_in).toBeLessThanOrEqual(20);
    const exp = decodeJwt(child.access_token).exp ?? Infinity;
    expect(exp).toBeLessThanOrEqual(p.exp ?? 0);
    expect(exp).toBeGreaterThanOrEqual((p.exp ?? 0) - 1);
  });

  it('follows the configured depth limit and says so', async () => {
    await w.t.close();
    w = await createWorld({ MANDATE_TOKEN_EXCHANGE_MAX_DEPTH: '1' });
    sub = w.acme.otherAgent;
    parent = await parentToken(w);
    const child = await exchanged(w, sub, parent.token);
    const third = await agent(w.t, 'acme', w.acme.tenantId, 'Sub-sub bot');
    const why = await refused(
      exchange(w, third, child.access_token),
      400,
      'invalid_request',
      await tokenCount(w),
    );
    expect(why).toMatch(/at most 1/);
  });

  it('is off altogether at depth 0: unsupported_grant_type, and metadata omits it', async () => {
    await w.t.close();
    w = await createWorld({ MANDATE_TOKEN_EXCHANGE_MAX_DEPTH: '0' });
    parent = await parentToken(w);
    await refused(
      exchange(w, w.acme.otherAgent, parent.token),
      400,
      'unsupported_grant_type',
      await tokenCount(w),
    );
    const meta = (await (await w.t.request('/.well-known/oauth-authorization-server')).json()) as {
      grant_types_supported: string[];
    };
    expect(meta.grant_types_supported).not.toContain(
      'urn:ietf:params:oauth:grant-type:token-exchange',
    );
  });
});

describe('token exchange: refusals (RFC 8693 §2.2.2), each recording nothing', () => {
  it('refuses a sub-agent of another tenant', async () => {
    await refused(
      exchange(w, w.globex.agent, parent.token),
      400,
      'invalid_request',
      await tokenCount(w),
    );
  });

  it('refuses a revoked parent, and a parent whose grant was revoked', async () => {
    const jti = decodeJwt(parent.token).jti ?? '';
    const db = w.t.owner;
    await db
      .update(issuedTokens)
      .set({ revokedAt: w.t.clock.now() })
      .where(eq(issuedTokens.jti, jti));
    await refused(exchange(w, sub, parent.token), 400, 'invalid_request', await tokenCount(w));

    const other = await parentToken(w);
    await db
      .update(grants)
      .set({ status: 'revoked', revokedAt: w.t.clock.now() })
      .where(eq(grants.id, other.grantId));
    await refused(exchange(w, sub, other.token), 400, 'invalid_request', await tokenCount(w));
  });

  it('refuses a child as subject once its parent is revoked (ancestors)', async () => {
    const child = await exchanged(w, sub, parent.token);
    await w.t.owner
      .update(issuedTokens)
      .set({ revokedAt: w.t.clock.now() })
      .where(eq(issuedTokens.jti, decodeJwt(parent.token).jti ?? ''));
    const third = await agent(w.t, 'acme', w.acme.tenantId, 'Sub-sub bot');
    await refused(
      exchange(w, third, child.access_token),
      400,
      'invalid_request',
      await tokenCount(w),
    );
  });

  it('refuses an expired parent', async () => {
    const p = decodeJwt(parent.token);
    w.t.clock.advance((p.exp ?? 0) - (p.iat ?? 0) + 1);
    await refused(exchange(w, sub, parent.token), 400, 'invalid_request', await tokenCount(w));
  });

  it('refuses scope beyond the parent, even scope the grant holds for another API', async () => {
    const before = await tokenCount(w);
    await refused(
      exchange(w, sub, parent.token, { scope: 'repo:read repo:admin' }),
      400,
      'invalid_scope',
      before,
    );
    await refused(
      exchange(w, sub, parent.token, { scope: 'mail:send' }),
      400,
      'invalid_scope',
      before,
    );
  });

  it('refuses another audience with invalid_target', async () => {
    await refused(
      exchange(w, sub, parent.token, { resource: MAIL }),
      400,
      'invalid_target',
      await tokenCount(w),
    );
    await refused(
      exchange(w, sub, parent.token, { audience: MAIL }),
      400,
      'invalid_target',
      await tokenCount(w),
    );
    await expect(exchanged(w, sub, parent.token, { resource: REPOS })).resolves.toBeTruthy();
  });

  it('refuses an actor token used twice, even though the first exchange succeeded', async () => {
    const once = await actorToken(w, sub);
    await expect(exchanged(w, sub, parent.token, { actor_token: once })).resolves.toBeTruthy();
    const why = await refused(
      exchange(w, sub, parent.token, { actor_token: once }),
      400,
      'invalid_request',
      await tokenCount(w),
    );
    expect(why).toMatch(/already used/);
  });

  it('lets a refused exchange leave its actor token unspent', async () => {
    const once = await actorToken(w, sub);
    await refused(
      exchange(w, sub, parent.token, { actor_token: once, scope: 'repo:admin' }),
      400,
      'invalid_scope',
      await tokenCount(w),
    );
    await expect(exchanged(w, sub, parent.token, { actor_token: once })).resolves.toBeTruthy();
  });

  it('refuses actor tokens that are not the calling agent’s own, fresh, for this issuer', async () => {
    const before = await tokenCount(w);
    const cases: Record<string, string> = {
      'signed by another agent': await actorToken(w, w.acme.agent),
      'naming another agent': await actorToken(w, sub, { iss: w.acme.agent.clientId }),
      'for another audience': await actorToken(w, sub, { audience: 'https://elsewhere.example' }),
      'living too long': await actorToken(w, sub, { expiresIn: 3600 }),
      expired: await actorToken(w, sub, { expiresIn: -120 }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await exchange(w, sub, parent.token, { actor_token: token });
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error, name).toBe('invalid_request');
    }
    expect(await tokenCount(w)).toBe(before);
  });

  it('refuses missing or unsupported token types', async () => {
    const before = await tokenCount(w);
    const cases: Record<string, Record<string, string>> = {
      'no actor_token': { actor_token: '' },
      'actor_token_type other than jwt': {
        actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      },
      'subject_token_type other than access_token': { subject_token_type: JWT_TOKEN_TYPE },
      'unknown requested_token_type': {
        requested_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      },
      'no subject_token': { subject_token: '' },
    };
    for (const [name, extra] of Object.entries(cases)) {
      const res = await exchange(w, sub, parent.token, extra);
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error, name).toBe('invalid_request');
    }
    expect(await tokenCount(w)).toBe(before);
  });

  it('refuses a subject token not signed by the broker, or not an at+jwt', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA');
    const claims = decodeJwt(parent.token);
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: (await exportJWK(publicKey)).x })
      .sign(privateKey);
    const signer = await w.t.deps.keys.signer();
    const plainJwt = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' })
      .sign(signer.key);
    for (const token of [forged, plainJwt, 'not-a-jwt']) {
      await refused(exchange(w, sub, token), 400, 'invalid_request', await tokenCount(w));
    }
  });

  it('refuses an API client: only agents exchange', async () => {
    await refused(
      exchange(w, w.acme.api, parent.token),
      400,
      'unauthorized_client',
      await tokenCount(w),
    );
  });
});
