/**
 * Property-based requests (fast-check) to every endpoint of the broker, in a world
 * where they can get far: real assertions of registered agents and APIs, a real grant
 * handle and access token, a person's session and CSRF token, a pending request, an
 * invite. Whatever is sent, the answer is never a 5xx and always well-formed
 * (fuzz/well-formed.ts). The run is bounded and reproducible: a fixed seed per
 * property (FUZZ_SEED moves them all), at least MIN_REQUESTS requests, counted.
 *
 * One world for the whole file, unlike most tests: the fuzz's requests are meant to
 * pile up on one another's leftovers, as an attacker's would.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFor, type Plan } from './fuzz/plans.ts';
import { createSigners, requestFor, type Signers } from './fuzz/requests.ts';
import {
  ALL_TARGETS,
  FORM_TARGETS,
  OAUTH_TARGETS,
  PAGE_TARGETS,
  PUBLIC_TARGETS,
  type Target,
} from './fuzz/targets.ts';
import { problemsWith, readBody, summarise } from './fuzz/well-formed.ts';
import { createFuzzWorld, type FuzzWorld } from './fuzz/world.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);
const MIN_REQUESTS = 1000;

let w: FuzzWorld;
let signers: Signers;
let sent = 0;
const answers = new Map<string, number>();

beforeAll(async () => {
  [w, signers] = await Promise.all([createFuzzWorld(), createSigners()]);
});
afterAll(async () => {
  if (process.env.FUZZ_STATS) {
    console.log(
      [...answers]
        .sort()
        .map(([k, n]) => `${n}\t${k}`)
        .join('\n'),
    );
  }
  await w.t.close();
});

async function send(plan: Plan): Promise<void> {
  const { path, init } = await requestFor(plan, w, signers);
  const res = await w.t.request(path, init);
  sent += 1;
  const answer = {
    method: init.method ?? 'GET',
    url: res.url || `http://localhost:8787${path}`,
    status: res.status,
    headers: res.headers,
    body: await readBody(res),
  };
  // What came back, by target: FUZZ_STATS=1 prints it, to see how far requests get.
  const error =
    /"error":"([a-z_]+)"(,"error_description":".{0,60})?/.exec(answer.body)?.slice(1).join(' ') ??
    '';
  const key = `${plan.target} → ${answer.status} ${error}`;
  answers.set(key, (answers.get(key) ?? 0) + 1);
  const problems = problemsWith(answer);
  if (problems.length > 0) throw new Error(summarise(answer, problems));
}

/** One property over `targets`; a failure names the seed that replays it. */
function fuzz(
  name: string,
  targets: Target[],
  numRuns: number,
  offset: number,
  strays: 'rare' | 'often' = 'rare',
): void {
  it(`${name}: never a 5xx, always a well-formed answer (${numRuns} requests)`, async () => {
    const seed = SEED + offset;
    try {
      await fc.assert(fc.asyncProperty(planFor(targets, strays), send), { numRuns, seed });
    } catch (err) {
      // fast-check's message carries the seed and path of the failing run; say how to replay it.
      throw new Error(`FUZZ_SEED=${SEED} (this property's seed ${seed})\n${String(err)}`, {
        cause: err,
      });
    }
  }, 120_000);
}

describe('fuzzing every endpoint', () => {
  fuzz(
    'agent and API endpoints: token, CIBA, introspection, revocation, overrun, events',
    OAUTH_TARGETS,
    1200,
    1,
  );
  fuzz('metadata, JWKS, did.json, health, status lists and assets', PUBLIC_TARGETS, 150, 2);
  fuzz('pages and the passkey and approval endpoints', PAGE_TARGETS, 350, 3);
  fuzz('any endpoint with any method and path', ALL_TARGETS, 150, 4, 'often');
  // Last: a valid one signs Bob out, denies his request or revokes his grant.
  fuzz('deny, revoke and sign-out forms', FORM_TARGETS, 100, 5);

  it(`made at least ${MIN_REQUESTS} requests`, () => {
    expect(sent).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
