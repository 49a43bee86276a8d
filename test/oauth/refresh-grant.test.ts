/**
 * grant_type=refresh_token as the per-task mint, at the real token endpoint: one
 * token per task, for one granted API, never wider or longer than the grant, and
 * every refusal leaves nothing behind but the record of an overrun.
 */
import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VC_TOKEN_TYPE } from '../../src/tokens/vc.ts';
import { grants, issuedTokens } from '../../src/db/schema.ts';
import { revokeGrant } from '../../src/delegation/grants.ts';
import { ISSUER } from '../helpers/app.ts';
import { createWorld, MAIL, OTHER_API, REPOS } from '../delegation/world.ts';
import {
  ACCESS_TOKEN_TYPE,
  createTaskWorld,
  expectOAuthError,
  mint,
  mintOk,
  overrunsOf,
  redeemedGrant,
  snapshot,
  verifyAccessToken,
  type TaskWorld,
} from './task-world.ts';

let w: TaskWorld;
beforeEach(async () => {
  w = await createTaskWorld();
});
afterEach(async () => w.t.close());

const db = () => w.t.owner;
const task = (extra: Record<string, unknown> = {}) =>
  JSON.stringify([{ type: 'agent_task', identifier: 'pr-7', purpose: 'Read PR 7', ...extra }]);

describe('per-task mint (refresh_token with the grant handle)', () => {
  it('mints a recorded token for the named resource, a subset of its scopes and the task', async () => {
    const res = await mint(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      access_token: expect.any(String) as unknown,
      token_type: 'Bearer',
      expires_in: 120,
      scope: 'repo:read',
      issued_token_type: ACCESS_TOKEN_TYPE,
      authorization_details: [{ type: 'agent_task', identifier: 'pr-7', purpose: 'Read PR 7' }],
    });
    // No new refresh token: the handle stays the grant's for its whole life.
    expect(body.refresh_token).toBeUndefined();

    const { payload } = await verifyAccessToken(w, body.access_token as string);
    const iat = Math.floor(w.t.clock.now().getTime() / 1000);
    expect(payload).toEqual({
      iss: ISSUER,
      sub: w.acme.userId,
      aud: REPOS,
      iat,
      exp: iat + 120,
      jti: expect.stringMatching(/^[\w-]{22}$/) as unknown,
      client_id: w.acme.agent.clientId,
      scope: 'repo:read',
      act: { sub: w.acme.agent.clientId },
      tid: w.acme.tenantId,
      grant_id: w.grantId,
      task: { id: 'pr-7', purpose: 'Read PR 7' },
      status: {
        status_list: {
          idx: expect.any(Number) as unknown,
          uri: expect.stringMatching(new RegExp(`^${ISSUER}/status/[0-9a-f-]{36}$`)) as unknown,
        },
      },
    });
    const [row] = await db()
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, payload.jti ?? ''));
    expect(row).toMatchObject({
      grantId: w.grantId,
      clientId: w.acme.agent.clientId,
      audience: REPOS,
      scope: 'repo:read',
      task: { id: 'pr-7', purpose: 'Read PR 7' },
      kind: 'access',
      dpopJkt: null,
      depth: 0,
      ancestors: [],
      revokedAt: null,
    });
    expect(row?.expiresAt.getTime()).toBe((iat + 120) * 1000);
  });

  it('mints again and again with the same handle, each token for the resource asked', async () => {
    const mail = await mintOk(w, { resource: MAIL });
    expect(mail.scope).toBe('mail:send');
    expect((await verifyAccessToken(w, mail.access_token)).payload.aud).toBe(MAIL);
    const repos = await mintOk(w, { resource: REPOS });
    // No scope asked: all the grant holds for that resource, in the grant's order.
    expect(repos.scope).toBe('repo:read repo:write');
    expect((await verifyAccessToken(w, repos.access_token)).payload.task).toBeUndefined();
  });

  it('orders the scope as the grant does and ignores repeats', async () => {
    const body = await mintOk(w, { resource: REPOS, scope: 'repo:write repo:read repo:write' });
    expect(body.scope).toBe('repo:read repo:write');
  });

  it('defaults the resource to the only one of a single-resource grant', async () => {
    const other = await createWorld();
    try {
      const g = await redeemedGrant(other, {
        resources: [{ resource: MAIL, scopes: ['mail:send'] }],
      });
      const res = await mint({ ...other, ...g });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; scope: string };
      expect(body.scope).toBe('mail:send');
      const { payload } = await verifyAccessToken(other, body.access_token);
      expect(payload.aud).toBe(MAIL);
    } finally {
      await other.t.close();
    }
  });

  it('never outlives the grant: near its end the token lives only until then', async () => {
    // The grant lasts 7200 s; 30 s before its end the 120 s ceiling no longer binds.
    w.t.clock.advance(7170);
    const body = await mintOk(w, { resource: REPOS });
    expect(body.expires_in).toBeLessThanOrEqual(30);
    expect(body.expires_in).toBeGreaterThan(0);
    const { payload } = await verifyAccessToken(w, body.access_token);
    const [grant] = await db().select().from(grants).where(eq(grants.id, w.grantId));
    expect((payload.exp ?? Infinity) * 1000).toBeLessThanOrEqual(grant?.expiresAt.getTime() ?? 0);
  });

  it('lets the task ask for a shorter life (max_token_ttl), never a longer one', async () => {
    const shorter = await mintOk(w, {
      resource: REPOS,
      authorization_details: task({ max_token_ttl: 45 }),
    });
    expect(shorter.expires_in).toBe(45);
    // Another task: for the same one, the policy would hand back the live 45 s token (REUSE).
    const longer = await mintOk(w, {
      resource: REPOS,
      authorization_details: task({ identifier: 'pr-8', max_token_ttl: 3600 }),
    });
    expect(longer.expires_in).toBe(120);
  });
});

describe('per-task mint in the verifiable-credential form', () => {
  it('issues the same facts as a vc+jwt credential, recorded as kind vc', async () => {
    const res = await mint(w, {
      resource: REPOS,
      scope: 'repo:read',
      authorization_details: task(),
      requested_token_type: VC_TOKEN_TYPE,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({
      token_type: 'N_A',
      issued_token_type: VC_TOKEN_TYPE,
      scope: 'repo:read',
    });
    const jwt = body.access_token ?? '';
    expect(decodeProtectedHeader(jwt).typ).toBe('vc+jwt');
    const payload = decodeJwt(jwt);
    expect(payload).toMatchObject({
      type: ['VerifiableCredential', 'AgentAuthorizationCredential'],
      credentialSubject: {
        agent: w.acme.agent.clientId,
        scope: 'repo:read',
        audience: REPOS,
        grant: w.grantId,
        task: { id: 'pr-7', purpose: 'Read PR 7' },
      },
    });
    const [row] = await db()
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, String(payload.jti)));
    expect(row).toMatchObject({ kind: 'vc', scope: 'repo:read', audience: REPOS });
  });
});

describe('per-task mint refusals', () => {
  it('refuses a scope beyond the grant with invalid_scope and records the overrun, nothing else', async () => {
    const before = await snapshot(w);
    const res = await mint(w, { resource: REPOS, scope: 'repo:read repo:admin' });
    await expectOAuthError(res, 'invalid_scope');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const after = await snapshot(w);
    expect(after).toEqual({ ...before, overruns: (before.overruns ?? 0) + 1 });
    const [overrun] = await overrunsOf(w, w.grantId);
    expect(overrun).toMatchObject({
      tenantId: w.acme.tenantId,
      clientId: w.acme.agent.clientId,
      jti: null,
      source: 'token_endpoint',
      attempted: { scope: 'repo:read repo:admin', resource: REPOS },
    });
  });

  it('refuses a scope granted for another resource of the same grant', async () => {
    await expectOAuthError(await mint(w, { resource: REPOS, scope: 'mail:send' }), 'invalid_scope');
    expect(await overrunsOf(w, w.grantId)).toHaveLength(1);
  });

  it('refuses a resource outside the grant with invalid_target and records the overrun', async () => {
    const before = await snapshot(w);
    await expectOAuthError(
      await mint(w, { resource: OTHER_API, scope: 'repo:read' }),
      'invalid_target',
    );
    expect(await snapshot(w)).toEqual({ ...before, overruns: (before.overruns ?? 0) + 1 });
    const [overrun] = await overrunsOf(w, w.grantId);
    expect(overrun?.attempted).toEqual({ scope: 'repo:read', resource: OTHER_API });
  });

  it('refuses several resources, or none on a multi-resource grant, without an overrun', async () => {
    const before = await snapshot(w);
    await expectOAuthError(await mint(w, { resource: [REPOS, MAIL] }), 'invalid_target');
    await expectOAuthError(await mint(w), 'invalid_target');
    expect(await snapshot(w)).toEqual(before);
  });

  it('answers another agent using the handle exactly as an unknown handle, changing nothing', async () => {
    const before = await snapshot(w);
    const foreign = await expectOAuthError(
      await mint(w, { resource: REPOS }, w.acme.otherAgent),
      'invalid_grant',
    );
    const globex = await expectOAuthError(
      await mint(w, { resource: REPOS }, w.globex.agent),
      'invalid_grant',
    );
    const unknown = await expectOAuthError(
      await mint({ ...w, handle: 'x'.repeat(43) }, { resource: REPOS }),
      'invalid_grant',
    );
    expect(foreign.error_description).toBe(unknown.error_description);
    expect(globex.error_description).toBe(unknown.error_description);
    // Even a scope beyond the grant is no overrun of a grant the caller does not hold.
    await expectOAuthError(
      await mint(w, { scope: 'repo:admin' }, w.acme.otherAgent),
      'invalid_grant',
    );
    expect(await snapshot(w)).toEqual(before);
  });

  it('refuses the handle of a revoked grant', async () => {
    await revokeGrant(
      db(),
      { tenantId: w.acme.tenantId, userId: w.acme.userId },
      w.grantId,
      'test',
      w.t.clock.now(),
    );
    const before = await snapshot(w);
    await expectOAuthError(await mint(w, { resource: REPOS }), 'invalid_grant');
    await expectOAuthError(
      await mint(w, { resource: REPOS, scope: 'repo:admin' }),
      'invalid_grant',
    );
    expect(await snapshot(w)).toEqual(before);
  });

  it('refuses the handle of an expired grant', async () => {
    w.t.clock.advance(7200);
    const before = await snapshot(w);
    await expectOAuthError(await mint(w, { resource: REPOS }), 'invalid_grant');
    expect(await snapshot(w)).toEqual(before);
  });

  it('refuses an API client (unauthorized_client) and a missing handle (invalid_request)', async () => {
    await expectOAuthError(await mint(w, { resource: REPOS }, w.acme.api), 'unauthorized_client');
    await expectOAuthError(
      await mint({ ...w, handle: '' }, { resource: REPOS }),
      'invalid_request',
    );
  });

  it('refuses malformed scope, details and token types without recording an overrun', async () => {
    const before = await snapshot(w);
    await expectOAuthError(
      await mint(w, { resource: REPOS, scope: 'repo:read  repo:write' }),
      'invalid_scope',
    );
    await expectOAuthError(
      await mint(w, { resource: REPOS, authorization_details: '[{"type":"other"}]' }),
      'invalid_authorization_details',
    );
    await expectOAuthError(
      await mint(w, { resource: REPOS, authorization_details: task({ duration: 60 }) }),
      'invalid_authorization_details',
    );
    await expectOAuthError(
      await mint(w, { resource: REPOS, requested_token_type: 'urn:example:other' }),
      'invalid_request',
    );
    expect(await snapshot(w)).toEqual(before);
  });
});
