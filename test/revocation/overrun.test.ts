/**
 * Overrun reports (mandate_overrun_endpoint): the reporting API's own token dies,
 * with its descendants; the grant dies when the attempt lies outside it or when it
 * has overrun before; nobody else's token can be touched.
 */
import { eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apis, grants, tenants } from '../../src/db/schema.ts';
import { MAIL, REPOS } from '../delegation/world.ts';
import {
  createTaskWorld,
  expectOAuthError,
  introspect,
  mint,
  mintOk,
  overrunsOf,
  snapshot,
  type TaskWorld,
} from '../oauth/task-world.ts';
import { exchanged } from '../tokens/exchange-world.ts';
import { isRevokedInDb, report } from './revocation-world.ts';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

const grantStatus = async () => {
  const [g] = await w.t.owner
    .select({ status: grants.status, reason: grants.revocationReason })
    .from(grants)
    .where(eq(grants.id, w.grantId));
  return g;
};

const readToken = async () =>
  (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;

describe('an overrun report', () => {
  it('revokes the token, only the token, on a first overrun that stays inside the grant', async () => {
    const token = await readToken();
    const sibling = await readToken();
    const res = await report(w, w.acme.api, {
      token,
      attempted_scope: 'repo:write',
      method: 'POST',
      path: '/repos/7/tags',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      revoked: ['token'],
      jti: decodeJwt(token).jti,
      grant_id: w.grantId,
      overruns: 1,
      threshold: 2,
    });
    expect(await isRevokedInDb(w.t, decodeJwt(token).jti ?? '')).toBe(true);
    expect(await isRevokedInDb(w.t, decodeJwt(sibling).jti ?? '')).toBe(false);
    expect(await grantStatus()).toEqual({ status: 'active', reason: null });
    const [recorded] = await overrunsOf(w, w.grantId);
    expect(recorded).toMatchObject({
      source: 'api_report',
      jti: decodeJwt(token).jti,
      attempted: {
        scope: 'repo:write',
        method: 'POST',
        path: '/repos/7/tags',
        reported_by: w.acme.api.clientId,
      },
    });
    expect(await (await introspect(w, w.acme.api, token)).json()).toEqual({ active: false });
  });

  it('revokes the whole grant when the attempt lies outside what the person granted', async () => {
    const token = await readToken();
    const sibling = (await mintOk(w, { resource: MAIL })).access_token;
    const res = await report(w, w.acme.api, { token, attempted_scope: 'repo:admin' });
    expect(await res.json()).toMatchObject({ revoked: ['token', 'grant'], overruns: 1 });
    expect(await grantStatus()).toEqual({
      status: 'revoked',
      reason: 'revoked after a scope overrun',
    });
    expect(await isRevokedInDb(w.t, decodeJwt(sibling).jti ?? '')).toBe(true);
    await expectOAuthError(await mint(w, { resource: REPOS }), 'invalid_grant');
  });

  it('revokes the grant at its second overrun (the default threshold), and every descendant', async () => {
    const first = await readToken();
    await report(w, w.acme.api, { token: first, attempted_scope: 'repo:write' });
    const second = await readToken();
    const child = await exchanged(w, w.acme.otherAgent, second, { scope: 'repo:read' });
    const res = await report(w, w.acme.api, { token: second, attempted_scope: 'repo:write' });
    expect(await res.json()).toMatchObject({
      revoked: ['token', 'grant'],
      overruns: 2,
      threshold: 2,
    });
    expect(await isRevokedInDb(w.t, decodeJwt(child.access_token).jti ?? '')).toBe(true);
    expect(await isRevokedInDb(w.t, decodeJwt(w.firstToken).jti ?? '')).toBe(true);
  });

  it('counts refusals beyond the grant at the token endpoint toward the same threshold', async () => {
    await expectOAuthError(
      await mint(w, { resource: REPOS, scope: 'repo:admin' }),
      'invalid_scope',
    );
    expect(await grantStatus()).toMatchObject({ status: 'active' });
    const token = await readToken();
    const res = await report(w, w.acme.api, { token, attempted_scope: 'repo:write' });
    expect(await res.json()).toMatchObject({ revoked: ['token', 'grant'], overruns: 2 });
  });

  it('says so at the token endpoint when an overrun there costs the grant', async () => {
    await expectOAuthError(
      await mint(w, { resource: REPOS, scope: 'repo:admin' }),
      'invalid_scope',
    );
    const body = await expectOAuthError(
      await mint(w, { resource: REPOS, scope: 'repo:admin' }),
      'invalid_scope',
    );
    expect(body.error_description).toMatch(/grant is now revoked/);
    expect(await grantStatus()).toMatchObject({ status: 'revoked' });
  });

  it('follows the API’s own threshold before the tenant’s and the broker’s', async () => {
    const db = w.t.owner;
    await db.update(tenants).set({ overrunThreshold: 5 }).where(eq(tenants.id, w.acme.tenantId));
    await db
      .update(apis)
      .set({ overrunThreshold: 1 })
      .where(eq(apis.clientId, w.acme.api.clientId));
    const res = await report(w, w.acme.api, {
      token: await readToken(),
      attempted_scope: 'repo:write',
    });
    expect(await res.json()).toMatchObject({ revoked: ['token', 'grant'], threshold: 1 });
  });

  it('follows the tenant’s threshold when the API has none', async () => {
    const db = w.t.owner;
    await db.update(tenants).set({ overrunThreshold: 3 }).where(eq(tenants.id, w.acme.tenantId));
    for (const expected of [['token'], ['token'], ['token', 'grant']]) {
      const res = await report(w, w.acme.api, {
        token: await readToken(),
        attempted_scope: 'repo:write',
      });
      expect(await res.json()).toMatchObject({ revoked: expected, threshold: 3 });
    }
  });

  it('accepts the jti instead of the token', async () => {
    const jti = decodeJwt(await readToken()).jti ?? '';
    const res = await report(w, w.acme.api, { jti, attempted_action: 'delete repository' });
    expect(await res.json()).toMatchObject({ revoked: ['token'], jti });
    expect(await isRevokedInDb(w.t, jti)).toBe(true);
  });

  it('still takes a report about a token that has just expired', async () => {
    const token = await readToken();
    w.t.clock.advance(600);
    const res = await report(w, w.acme.api, { token, attempted_scope: 'repo:write' });
    expect(res.status).toBe(200);
  });
});

describe('an overrun report that must change nothing', () => {
  it('refuses a token issued for another API of the same tenant', async () => {
    const token = (await mintOk(w, { resource: MAIL })).access_token;
    const before = await snapshot(w);
    const body = await expectOAuthError(
      await report(w, w.acme.api, { token, attempted_scope: 'repo:write' }),
      'access_denied',
      403,
    );
    expect(body.error_description).toMatch(/not issued for this API/);
    expect(await snapshot(w)).toEqual(before);
  });

  it('refuses another tenant’s API reporting our token, by token and by jti', async () => {
    const token = await readToken();
    const before = await snapshot(w);
    const byToken: Record<string, string> = { token };
    for (const params of [byToken, { jti: decodeJwt(token).jti ?? '' }]) {
      await expectOAuthError(
        await report(w, w.globex.api, { ...params, attempted_scope: 'repo:read' }),
        'access_denied',
        403,
      );
    }
    expect(await snapshot(w)).toEqual(before);
  });

  it('refuses an agent reporting', async () => {
    const before = await snapshot(w);
    await expectOAuthError(
      await report(w, w.acme.agent, { token: await readToken(), attempted_scope: 'repo:write' }),
      'unauthorized_client',
      403,
    );
    expect((await snapshot(w)).grantRows).toEqual(before.grantRows);
  });

  it('refuses forged, unknown and malformed reports with invalid_request or access_denied', async () => {
    const token = await readToken();
    const [h, p] = token.split('.');
    const before = await snapshot(w);
    const cases: [Record<string, string>, string, number][] = [
      [{ token: `${h}.${p}.AAAA`, attempted_scope: 'repo:write' }, 'invalid_request', 400],
      [{ token: 'not-a-jwt', attempted_scope: 'repo:write' }, 'invalid_request', 400],
      [{ jti: 'no-such-token', attempted_scope: 'repo:write' }, 'access_denied', 403],
      [{ attempted_scope: 'repo:write' }, 'invalid_request', 400],
      [{ token, jti: 'x', attempted_scope: 'repo:write' }, 'invalid_request', 400],
      [{ token }, 'invalid_request', 400],
      [{ token, attempted_scope: 'repo write"' }, 'invalid_request', 400],
      [{ token, attempted_action: 'x'.repeat(3000) }, 'invalid_request', 400],
    ];
    for (const [params, error, status] of cases) {
      await expectOAuthError(await report(w, w.acme.api, params), error, status);
    }
    expect(await snapshot(w)).toEqual(before);
  });
});
