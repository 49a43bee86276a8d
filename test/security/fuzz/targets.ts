/**
 * Every endpoint of the broker as a fuzz target: its method and path, what its
 * parameters are read from, which of them it needs, who usually calls it, and the
 * JSON shapes the pages' scripts send to it.
 */
import fc from 'fast-check';
import { base64url } from 'jose';
import { MAIL, REPOS } from '../../delegation/world.ts';
import { junk, wildJson } from './pieces.ts';
import type { FuzzWorld } from './world.ts';

export interface Target {
  name: string;
  method: 'GET' | 'POST';
  path: (w: FuzzWorld) => string;
  /** What the endpoint reads its parameters from. */
  body: 'form' | 'json' | 'none';
  /** Parameter names it reads (form fields, or query parameters of a GET). */
  params?: readonly string[];
  /** Of those, the ones sent nearly always, so that requests get past "X is required". */
  always?: readonly string[];
  /** Parameters sent nearly always with exactly this value (grant_type). */
  fixed?: Readonly<Record<string, string>>;
  /** Authenticates its caller with private_key_jwt. */
  clientAuth?: boolean;
  /** The world's clients (indices into FuzzWorld.clients) that usually call it. */
  callers?: readonly number[];
  /** JSON bodies shaped like what the pages' scripts send. */
  shape?: fc.Arbitrary<unknown>;
}

const credential = fc.record({
  id: fc.oneof(fc.constant('Y3JlZA'), junk),
  rawId: fc.oneof(fc.constant('Y3JlZA'), junk),
  type: fc.oneof(fc.constant('public-key'), junk),
  response: fc.record(
    {
      clientDataJSON: fc.oneof(fc.constant(base64url.encode('{"type":"webauthn.get"}')), junk),
      authenticatorData: junk,
      attestationObject: junk,
      signature: junk,
      userHandle: junk,
    },
    { requiredKeys: [] },
  ),
  clientExtensionResults: fc.oneof(fc.constant({}), wildJson),
});
const choice = fc.record(
  {
    resources: fc.oneof(
      fc.array(
        fc.record({
          resource: fc.oneof(fc.constantFrom(REPOS, MAIL), junk),
          scopes: fc.array(
            fc.oneof(fc.constantFrom('repo:read', 'repo:write', 'mail:send'), junk),
            {
              maxLength: 4,
            },
          ),
        }),
        { maxLength: 3 },
      ),
      wildJson,
    ),
    duration: fc.oneof(fc.integer({ min: -100, max: 10_000_000 }), fc.double(), wildJson),
  },
  { requiredKeys: [] },
);
const withInvite = (more: Record<string, fc.Arbitrary<unknown>> = {}) =>
  fc.record(
    { invite: fc.oneof(fc.constant('{invite}'), junk, wildJson), ...more },
    { requiredKeys: [] },
  );

const form = (
  name: string,
  path: string,
  params: readonly string[],
  more: Partial<Target> = {},
): Target => ({
  name,
  method: 'POST',
  path: () => path,
  body: 'form',
  params,
  clientAuth: true,
  ...more,
});
const get = (name: string, path: (w: FuzzWorld) => string, params: string[] = []): Target => ({
  name,
  method: 'GET',
  path,
  body: 'none',
  params,
});
const json = (name: string, path: (w: FuzzWorld) => string, shape: fc.Arbitrary<unknown>) =>
  ({ name, method: 'POST', path, body: 'json', shape }) satisfies Target;

const MINT_PARAMS = [
  'refresh_token',
  'resource',
  'scope',
  'authorization_details',
  'requested_token_type',
];
const EXCHANGE_PARAMS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'scope',
  'resource',
  'audience',
];
const TOKEN_PARAMS = [
  'grant_type',
  'refresh_token',
  'auth_req_id',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'scope',
  'resource',
  'audience',
  'authorization_details',
];

const OVERRUN_PARAMS = ['attempted_scope', 'attempted_action', 'method', 'path'];

/** Ada's release bot and the REPOS API (world.ts's clients). */
const AGENT = [0];
const API = [2];

/** The broker's endpoints for agents and APIs (src/oauth, src/revocation, src/delegation). */
export const OAUTH_TARGETS: Target[] = [
  form('token: CIBA poll', '/oauth/token', ['auth_req_id'], {
    fixed: { grant_type: 'urn:openid:params:grant-type:ciba' },
    always: ['auth_req_id'],
    callers: AGENT,
  }),
  form('token: per-task mint', '/oauth/token', MINT_PARAMS, {
    fixed: { grant_type: 'refresh_token' },
    always: ['refresh_token', 'resource', 'scope'],
    callers: AGENT,
  }),
  form('token: exchange', '/oauth/token', EXCHANGE_PARAMS, {
    fixed: { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange' },
    always: ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type'],
    callers: [0, 1],
  }),
  form('token: any grant', '/oauth/token', TOKEN_PARAMS, { callers: AGENT }),
  form(
    'backchannel',
    '/oauth/backchannel',
    [
      'login_hint',
      'id_token_hint',
      'login_hint_token',
      'scope',
      'resource',
      'authorization_details',
      'binding_message',
      'requested_expiry',
    ],
    { always: ['login_hint', 'scope', 'resource'] },
  ),
  form('introspection', '/oauth/introspect', ['token', 'token_type_hint'], {
    always: ['token'],
    callers: API,
  }),
  form('revocation', '/oauth/revoke', ['token', 'token_type_hint'], {
    always: ['token'],
    callers: AGENT,
  }),
  form('overrun (token)', '/oauth/overrun', ['token', ...OVERRUN_PARAMS], {
    always: ['token', 'attempted_scope'],
    callers: API,
  }),
  form('overrun (jti)', '/oauth/overrun', ['jti', ...OVERRUN_PARAMS], {
    always: ['jti', 'attempted_action'],
    callers: API,
  }),
  form('revocation events (POST)', '/oauth/revocation-events', ['last_event_id'], {
    callers: API,
  }),
  {
    ...get('revocation events (GET)', () => '/oauth/revocation-events', ['last_event_id']),
    clientAuth: true,
    callers: API,
  },
];

/** Public documents and probes. */
export const PUBLIC_TARGETS: Target[] = [
  get('metadata', () => '/.well-known/oauth-authorization-server'),
  get('jwks', () => '/.well-known/jwks.json'),
  get('did.json', () => '/.well-known/did.json'),
  get('healthz', () => '/healthz'),
  get('readyz', () => '/readyz'),
  get('metrics', () => '/metrics'),
  get('status list', (w) => `/status/${w.statusListId}`),
  get('status list credential', (w) => `/status/${w.statusListId}/credential`),
  get('stylesheet', () => '/assets/app.css'),
  get('script', () => '/assets/passkeys.js'),
  get('webauthn bundle', () => '/assets/simplewebauthn.js'),
];

/** What people open, and what the pages' scripts and forms post. */
export const PAGE_TARGETS: Target[] = [
  get('dashboard', () => '/'),
  get('activity', () => '/activity', ['window']),
  get('activity.json', () => '/activity.json', ['window']),
  get('dashboard state', () => '/dashboard/state'),
  get('approval page', (w) => `/requests/${w.pendingId}`),
  get('invite page', (w) => `/invite/${w.inviteSecret}`),
  json('approval options', (w) => `/requests/${w.pendingId}/approval/options`, choice),
  json(
    'approval verify',
    (w) => `/requests/${w.pendingId}/approval/verify`,
    fc.record({ response: fc.oneof(credential, wildJson) }, { requiredKeys: [] }),
  ),
  json('register options', () => '/passkeys/register/options', withInvite()),
  json(
    'register verify',
    () => '/passkeys/register/verify',
    withInvite({ response: fc.oneof(credential, wildJson) }),
  ),
  json('sign-in options', () => '/passkeys/signin/options', wildJson),
  json(
    'sign-in verify',
    () => '/passkeys/signin/verify',
    fc.record({ response: credential }, { requiredKeys: [] }),
  ),
  json('add-passkey options', () => '/passkeys/add/options', wildJson),
  json(
    'add-passkey verify',
    () => '/passkeys/add/verify',
    fc.record({ response: credential }, { requiredKeys: [] }),
  ),
];

/** The person's state-changing forms; run last, since a valid one signs out, denies or revokes. */
export const FORM_TARGETS: Target[] = [
  {
    ...form('deny', '', ['csrf']),
    path: (w) => `/requests/${w.pendingId}/deny`,
    clientAuth: false,
  },
  {
    ...form('revoke grant', '', ['csrf']),
    path: (w) => `/grants/${w.bob.grantId}/revoke`,
    clientAuth: false,
  },
  { ...form('sign out', '/signout', ['csrf']), clientAuth: false },
];

export const ALL_TARGETS = [...OAUTH_TARGETS, ...PUBLIC_TARGETS, ...PAGE_TARGETS, ...FORM_TARGETS];
