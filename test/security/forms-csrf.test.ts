/**
 * Cross-site request forgery against every state-changing POST a person's browser
 * makes: the dashboard's and approval page's forms and fetches, and the passkey
 * ceremonies. A signed-in request must carry the session's CSRF token and come from
 * our own origin (Origin, and Fetch Metadata's Sec-Fetch-Site where the browser
 * sends it instead); the anonymous passkey endpoints, which start sessions, must
 * refuse cross-site callers and any body but JSON (a `text/plain` form can carry JSON
 * without a CORS preflight: login CSRF). Every refusal leaves the database as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approve, createWorld, startRequest, type World } from '../delegation/world.ts';
import { randomToken } from '../../src/random.ts';
import { csrfOf, registeredPerson, type Registered } from '../passkeys/ceremonies.ts';
import { invite } from '../ui/fixtures.ts';
import { expectOAuthError } from './forge.ts';
import { withoutStateChange } from './state.ts';

let w: World;
let ada: Registered;
let bob: Registered;
let requestId: string;
let grantId: string;
let adaCsrf: string;
let bobCsrf: string;
let inviteSecret: string;
const ORIGIN = 'http://localhost:8787';

beforeAll(async () => {
  w = await createWorld();
  ada = await registeredPerson(w.t, 'ada@example.com', 'acme');
  bob = await registeredPerson(w.t, 'bob@example.com', 'acme');
  adaCsrf = await csrfOf(w.t, ada.userId);
  bobCsrf = await csrfOf(w.t, bob.userId);
  requestId = (await startRequest(w)).requestId;
  grantId = (await approve(w, (await startRequest(w)).requestId)).grantId;
  inviteSecret = (await invite(w.t, 'carol@example.com', 'acme')).secret;
});
afterAll(async () => w.t.close());

interface Endpoint {
  name: string;
  path: () => string;
  kind: 'form' | 'json';
  body: () => Record<string, unknown>;
}

const ENDPOINTS: Endpoint[] = [
  { name: 'sign-out', path: () => '/signout', kind: 'form', body: () => ({}) },
  {
    name: 'revoking a grant from the dashboard',
    path: () => `/grants/${grantId}/revoke`,
    kind: 'form',
    body: () => ({}),
  },
  {
    name: 'denying a request',
    path: () => `/requests/${requestId}/deny`,
    kind: 'form',
    body: () => ({}),
  },
  {
    name: 'starting an approval',
    path: () => `/requests/${requestId}/approval/options`,
    kind: 'json',
    body: () => ({
      resources: [{ resource: 'https://repos.acme.example/', scopes: ['repo:read'] }],
      duration: 3600,
    }),
  },
  {
    name: 'completing an approval',
    path: () => `/requests/${requestId}/approval/verify`,
    kind: 'json',
    body: () => ({
      response: {
        id: ada.auth.credentialId,
        rawId: ada.auth.credentialId,
        type: 'public-key',
        response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
        clientExtensionResults: {},
      },
    }),
  },
  {
    name: 'starting to add a passkey',
    path: () => '/passkeys/add/options',
    kind: 'json',
    body: () => ({}),
  },
  {
    name: 'completing adding a passkey',
    path: () => '/passkeys/add/verify',
    kind: 'json',
    body: () => ({
      response: {
        id: 'x',
        rawId: 'x',
        type: 'public-key',
        response: { clientDataJSON: 'e30', attestationObject: 'AA' },
        clientExtensionResults: {},
      },
    }),
  },
];

interface Attempt {
  cookie?: string;
  csrf?: string;
  headers?: Record<string, string>;
}

function send(e: Endpoint, a: Attempt): Promise<Response> {
  const headers: Record<string, string> = { ...a.headers };
  if (a.cookie) headers.cookie = a.cookie;
  let body: string;
  if (e.kind === 'form') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const fields = new URLSearchParams();
    for (const [k, v] of Object.entries(e.body())) fields.set(k, String(v));
    if (a.csrf !== undefined) fields.set('csrf', a.csrf);
    body = fields.toString();
  } else {
    headers['content-type'] = 'application/json';
    if (a.csrf !== undefined) headers['x-csrf-token'] = a.csrf;
    body = JSON.stringify(e.body());
  }
  return w.t.request(e.path(), { method: 'POST', headers, body });
}

const ATTACKS: [string, () => Attempt, number, string, string][] = [
  [
    'no session at all',
    () => ({ csrf: adaCsrf, headers: { origin: ORIGIN } }),
    401,
    'login_required',
    'sign in first',
  ],
  [
    'no CSRF token',
    () => ({ cookie: ada.cookie, headers: { origin: ORIGIN } }),
    403,
    'invalid_request',
    'missing or wrong CSRF token',
  ],
  [
    'a wrong CSRF token',
    () => ({ cookie: ada.cookie, csrf: randomToken(32), headers: { origin: ORIGIN } }),
    403,
    'invalid_request',
    'missing or wrong CSRF token',
  ],
  [
    'another session’s CSRF token',
    () => ({ cookie: ada.cookie, csrf: bobCsrf, headers: { origin: ORIGIN } }),
    403,
    'invalid_request',
    'missing or wrong CSRF token',
  ],
  [
    'the right token from a cross-site Origin',
    () => ({ cookie: ada.cookie, csrf: adaCsrf, headers: { origin: 'https://evil.example' } }),
    403,
    'invalid_request',
    'cross-origin request refused',
  ],
  [
    'the right token from an opaque (null) Origin',
    () => ({ cookie: ada.cookie, csrf: adaCsrf, headers: { origin: 'null' } }),
    403,
    'invalid_request',
    'cross-origin request refused',
  ],
  [
    'the right token, no Origin, and Sec-Fetch-Site: cross-site',
    () => ({ cookie: ada.cookie, csrf: adaCsrf, headers: { 'sec-fetch-site': 'cross-site' } }),
    403,
    'invalid_request',
    'cross-origin request refused',
  ],
];

describe.each(ENDPOINTS)('CSRF on $name', (endpoint) => {
  it.each(ATTACKS)('refuses %s', async (_, attempt, status, error, description) => {
    await withoutStateChange(w.t, async () => {
      const res = await send(endpoint, attempt());
      const body = await expectOAuthError(res, status, error);
      expect(body.error_description).toBe(description);
      expect(res.headers.get('set-cookie')).toBeNull();
    });
  });
});

describe('the anonymous passkey endpoints (they start sessions)', () => {
  const anonymous: [string, () => unknown][] = [
    ['/passkeys/signin/options', () => ({})],
    ['/passkeys/register/options', () => ({ invite: inviteSecret })],
  ];

  it.each(anonymous)('refuse a cross-site Origin at %s', async (path, body) => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
        body: JSON.stringify(body()),
      });
      const answer = await expectOAuthError(res, 403, 'invalid_request');
      expect(answer.error_description).toBe('cross-origin request refused');
    });
  });

  it.each(anonymous)('refuse Sec-Fetch-Site: cross-site at %s', async (path, body) => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
        body: JSON.stringify(body()),
      });
      const answer = await expectOAuthError(res, 403, 'invalid_request');
      expect(answer.error_description).toBe('cross-origin request refused');
    });
  });

  it.each(anonymous)('refuse JSON sent as a text/plain form body at %s', async (path, body) => {
    await withoutStateChange(w.t, async () => {
      const res = await w.t.request(path, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify(body()),
      });
      const answer = await expectOAuthError(res, 400, 'invalid_request');
      expect(answer.error_description).toBe('body must be application/json');
    });
  });
});
