/**
 * The verifier SDK against the real broker, in-process: verifiers whose fetch is
 * routed into the app (event streams included, which tests can cut to play a
 * network failure), requests carrying tokens the real token endpoint minted,
 * DPoP proofs, and forgeries signed with the broker's own key for the checks only
 * a broken or hostile broker could provoke.
 */
import { decodeJwt, SignJWT } from 'jose';
import { paths } from '../../src/oauth/metadata.ts';
import {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerifierRequest,
} from '../../src/sdk/verifier.ts';
import { ISSUER, type TestApp } from '../helpers/app.ts';
import { dpopProof as proofFor, type DpopKey } from '../oauth/dpop-world.ts';
import type { TestClient } from '../helpers/clients.ts';

export const API_URL = 'https://repos.acme.example/repos/42';

/** fetch into the in-process app; event-stream bodies can be cut to play a dropped connection. */
export function routedFetch(t: TestApp) {
  const open = new Map<ReadableStreamDefaultController<Uint8Array>, () => Promise<void>>();
  let connects = 0;
  const lastEventIds: (string | null)[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const res = await t.hono.request(request);
    if (!request.url.startsWith(`${ISSUER}${paths.revocationEvents}`) || !res.body) return res;
    connects += 1;
    lastEventIds.push(request.headers.get('last-event-id'));
    const reader = res.body.getReader();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        open.set(c, () => reader.cancel());
      },
      pull: async (c) => {
        const { done, value } = await reader.read();
        if (done) {
          open.delete(c);
          c.close();
        } else c.enqueue(value);
      },
      cancel: async (reason) => {
        open.delete(controller);
        await reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  return {
    fetch: fetchFn,
    /** Connections the verifiers made to the event stream so far. */
    connects: () => connects,
    lastEventIds,
    /** Breaks every open event stream as a failed network would. */
    cut: () => {
      for (const [c, cancelServer] of open) {
        c.error(new TypeError('network connection lost'));
        void cancelServer();
      }
      open.clear();
    },
  };
}

export interface TestVerifier {
  verifier: Verifier;
  errors: unknown[];
}

/** A verifier for `api`, on the app's clock, its fetch routed into the app. */
export function verifierFor(
  t: TestApp,
  api: { audience: string; client?: TestClient | undefined },
  options: Partial<VerifierOptions> & { fetch?: typeof fetch } = {},
): TestVerifier {
  const errors: unknown[] = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: api.audience,
    ...(api.client
      ? { client: { clientId: api.client.clientId, privateKey: api.client.privateKey } }
      : {}),
    fetch: routedFetch(t).fetch,
    now: () => t.clock.now().getTime(),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { verifier, errors };
}

export function bearer(token: string, extra: Record<string, string> = {}): VerifierRequest {
  return { method: 'GET', url: API_URL, headers: { authorization: `Bearer ${token}`, ...extra } };
}

/** Polls `check` until it holds; resolves to the milliseconds it took. */
export async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > ms) throw new Error(`still not true after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves true when verification is refused with `code`, false when it passes. */
export async function refusedWith(v: Verifier, req: VerifierRequest, code: string) {
  try {
    await v.verifyRequest(req);
    return false;
  } catch (err) {
    if ((err as { code?: string }).code === code) return true;
    throw err;
  }
}

export { ath, boundToken, dpopKey, type DpopKey } from '../oauth/dpop-world.ts';

/** A DPoP proof for a GET of the API (API_URL) unless told otherwise. */
export const dpopProof = (t: TestApp, key: DpopKey, p: Parameters<typeof proofFor>[2] = {}) =>
  proofFor(t, key, { htm: 'GET', htu: API_URL, ...p });

/** A request presenting a bound token with the DPoP scheme and a proof for it. */
export async function dpopRequest(
  t: TestApp,
  key: DpopKey,
  token: string,
  proofOptions: Parameters<typeof dpopProof>[2] = {},
): Promise<VerifierRequest> {
  const proof = await dpopProof(t, key, { token, ...proofOptions });
  return { method: 'GET', url: API_URL, headers: { authorization: `DPoP ${token}`, dpop: proof } };
}

/** Claims as the broker would sign them, re-signed with its own current key after `change`. */
export async function resigned(
  t: TestApp,
  token: string,
  change: { claims?: Record<string, unknown>; header?: Record<string, unknown> },
): Promise<string> {
  const signer = await t.deps.keys.signer();
  const claims = { ...decodeJwt(token), ...change.claims };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt', ...change.header })
    .sign(signer.key);
}
