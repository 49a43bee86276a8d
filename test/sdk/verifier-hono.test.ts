/**
 * A backend API built with Hono, mandateAuth and requireScope, driven end to end
 * against the real broker: tokens from the token endpoint, RFC 6750 / RFC 9449
 * answers, and an overrun that the middleware reports itself — after which the
 * token is dead here at once and at an independent verifier within a second.
 */
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  mandateAuth,
  requireScope,
  type MandateEnv,
  type Verifier,
} from '../../src/sdk/verifier.ts';
import { REPOS } from '../delegation/world.ts';
import { createTaskWorld, mintOk, overrunsOf, type TaskWorld } from '../oauth/task-world.ts';
import {
  API_URL,
  bearer,
  boundToken,
  dpopKey,
  dpopProof,
  refusedWith,
  routedFetch,
  verifierFor,
} from './verifier-world.ts';

let w: TaskWorld;
let verifiers: Verifier[];
let api: Hono<MandateEnv>;
let errors: unknown[];

function repoApi(verifier: Verifier): Hono<MandateEnv> {
  const app = new Hono<MandateEnv>();
  app.use('/repos/*', mandateAuth(verifier));
  app.get('/repos/:id', requireScope('repo:read'), (c) =>
    c.json({
      repo: c.req.param('id'),
      for: c.var.mandate.claims.sub,
      agent: c.var.mandate.claims.client_id,
    }),
  );
  app.post('/repos/:id/tags', requireScope('repo:read', 'repo:write'), (c) =>
    c.text('tagged', 201),
  );
  return app;
}

beforeEach(async () => {
  w = await createTaskWorld();
  const made = verifierFor(w.t, { audience: REPOS, client: w.acme.api });
  errors = made.errors;
  verifiers = [made.verifier];
  api = repoApi(made.verifier);
  await made.verifier.ready();
});
afterEach(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  await w.t.close();
});

const call = (path: string, token: string | undefined, init: RequestInit = {}) =>
  api.request(`https://repos.acme.example${path}`, {
    ...init,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...init.headers,
    },
  });

describe('a Hono API with mandateAuth and requireScope', () => {
  it('serves a request whose token carries the route’s scope, with the person and agent on c.var', async () => {
    const res = await call('/repos/42', w.firstToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      repo: '42',
      for: w.acme.userId,
      agent: w.acme.agent.clientId,
    });
  });

  it('answers 401 with a bare Bearer challenge to a request without a token', async () => {
    const res = await call('/repos/42', undefined);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('answers 401 invalid_token with its reason to a bad token', async () => {
    const res = await call('/repos/42', `${w.firstToken}x`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="/,
    );
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('answers 403 insufficient_scope, reports the overrun, and the token stops working here and elsewhere', async () => {
    const other = verifierFor(w.t, { audience: REPOS, client: w.acme.api }).verifier;
    verifiers.push(other);
    await other.ready();
    const { access_token: readOnly } = await mintOk(w, { resource: REPOS, scope: 'repo:read' });

    const res = await call('/repos/42/tags', readOnly, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_scope", error_description="this request needs the scope repo:write, which the token does not carry", scope="repo:read repo:write"',
    );
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope' });
    const [overrun] = await overrunsOf(w, w.grantId);
    expect(overrun).toMatchObject({
      source: 'api_report',
      attempted: {
        scope: 'repo:write',
        method: 'POST',
        path: '/repos/42/tags',
        reported_by: w.acme.api.clientId,
      },
    });

    // The very next call with the same token, even one it has the scope for, is refused.
    const next = await call('/repos/42', readOnly);
    expect(next.status).toBe(401);
    expect(await next.json()).toMatchObject({
      error: 'invalid_token',
      error_description: 'the access token was revoked',
    });
    const start = performance.now();
    while (!(await refusedWith(other, bearer(readOnly), 'ERR_TOKEN_REVOKED'))) {
      if (performance.now() - start > 1000) throw new Error('the other verifier still accepts it');
      await new Promise((r) => setTimeout(r, 10));
    }
    // The grant survives a single overrun within its scopes: a sibling still works.
    expect((await call('/repos/42', w.firstToken)).status).toBe(200);
    expect(errors).toEqual([]);
  });

  it('serves a DPoP-bound token with its proof, and refuses it without one', async () => {
    const key = await dpopKey();
    const bound = await boundToken(w, key);
    const proof = await dpopProof(w.t, key, { token: bound, htu: API_URL });
    const ok = await api.request(API_URL, {
      headers: { authorization: `DPoP ${bound}`, dpop: proof },
    });
    expect(ok.status).toBe(200);
    const without = await api.request(API_URL, { headers: { authorization: `DPoP ${bound}` } });
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toMatch(
      /^DPoP error="invalid_dpop_proof", .*algs="/,
    );
    const asBearer = await call('/repos/42', bound);
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
  });

  it('answers 403 within the report timeout when the broker does not answer, and still drops the token', async () => {
    const net = routedFetch(w.t);
    const stalled: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      return url.endsWith('/oauth/overrun')
        ? new Promise<Response>(() => undefined)
        : net.fetch(input, init);
    };
    const made = verifierFor(
      w.t,
      { audience: REPOS, client: w.acme.api },
      { fetch: stalled, overrunTimeout: 100 },
    );
    verifiers.push(made.verifier);
    api = repoApi(made.verifier);
    const { access_token: readOnly } = await mintOk(w, { resource: REPOS, scope: 'repo:read' });
    const start = performance.now();
    const res = await call('/repos/42/tags', readOnly, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(performance.now() - start).toBeLessThan(1000);
    expect((await call('/repos/42', readOnly)).status).toBe(401);
  });

  it('refuses to set up requireScope without scopes or with something that is not a scope', () => {
    expect(() => requireScope()).toThrow(TypeError);
    expect(() => requireScope('repo:read repo:write')).toThrow(/not a scope token/);
    expect(() => requireScope('say "hi"')).toThrow(TypeError);
  });
});
