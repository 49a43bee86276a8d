/**
 * A plan for one fuzzed request, as plain data (fast-check prints and shrinks it):
 * mostly the target's own method, path, content type and parameters, with a real
 * client assertion; now and then astray in every one of these.
 */
import fc from 'fast-check';
import {
  CLIENT_AUTH,
  junk,
  jwtPlan,
  paramName,
  valueFor,
  wildJson,
  type JwtPlan,
  type Piece,
} from './pieces.ts';
import type { Target } from './targets.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type Fields = [string, Piece][];

export type Body =
  | { kind: 'none' }
  | { kind: 'form'; fields: Fields }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'multipart'; fields: [string, string][] };

export interface Plan {
  target: string;
  method: string;
  /** Appended to the target's path; `replace` swaps the path's last segment. */
  path: { suffix: string } | { replace: string } | { long: number };
  query: Fields;
  contentType: string | undefined;
  headers: {
    authorization?: string;
    dpop?: Piece;
    cookie: 'none' | 'bob' | 'garbage';
    csrf: 'none' | 'right' | 'wrong';
    origin: 'none' | 'ours' | 'evil' | 'null';
    lastEventId?: string;
  };
  body: Body;
}

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencodedX',
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'multipart/form-data; boundary=zzz',
  'application/jwt',
  'a/b;;;=;',
  '',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'BREW'];
const SUFFIXES = [
  '/',
  '//',
  '/..',
  '/../',
  '/../../../../etc/passwd',
  '/%2e%2e/%2e%2e/',
  '%2F..%2F',
  '/%00',
  '%00',
  '/%ff%fe',
  '/%zz',
  '%',
  ';jsessionid=1',
  '.json',
  '/x',
  '?',
  '#frag',
  '/./',
  '\\..\\',
  '/%E2%80%AE',
];

/** `arb` with probability `p`, else undefined. */
const sometimes = <T>(p: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof(
    { weight: Math.round(p * 24), arbitrary: arb },
    { weight: Math.round((1 - p) * 24), arbitrary: fc.constant(undefined) },
  );

/** A form for a client-authenticated endpoint: usually a real assertion, plus its parameters. */
export function fieldsFor(target: Target): fc.Arbitrary<Fields> {
  const params = target.params ?? [];
  const auth: fc.Arbitrary<Fields> = target.clientAuth
    ? fc.oneof(
        {
          weight: 6,
          arbitrary: validJwt('assertion', target.callers).map((p): Fields => [
            ['client_assertion_type', { lit: ASSERTION_TYPE }],
            ['client_assertion', { jwt: p }],
          ]),
        },
        {
          weight: 1,
          arbitrary: fc.array(
            fc
              .constantFrom(...CLIENT_AUTH)
              .chain((n) => valueFor(n).map((v): [string, Piece] => [n, v])),
            { maxLength: 4 },
          ),
        },
      )
    : fc.constant([]);
  const always = [...(target.always ?? []), ...Object.keys(target.fixed ?? {})];
  const fixed = Object.entries(target.fixed ?? {}).map(([n, v]) =>
    fc
      .oneof(
        { weight: 9, arbitrary: fc.constant<Piece>({ lit: v }) },
        { weight: 1, arbitrary: valueFor(n) },
      )
      .map((p): [string, Piece] => [n, p]),
  );
  const usual = (target.always ?? []).map((n) =>
    sometimes(
      0.9,
      valueFor(n).map((v): [string, Piece] => [n, v]),
    ),
  );
  const named: fc.Arbitrary<Fields> = fc
    .tuple(
      fc.tuple(...fixed, ...usual),
      fc
        .subarray(params.filter((n) => !always.includes(n)))
        .chain((names) =>
          fc.tuple(...names.map((n) => valueFor(n).map((v): [string, Piece] => [n, v]))),
        ),
    )
    .map(([a, b]) => [...a.filter((f) => f !== undefined), ...b]);
  // Now and then a parameter the endpoint does not read, or one of its own again.
  const noise = fc.array(
    fc
      .oneof({ weight: 3, arbitrary: paramName([]) }, { weight: 1, arbitrary: paramName(params) })
      .chain((n) => valueFor(n).map((v): [string, Piece] => [n, v])),
    { maxLength: 2 },
  );
  const fewNoise = fc.oneof(
    { weight: 3, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: noise },
  );
  return fc.tuple(auth, named, fewNoise).map(([a, b, c]) => [...a, ...b, ...c]);
}

/** A JWT that should pass every check, signed by one of the registered clients. */
export const validJwt = (
  kind: JwtPlan['jwt'],
  usual: readonly number[] = [],
): fc.Arbitrary<JwtPlan> =>
  fc
    .oneof(
      { weight: usual.length > 0 ? 4 : 0, arbitrary: fc.constantFrom(...usual, 0) },
      { weight: 1, arbitrary: fc.nat({ max: 4 }) },
    )
    .map((signer) => ({
      jwt: kind,
      signer,
      aud: 'issuer',
      time: 'fresh',
      jti: 'fresh',
      htu: 'endpoint',
      htm: 'POST',
      extra: {},
    }));

function bodyFor(target: Target, stray: number): fc.Arbitrary<Body> {
  const wild: fc.Arbitrary<Body> = fc.oneof(
    fc.constant<Body>({ kind: 'none' }),
    fc.record({ kind: fc.constant('json' as const), value: wildJson }),
    fc.record({
      kind: fc.constant('raw' as const),
      text: fc.oneof(
        junk,
        fc.constantFrom(
          '{',
          '{"a":',
          '[[[[[[',
          'a=%zz&b=%&&==&c',
          'null',
          '"\\ud800"',
          '{"a":1,"a":2}',
        ),
        fc.integer({ min: 1000, max: 100_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
        fc.integer({ min: 60_000, max: 200_000 }).map((n) => `a=${'b'.repeat(n)}`),
      ),
    }),
    fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 256 }) }),
    fc.record({
      kind: fc.constant('multipart' as const),
      fields: fc.array(fc.tuple(fc.constantFrom('csrf', 'token', 'invite', 'x'), junk), {
        maxLength: 3,
      }),
    }),
  );
  const fitting: fc.Arbitrary<Body> =
    target.body === 'form'
      ? fieldsFor(target).map((fields): Body => ({ kind: 'form', fields }))
      : target.shape
        ? target.shape.map((value): Body => ({ kind: 'json', value }))
        : wild;
  return fc.oneof({ weight: 24, arbitrary: fitting }, { weight: stray, arbitrary: wild });
}

const contentTypeFor = (body: Body): string | undefined =>
  body.kind === 'form'
    ? 'application/x-www-form-urlencoded'
    : body.kind === 'json'
      ? 'application/json'
      : body.kind === 'multipart'
        ? undefined // fetch sets it, boundary included
        : body.kind === 'raw'
          ? 'text/plain;charset=UTF-8'
          : undefined;

/** Plans for requests to `targets`: mostly the right method and path, sometimes not. */
export function planFor(targets: Target[], strays: 'rare' | 'often' = 'rare'): fc.Arbitrary<Plan> {
  // How often a request goes astray (another method, a mangled path), in 24ths.
  const stray = strays === 'rare' ? 1 : 8;
  return fc.constantFrom(...targets).chain((target) =>
    bodyFor(target, stray).chain((body) =>
      fc.record({
        target: fc.constant(target.name),
        method: fc.oneof(
          { weight: 24, arbitrary: fc.constant(target.method) },
          { weight: stray, arbitrary: fc.constantFrom(...METHODS) },
        ),
        path: fc.oneof(
          { weight: 24, arbitrary: fc.constant({ suffix: '' }) },
          { weight: stray, arbitrary: fc.record({ suffix: fc.constantFrom(...SUFFIXES) }) },
          { weight: Math.floor(stray / 2), arbitrary: fc.record({ replace: junk }) },
          {
            weight: Math.floor(stray / 2),
            arbitrary: fc.record({ long: fc.integer({ min: 1000, max: 60_000 }) }),
          },
        ),
        query:
          target.method === 'GET' && target.clientAuth
            ? fieldsFor(target)
            : target.method === 'GET'
              ? fc.array(
                  paramName(target.params ?? ['window']).chain((n) =>
                    valueFor(n).map((v): [string, Piece] => [n, v]),
                  ),
                  { maxLength: 3 },
                )
              : fc.constant([]),
        contentType: fc.oneof(
          { weight: 24, arbitrary: fc.constant(contentTypeFor(body)) },
          { weight: stray, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          { weight: Math.ceil(stray / 2), arbitrary: junk },
        ),
        headers: fc.record(
          {
            // Rare: with an Authorization header beside an assertion, client auth refuses at once.
            authorization: sometimes(
              1 / 8,
              fc.oneof(
                fc.constantFrom('Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'DPoP x', 'Negotiate'),
                junk.map((j) => `Bearer ${j}`),
              ),
            ),
            dpop: sometimes(
              1 / 4,
              fc.oneof(
                { weight: 2, arbitrary: validJwt('dpop').map((p): Piece => ({ jwt: p })) },
                { weight: 1, arbitrary: jwtPlan(['dpop']).map((p): Piece => ({ jwt: p })) },
                { weight: 1, arbitrary: valueFor('dpop') },
              ),
            ),
            cookie: fc.constantFrom('none', 'bob', 'bob', 'garbage'),
            csrf: fc.constantFrom('none', 'right', 'right', 'wrong'),
            origin: fc.constantFrom('none', 'none', 'ours', 'evil', 'null'),
            lastEventId: sometimes(1 / 8, junk),
          },
          { requiredKeys: ['authorization', 'dpop', 'cookie', 'csrf', 'origin', 'lastEventId'] },
        ),
        body: fc.constant(body),
      }),
    ),
  );
}
