/**
 * POST /oauth/backchannel (OpenID CIBA, poll mode) through the real app with
 * real client assertions: what a valid request stores, and every refusal,
 * which must write nothing and must not reveal anything about another tenant.
 */
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests } from '../../src/db/schema.ts';
import { sha256base64url } from '../../src/random.ts';
import {
  backchannel,
  createWorld,
  MAIL,
  OTHER_API,
  person,
  REPOS,
  validRequest,
  type World,
} from './world.ts';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => w.t.close());

/** A copy of `params` without `key`. */
function without(params: Record<string, string | string[]>, key: string) {
  return Object.fromEntries(Object.entries(params).filter(([k]) => k !== key));
}

const stored = () => w.t.owner.select().from(cibaRequests);

async function expectRefusal(
  params: Record<string, string | string[]>,
  error: string,
  description?: string | RegExp,
  client = w.acme.agent,
): Promise<{ error: string; error_description: string }> {
  const res = await backchannel(w, params, client);
  const body = (await res.json()) as { error: string; error_description: string };
  expect(body.error).toBe(error);
  expect(res.status).toBe(error === 'invalid_client' ? 401 : 400);
  expect(res.headers.get('cache-control')).toBe('no-store');
  if (typeof description === 'string') expect(body.error_description).toBe(description);
  if (description instanceof RegExp) expect(body.error_description).toMatch(description);
  expect(await stored()).toHaveLength(0);
  return body;
}

describe('backchannel authentication endpoint', () => {
  it('stores a request and answers auth_req_id, expires_in and interval, uncacheable', async () => {
    const res = await backchannel(w, validRequest);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['auth_req_id', 'expires_in', 'interval']);
    expect(body.auth_req_id).toMatch(/^[\w-]{43}$/);
    expect(body).toMatchObject({ expires_in: 600, interval: 5 });

    const [row] = await stored();
    expect(row).toMatchObject({
      authReqIdHash: await sha256base64url(body.auth_req_id as string),
      tenantId: w.acme.tenantId,
      clientId: w.acme.agent.clientId,
      userId: w.acme.userId,
      status: 'pending',
      pollInterval: 5,
      bindingMessage: 'Release 4.2',
      requestedGrantTtl: 7200,
      lastPolledAt: null,
      grantId: null,
      redeemedAt: null,
    });
    expect(row?.requested).toEqual([
      { resource: REPOS, api_client_id: w.acme.api.clientId, scopes: ['repo:read', 'repo:write'] },
      { resource: MAIL, api_client_id: w.acme.mailApi.clientId, scopes: ['mail:send'] },
    ]);
    expect(row?.authorizationDetails).toEqual(JSON.parse(validRequest.authorization_details));
    expect(row?.expiresAt.getTime()).toBe(w.t.clock.now().getTime() + 600_000);
    // The secret itself is nowhere in the row.
    expect(JSON.stringify(row)).not.toContain(body.auth_req_id as string);
  });

  it('accepts a handle-style login hint in any case, a shorter requested_expiry, and no details', async () => {
    await person(w.t, 'acme', 'linus');
    const res = await backchannel(w, {
      login_hint: 'LINUS',
      scope: 'repo:read',
      resource: REPOS,
      requested_expiry: '60',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ expires_in: 60 });
    const [row] = await stored();
    expect(row).toMatchObject({
      authorizationDetails: null,
      requestedGrantTtl: null,
      bindingMessage: null,
    });
  });

  it('keeps per resource only the requested scopes in its catalogue', async () => {
    const res = await backchannel(w, { ...validRequest, scope: 'repo:read mail:send' });
    expect(res.status).toBe(200);
    const [row] = await stored();
    expect(row?.requested.map((r) => r.scopes)).toEqual([['repo:read'], ['mail:send']]);
  });

  it('refuses an API client with unauthorized_client', async () => {
    await expectRefusal(validRequest, 'unauthorized_client', undefined, w.acme.api);
  });

  it('refuses a request without valid client authentication', async () => {
    const res = await w.t.request('/oauth/backchannel', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...validRequest, resource: REPOS }).toString(),
    });
    expect(res.status).toBe(401);
    expect(await stored()).toHaveLength(0);
  });

  it('requires exactly one hint and supports only login_hint', async () => {
    const noHint = without(validRequest, 'login_hint');
    await expectRefusal(noHint, 'invalid_request', /exactly one of login_hint/);
    await expectRefusal(
      { ...validRequest, id_token_hint: 'x.y.z' },
      'invalid_request',
      /exactly one/,
    );
    await expectRefusal(
      { ...noHint, login_hint_token: 'x.y.z' },
      'invalid_request',
      /use login_hint/,
    );
    await expectRefusal({ ...noHint, id_token_hint: 'x.y.z' }, 'invalid_request', /use login_hint/);
  });

  it('gives unknown, invited, disabled and other-tenant people one identical answer', async () => {
    await person(w.t, 'acme', 'invited@example.com', 'invited');
    await person(w.t, 'acme', 'gone@example.com', 'disabled');
    const answers = [];
    for (const hint of [
      'nobody@example.com',
      'invited@example.com',
      'gone@example.com',
      'grace@example.com', // active, in globex
      'not a hint!',
    ]) {
      answers.push(await expectRefusal({ ...validRequest, login_hint: hint }, 'unknown_user_id'));
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
  });

  it('requires scope, and refuses malformed scope tokens or only openid', async () => {
    const noScope = without(validRequest, 'scope');
    await expectRefusal(noScope, 'invalid_request', 'scope is required');
    await expectRefusal({ ...validRequest, scope: 'repo:read  repo:write' }, 'invalid_scope');
    await expectRefusal({ ...validRequest, scope: 'repo:"read"' }, 'invalid_scope');
    await expectRefusal({ ...validRequest, scope: 'openid' }, 'invalid_scope');
  });

  it('refuses a scope in no requested catalogue, naming it', async () => {
    await expectRefusal(
      { ...validRequest, scope: 'repo:read repo:admin' },
      'invalid_scope',
      'scope repo:admin is not offered by any requested resource',
    );
    // deploy exists, but only in another tenant's API.
    await expectRefusal({ ...validRequest, scope: 'repo:read deploy' }, 'invalid_scope', /deploy/);
  });

  it('refuses a requested resource left without any scope', async () => {
    await expectRefusal(
      { ...validRequest, scope: 'repo:read' },
      'invalid_scope',
      `no requested scope belongs to resource ${MAIL}`,
    );
  });

  it('requires a resource, and answers an unknown API and another tenant’s API alike', async () => {
    const noResource = without(validRequest, 'resource');
    await expectRefusal(noResource, 'invalid_target');
    await expectRefusal({ ...validRequest, resource: 'not a uri' }, 'invalid_target');
    await expectRefusal({ ...validRequest, resource: `${REPOS}#frag` }, 'invalid_target');
    const unknown = await expectRefusal(
      { ...validRequest, resource: [REPOS, 'https://nowhere.example/'] },
      'invalid_target',
    );
    const foreign = await expectRefusal(
      { ...validRequest, resource: [REPOS, OTHER_API] },
      'invalid_target',
    );
    expect(foreign.error_description).toBe(
      unknown.error_description.replace('https://nowhere.example/', OTHER_API),
    );
  });

  it('refuses more APIs or scopes than one policy decision is asked about', async () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    await expectRefusal(
      { ...validRequest, resource: many(21, (i) => `https://api${i}.acme.example/`) },
      'invalid_target',
      'at most 20 resources can be requested at once',
    );
    await expectRefusal(
      { ...validRequest, scope: many(201, (i) => `s${i}`).join(' ') },
      'invalid_scope',
      'at most 200 scopes can be requested at once',
    );
  });

  it('refuses a disabled API like an unknown one', async () => {
    const { disableApi } = await import('../../src/registry/apis.ts');
    await disableApi(w.t.owner, 'acme', { audience: MAIL });
    await expectRefusal(
      validRequest,
      'invalid_target',
      `resource ${MAIL} is not an API of this tenant`,
    );
  });

  it('validates authorization_details strictly', async () => {
    const details = (d: unknown) => ({ ...validRequest, authorization_details: JSON.stringify(d) });
    const task = { type: 'agent_task', purpose: 'Tag release 4.2' };
    const bad: unknown[] = [
      [],
      [task, task],
      {},
      [{ type: 'payment_initiation', purpose: 'x' }],
      [{ type: 'agent_task' }],
      [{ ...task, purpose: 'x'.repeat(501) }],
      [{ ...task, purpose: 'evil\u202etxt' }],
      [{ ...task, purpose: 'line\nbreak' }],
      [{ ...task, duration: 30 * 86_400 + 1 }],
      [{ ...task, duration: 0 }],
      [{ ...task, duration: 1.5 }],
      [{ ...task, max_token_ttl: 3601 }],
      [{ ...task, extra: true }],
      [{ ...task, actions: 'read' }],
    ];
    for (const d of bad) await expectRefusal(details(d), 'invalid_authorization_details');
    await expectRefusal(
      { ...validRequest, authorization_details: '[{' },
      'invalid_authorization_details',
    );
    const ok = await backchannel(w, details([{ ...task, actions: ['tag'], locations: [REPOS] }]));
    expect(ok.status).toBe(200);
  });

  it('refuses a long or invisible-character binding_message', async () => {
    await expectRefusal(
      { ...validRequest, binding_message: 'x'.repeat(101) },
      'invalid_binding_message',
    );
    await expectRefusal(
      { ...validRequest, binding_message: 'bell\u0007' },
      'invalid_binding_message',
    );
    await expectRefusal(
      { ...validRequest, binding_message: 'a\u200bb' },
      'invalid_binding_message',
    );
    expect(
      (await backchannel(w, { ...validRequest, binding_message: 'é'.repeat(100) })).status,
    ).toBe(200);
  });

  it('refuses a requested_expiry that is not a positive integer within the limit', async () => {
    for (const value of ['0', '-5', '1.5', '601', 'soon', '1e3']) {
      await expectRefusal(
        { ...validRequest, requested_expiry: value },
        'invalid_request',
        /requested_expiry/,
      );
    }
  });

  it('refuses repeated parameters other than resource', async () => {
    await expectRefusal(
      { ...validRequest, scope: ['repo:read', 'mail:send'] },
      'invalid_request',
      /repeated/,
    );
  });

  it('stores nothing of another tenant even when the agent names its own person', async () => {
    const res = await backchannel(
      w,
      { login_hint: 'grace@example.com', scope: 'deploy', resource: OTHER_API },
      w.globex.agent,
    );
    expect(res.status).toBe(200);
    const [row] = await w.t.owner
      .select()
      .from(cibaRequests)
      .where(eq(cibaRequests.clientId, w.globex.agent.clientId));
    expect(row).toMatchObject({ tenantId: w.globex.tenantId, userId: w.globex.userId });
  });
});
