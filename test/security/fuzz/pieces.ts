/**
 * What a fuzzed request is made of, as plain data: fast-check generates, shrinks and
 * prints these, and `materialise` (requests.ts) turns them into strings, signing real
 * JWTs with jose where a piece asks for one. Values lean towards what the broker
 * expects (the world's real handles, tokens, audiences and scopes, assertions signed
 * by registered keys), so that many requests reach the checks behind the first one.
 */
import fc from 'fast-check';
import { MAIL, OTHER_API, REPOS } from '../../delegation/world.ts';

/** A secret or id of the world (world.ts), by name. */
export type WorldValue =
  | 'handle'
  | 'accessToken'
  | 'accessTokenJti'
  | 'spareHandle'
  | 'spareToken'
  | 'spareTokenJti'
  | 'firstToken'
  | 'authReqId'
  | 'pendingId'
  | 'grantId'
  | 'bobGrantId'
  | 'inviteSecret'
  | 'csrf'
  | 'statusListId'
  | 'agentId'
  | 'apiId';

/** How a JWT is signed: by a registered client (index into world.clients), a stranger, or not really. */
export type Signer = number | 'stranger' | 'none' | 'hs256';

export interface JwtPlan {
  jwt: 'assertion' | 'dpop' | 'access';
  signer: Signer;
  /** Whose id goes in iss and sub (index into world.clients), when not the signer's. */
  as?: number;
  aud: 'issuer' | 'endpoint' | 'elsewhere' | 'absent';
  time: 'fresh' | 'expired' | 'future' | 'forever';
  jti: 'fresh' | 'fixed' | 'absent';
  typ?: string;
  htm?: string;
  htu?: 'endpoint' | 'elsewhere';
  extra: Record<string, unknown>;
}

export type Piece =
  | { lit: string }
  | { world: WorldValue }
  | { jwt: JwtPlan }
  | { json: unknown }
  | { cut: Piece; at: number }
  | { repeat: string; times: number }
  /** JSON nested `deep` levels, as text. */
  | { deep: number }
  | { join: Piece[] }
  /** A piece with `char` put in its middle: a NUL or a control character in a real value. */
  | { poison: Piece; char: string };

const GRANT_TYPES = [
  'urn:openid:params:grant-type:ciba',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'authorization_code',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
] as const;
const TOKEN_TYPES = [
  'urn:ietf:params:oauth:token-type:access_token',
  'urn:ietf:params:oauth:token-type:jwt',
  'urn:ietf:params:oauth:token-type:refresh_token',
  'urn:mandate:token-type:vc+jwt',
] as const;
const SCOPES = [
  'repo:read',
  'repo:write',
  'repo:read repo:write',
  'openid repo:read repo:write mail:send',
  'mail:send',
  'deploy',
  'repo:reаd', // Cyrillic а: a look-alike of repo:read
  'ｒｅｐｏ:read',
  'repo:read\u200b',
  'REPO:READ',
  '  repo:read   repo:read  ',
] as const;
const AUDIENCES = [
  REPOS,
  MAIL,
  OTHER_API,
  'https://repos.acme.example',
  'https://repos.acme.example/#frag',
  'repos.acme.example',
  'urn:x',
  'javascript:alert(1)',
  'http://localhost:8787/',
] as const;
const NASTY = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\uffff',
  '%00',
  '%',
  '%zz',
  '%ff%fe',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  "' OR 1=1 --",
  "'; drop table tenants; --",
  '${jndi:ldap://x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '-1',
  '0',
  '1e309',
  'NaN',
  'Infinity',
  '9007199254740993',
  '0x10',
  'true',
  'null',
  '[]',
  '{}',
  '{"__proto__":{"admin":true}}',
  'a.b.c',
  '..',
  'eyJhbGciOiJub25lIn0.e30.',
  'Bearer',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
];

/** Any string at all, weighted towards the troublesome. */
export const junk: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

const lit = (a: fc.Arbitrary<string>): fc.Arbitrary<Piece> => a.map((v) => ({ lit: v }));
/** One of `values`, the first three times as often as all the others together. */
const likely = <T>(first: T, ...rest: T[]): fc.Arbitrary<T> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(first) },
    { weight: rest.length > 0 ? 1 : 0, arbitrary: fc.constantFrom(first, ...rest) },
  );
const world = (first: WorldValue, ...rest: WorldValue[]): fc.Arbitrary<Piece> =>
  likely(first, ...rest).map((v) => ({ world: v }));

/** A JSON value that is deep, wide, or huge, for bodies and JSON-valued parameters. */
export const wildJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  {
    weight: 1,
    // Deeper nesting goes in as text (`deep` pieces, raw bodies): fast-check prints values recursively.
    arbitrary: fc.integer({ min: 50, max: 400 }).map((depth) => {
      let v: unknown = 'x';
      for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
      return v;
    }),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 80_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, [], {}, 0, -1, 1e308, '', true) },
);

/** RFC 9396 details that look like an agent task, with one field broken now and then. */
const details: fc.Arbitrary<unknown> = fc.array(
  fc.record(
    {
      type: fc.oneof(fc.constant('agent_task'), junk),
      identifier: fc.oneof(fc.constant('task-7'), junk),
      purpose: fc.oneof(fc.constant('Tag a release'), junk),
      duration: fc.oneof(fc.integer({ min: -10, max: 10_000_000 }), wildJson),
      max_token_ttl: fc.oneof(fc.integer({ min: -10, max: 100_000 }), wildJson),
      actions: fc.array(junk, { maxLength: 3 }),
    },
    { requiredKeys: ['type'] },
  ),
  { maxLength: 3 },
);

export const jwtPlan = (kinds: JwtPlan['jwt'][]): fc.Arbitrary<JwtPlan> =>
  fc.record(
    {
      jwt: fc.constantFrom(...kinds),
      signer: fc.oneof(
        { weight: 6, arbitrary: fc.nat({ max: 4 }) },
        {
          weight: 3,
          arbitrary: fc.constantFrom<Signer>('stranger', 'none', 'hs256'),
        },
      ),
      as: fc.nat({ max: 4 }),
      aud: fc.constantFrom('issuer', 'issuer', 'endpoint', 'elsewhere', 'absent'),
      time: fc.constantFrom('fresh', 'fresh', 'fresh', 'expired', 'future', 'forever'),
      jti: fc.constantFrom('fresh', 'fresh', 'fixed', 'absent'),
      typ: fc.constantFrom('JWT', 'dpop+jwt', 'at+jwt', 'vc+jwt', 'jwt', 'none'),
      htm: fc.constantFrom('POST', 'GET', 'post', 'PUT'),
      htu: fc.constantFrom('endpoint', 'endpoint', 'elsewhere'),
      extra: fc.dictionary(
        fc.constantFrom(
          'iss',
          'sub',
          'aud',
          'exp',
          'iat',
          'nbf',
          'jti',
          'cnf',
          'act',
          'scope',
          'x',
        ),
        fc.oneof(wildJson, junk),
        { maxKeys: 2 },
      ),
    },
    { requiredKeys: ['jwt', 'signer', 'aud', 'time', 'jti', 'extra'] },
  );

const size = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 2000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 2000, max: 40_000 }) },
);

/** A piece cut short or doubled: truncated tokens and repeated garbage. */
const mangled = (inner: fc.Arbitrary<Piece>): fc.Arbitrary<Piece> =>
  fc.oneof(
    fc.record({ cut: inner, at: fc.integer({ min: -40, max: 400 }) }),
    fc.record({ join: fc.array(inner, { minLength: 2, maxLength: 3 }) }),
    fc.record({
      poison: inner,
      char: fc.constantFrom('\u0000', '\u0000', '\u0000', '\u0007', '\n', '\u202e', '\ud800'),
    }),
  );

/** A value for a named parameter: realistic for that name most of the time. */
export function valueFor(name: string): fc.Arbitrary<Piece> {
  // Own keys only: a junk name such as `constructor` must not find Object's.
  const real = Object.hasOwn(REALISTIC, name) ? REALISTIC[name] : undefined;
  const noise = fc.oneof(
    { weight: 8, arbitrary: lit(junk) },
    // Sizes mostly under the body limit (64 KiB by default), sometimes over it.
    { weight: 1, arbitrary: fc.record({ repeat: junk, times: size }) },
    { weight: 1, arbitrary: fc.record({ json: wildJson }) },
    { weight: 1, arbitrary: fc.record({ deep: size }) },
    { weight: 2, arbitrary: jwtPlan(['assertion', 'access', 'dpop']).map((p) => ({ jwt: p })) },
  );
  if (!real) return noise;
  return fc.oneof(
    { weight: 8, arbitrary: real },
    { weight: 2, arbitrary: mangled(real) },
    { weight: 2, arbitrary: noise },
  );
}

const REALISTIC: Record<string, fc.Arbitrary<Piece>> = {
  grant_type: lit(fc.constantFrom(...GRANT_TYPES)),
  client_assertion_type: lit(
    likely(
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
    ),
  ),
  client_assertion: jwtPlan(['assertion']).map((p) => ({ jwt: p })),
  client_id: world('agentId', 'apiId'),
  client_secret: lit(junk),
  refresh_token: world('handle', 'accessToken', 'authReqId'),
  auth_req_id: world('authReqId', 'handle'),
  subject_token: fc.oneof(
    { weight: 3, arbitrary: world('accessToken', 'firstToken', 'handle') },
    { weight: 1, arbitrary: jwtPlan(['access']).map((p) => ({ jwt: p })) },
  ),
  subject_token_type: lit(likely(...TOKEN_TYPES)),
  actor_token: jwtPlan(['assertion']).map((p) => ({ jwt: p })),
  actor_token_type: lit(likely('urn:ietf:params:oauth:token-type:jwt', ...TOKEN_TYPES)),
  requested_token_type: lit(likely(...TOKEN_TYPES)),
  scope: lit(likely(...SCOPES)),
  resource: lit(likely(...AUDIENCES)),
  audience: lit(likely(...AUDIENCES)),
  authorization_details: fc.oneof(details, wildJson).map((v) => ({ json: v })),
  login_hint: lit(
    likely('ada@example.com', 'bob@example.com', 'grace@example.com', 'ADA@example.com'),
  ),
  id_token_hint: jwtPlan(['access']).map((p) => ({ jwt: p })),
  binding_message: lit(likely('Release 4.2', 'x'.repeat(101), '\u0007bell', 'ok')),
  requested_expiry: lit(likely('60', '0', '-5', '1.5', '99999999999', 'soon')),
  // The spare grant's: revocation and overrun reports revoke what they are given.
  token: world('spareToken', 'spareHandle', 'authReqId'),
  token_type_hint: lit(likely('access_token', 'refresh_token', 'id_token', 'x')),
  attempted_scope: lit(likely('repo:write', ...SCOPES)),
  attempted_action: lit(likely('DELETE /repos/1', 'push --force', 'x'.repeat(3000))),
  method: lit(likely('GET', 'DELETE', 'BREW')),
  path: lit(likely('/repos/1', '/../../admin', '')),
  jti: fc.oneof(
    { weight: 3, arbitrary: world('spareTokenJti') },
    { weight: 1, arbitrary: lit(fc.constantFrom('00000000-0000-4000-8000-000000000000', 'nope')) },
  ),
  last_event_id: lit(likely('0', '1', '999999999999999', '-1', '01', '1e3')),
  csrf: world('csrf'),
  invite: world('inviteSecret'),
};

/** Parameter names an endpoint reads, plus ones nobody reads. */
export const paramName = (names: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: names.length > 0 ? 8 : 0, arbitrary: fc.constantFrom(...names, 'x') },
    { weight: 1, arbitrary: fc.constantFrom(...Object.keys(REALISTIC)) },
    { weight: 1, arbitrary: junk },
  );

export const CLIENT_AUTH = ['client_assertion_type', 'client_assertion', 'client_id'] as const;
