/**
 * `npm run bench:verifier`: the verifier SDK against raw jose on the same token, in
 * one process and one run, and the cost of a million-entry status list.
 *
 * The broker runs in-process on embedded PGlite and the SDK reaches it through the
 * app's fetch, so the figures are the SDK's own work per request: JWT signature and
 * claims, plus the revocation check (the live event stream's sets, or the cached
 * status list with events off). Rounds alternate between contenders so that drift
 * in the machine's speed falls on all of them alike; each figure is the median round.
 */
import { median, opsPerSecond } from './measure.ts';
import { cpus } from 'node:os';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { openPglite } from '../src/db/pglite.ts';
import { withOwner } from '../test/helpers/db.ts';
import { createVerifier, type Verifier } from '../src/sdk/verifier.ts';
import {
  compress,
  packBits,
  signStatusListToken,
  signBitstringStatusListCredential,
} from '../src/revocation/status-list.ts';
import { REPOS } from '../test/delegation/world.ts';
import { ISSUER } from '../test/helpers/app.ts';
import { createTaskWorld, mintOk } from '../test/oauth/task-world.ts';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
/** Operations in flight at once, as a busy API would have. */
const IN_FLIGHT = 32;

async function main(): Promise<void> {
  const w = await createTaskWorld({}, withOwner(await openPglite()));
  const fetchApp: typeof fetch = async (input, init) =>
    w.t.hono.request(input instanceof Request ? input : String(input), init);
  const token = (await mintOk(w, { resource: REPOS, scope: 'repo:read' })).access_token;
  const jwks = (await (await w.t.request('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  const localKeys = createLocalJWKSet(jwks);
  const now = () => w.t.clock.now().getTime();
  const request = {
    method: 'GET',
    url: 'https://repos.acme.example/repos',
    headers: { authorization: `Bearer ${token}` },
  };

  const live: Verifier = createVerifier({
    issuer: ISSUER,
    audience: REPOS,
    client: { clientId: w.acme.api.clientId, privateKey: w.acme.api.privateKey },
    fetch: fetchApp,
    now,
  });
  const listOnly: Verifier = createVerifier({
    issuer: ISSUER,
    audience: REPOS,
    events: false,
    fetch: fetchApp,
    now,
  });
  await Promise.all([live.ready(), listOnly.ready()]);
  // Warm both (JWKS, status list) so rounds measure the steady state.
  await live.verifyRequest(request);
  await listOnly.verifyRequest(request);

  const contenders: [string, () => Promise<unknown>][] = [
    [
      'raw jose jwtVerify (local JWKS, no revocation check)',
      () =>
        jwtVerify(token, localKeys, {
          issuer: ISSUER,
          audience: REPOS,
          typ: 'at+jwt',
          algorithms: ['EdDSA'],
          currentDate: new Date(now()),
        }),
    ],
    ['verifier SDK, events live (revocation sets)', () => live.verifyRequest(request)],
    ['verifier SDK, events off (cached status list)', () => listOnly.verifyRequest(request)],
  ];
  const results = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op] of contenders)
      results.get(name)?.push(await opsPerSecond(op, { ms: ROUND_MS, inFlight: IN_FLIGHT }));
  }
  const raw = median(results.get(contenders[0]![0]) ?? []);

  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}`);
  console.log(`rounds: ${ROUNDS} × ${ROUND_MS} ms, ${IN_FLIGHT} in flight; token EdDSA`);
  console.log('');
  console.log('| what | verifications/s (median) | of raw |');
  console.log('| --- | ---: | ---: |');
  for (const [name] of contenders) {
    const m = median(results.get(name) ?? []);
    console.log(`| ${name} | ${Math.round(m)} | ${((m / raw) * 100).toFixed(1)} % |`);
  }

  const signer = await w.t.deps.keys.signer();
  console.log('');
  console.log(
    '| status list, 2^20 entries | build + sign (median of 5) | statuslist+jwt size | VC bitstring credential size |',
  );
  console.log('| --- | ---: | ---: | ---: |');
  const size = 1 << 20;
  for (const fraction of [0, 0.001, 0.01, 0.1]) {
    const revoked = Array.from({ length: Math.round(size * fraction) }, () =>
      Math.floor(Math.random() * size),
    );
    const input = {
      issuer: ISSUER,
      list: {
        id: '00000000-0000-4000-8000-000000000001',
        tenantId: w.acme.tenantId,
        capacity: size,
      },
      revoked,
      now: w.t.clock.now(),
      ttl: 60,
    };
    const times: number[] = [];
    let jwt = '';
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      jwt = await signStatusListToken(signer, input);
      times.push(performance.now() - t0);
    }
    const vc = await signBitstringStatusListCredential(signer, input);
    console.log(
      `| ${(fraction * 100).toString()} % revoked (${revoked.length}) | ${median(times).toFixed(1)} ms | ${jwt.length} B | ${vc.length} B |`,
    );
  }
  // The parts, for where the time goes.
  const t0 = performance.now();
  const bits = packBits(size, []);
  const t1 = performance.now();
  await compress(bits, 'deflate');
  const t2 = performance.now();
  console.log('');
  console.log(
    `empty 2^20 list: pack ${(t1 - t0).toFixed(2)} ms, deflate ${(t2 - t1).toFixed(2)} ms`,
  );

  await Promise.all([live.close(), listOnly.close()]);
  await w.t.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
