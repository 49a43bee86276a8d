/**
 * The security headers of every page (signed in or not, found or not) and of the JSON,
 * JWT and asset answers, asserted exactly: src/ui/csp.ts says why each is there.
 */
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  NON_PAGE_CONTENT_SECURITY_POLICY,
  PERMISSIONS_POLICY,
} from '../../src/ui/csp.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { form } from '../helpers/clients.ts';
import { post, startRequest, validRequest } from '../delegation/world.ts';
import { createTaskWorld, type TaskWorld } from '../oauth/task-world.ts';
import { invite, signedIn } from '../ui/fixtures.ts';

/** What every response carries, page or not. */
const EVERY_RESPONSE = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'permissions-policy': PERMISSIONS_POLICY,
  'origin-agent-cluster': '?1',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

const PAGE = {
  ...EVERY_RESPONSE,
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'cache-control': 'no-store',
};
const NOT_A_PAGE = {
  ...EVERY_RESPONSE,
  'content-security-policy': NON_PAGE_CONTENT_SECURITY_POLICY,
};

function expectHeaders(res: Response, expected: Record<string, string>, label: string): void {
  const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, res.headers.get(k)]));
  expect(actual, label).toEqual(expected);
  expect(res.headers.get('strict-transport-security'), label).toBeNull();
}

describe('security headers over http', () => {
  let w: TaskWorld;
  beforeEach(async () => {
    w = await createTaskWorld();
  });
  afterEach(async () => w.t.close());

  it('sends the page set on every page, errors and refusals included', async () => {
    const { cookie } = await signedIn(w.t, 'bob@example.com');
    const { requestId } = await startRequest(w, { ...validRequest, login_hint: 'bob@example.com' });
    const { secret } = await invite(w.t, 'carol@example.com', 'acme');
    const pages: [string, string | undefined, number][] = [
      ['/', undefined, 200], // sign-in
      ['/', cookie, 200], // dashboard
      ['/activity', cookie, 200],
      [`/requests/${requestId}`, cookie, 200],
      ['/requests/00000000-0000-4000-8000-000000000000', cookie, 404],
      ['/requests/not-a-uuid', cookie, 404],
      [`/invite/${secret}`, undefined, 200],
      ['/invite/no-such-link', undefined, 410],
    ];
    for (const [path, session, status] of pages) {
      const res = await w.t.request(path, session ? { headers: { cookie: session } } : undefined);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expectHeaders(res, PAGE, path);
    }
  });

  it('keeps the page set on a page redirect and a page error answered as JSON', async () => {
    const { cookie } = await signedIn(w.t, 'bob@example.com');
    const redirect = await w.t.request(`/requests/00000000-0000-4000-8000-000000000000`);
    expect(redirect.status).toBe(303);
    expectHeaders(redirect, PAGE, 'approval page, signed out');
    const badWindow = await w.t.request('/activity?window=1y', { headers: { cookie } });
    expect(badWindow.status).toBe(400);
    expectHeaders(badWindow, PAGE, 'activity page, bad window');
  });

  it('sends the non-page set on JSON, JWT and asset answers, errors included', async () => {
    const status = decodeJwt(w.firstToken).status as { status_list: { uri: string } };
    const statusPath = new URL(status.status_list.uri).pathname;
    const answers: [string, RequestInit | undefined, number][] = [
      ['/.well-known/oauth-authorization-server', undefined, 200],
      ['/.well-known/jwks.json', undefined, 200],
      ['/.well-known/did.json', undefined, 200],
      ['/healthz', undefined, 200],
      ['/readyz', undefined, 200],
      [statusPath, undefined, 200],
      ['/assets/passkeys.js', undefined, 200],
      ['/assets/app.css', undefined, 200],
      ['/no/such/endpoint', undefined, 404],
      ['/metrics', undefined, 404],
      ['/oauth/token', form({ grant_type: 'refresh_token' }), 401],
      ['/oauth/introspect', form({ token: 'x' }), 401],
      ['/oauth/revoke', { method: 'POST', body: 'token=x' }, 400],
      ['/oauth/overrun', form({}), 401],
      ['/oauth/revocation-events', undefined, 401],
      ['/dashboard/state', undefined, 401],
      ['/passkeys/signin/options', { method: 'POST', body: '{' }, 400],
      [
        '/oauth/token',
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'a='.repeat(40_000),
        },
        413,
      ],
    ];
    for (const [path, init, code] of answers) {
      const res = await w.t.request(path, init);
      expect(res.status, path).toBe(code);
      expectHeaders(res, NOT_A_PAGE, `${init?.method ?? 'GET'} ${path}`);
    }
  });

  it('sends the non-page set on a live revocation event stream', async () => {
    const res = await post(w.t, '/oauth/revocation-events', w.acme.api, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expectHeaders(res, NOT_A_PAGE, 'event stream');
    await res.body?.cancel();
  });

  it('keeps each answer its own caching: errors and tokens no-store, public documents cacheable', async () => {
    const error = await w.t.request('/oauth/token', form({}));
    expect(error.headers.get('cache-control')).toBe('no-store');
    const jwks = await w.t.request('/.well-known/jwks.json');
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
  });
});

describe('security headers over https', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ PUBLIC_URL: 'https://broker.example' });
  });
  afterEach(async () => t.close());

  it('adds Strict-Transport-Security to pages and JSON alike when PUBLIC_URL is https', async () => {
    for (const path of [
      '/',
      '/invite/no-such-link',
      '/.well-known/jwks.json',
      '/no/such/endpoint',
    ]) {
      const res = await t.hono.request(`https://broker.example${path}`);
      expect(res.headers.get('strict-transport-security'), path).toBe(
        'max-age=63072000; includeSubDomains',
      );
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
    }
  });
});
