/**
 * The verifier SDK against the real broker, in-process: verifiers whose fetch is
 * routed into the app (event streams included, which tests can cut to play a
 * network failure), requests carrying tokens the real token endpoint minted,
 * DPoP proofs, and forgeries signed with the broker's own key for the checks only
 * a broken or hostile broker could provoke.
 */
import {
  base64url,
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { epochSeconds } from '../../src/clock.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { paths } from '../../src/oauth/metadata.ts';
import { randomToken } from '../../src/random.ts';
import {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerifierRequest,
} from '../../src/sdk/verifier.ts';
import { ISSUER, type TestApp } from '../helpers/app.ts';
import { clientAssertion, type TestClient } from '../helpers/clients.ts';
import { approve, CIBA, startRequest, TOKEN, type World } from '../delegation/world.ts';

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

export interface DpopKey {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

export const ath = async (token: string) =>
  base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))),
  );

/** A DPoP proof (RFC 9449 §4.2), correct unless `claims` / `header` say otherwise. */
export async function dpopProof(
  t: TestApp,
  key: DpopKey,
  p: {
    htm?: string;
    htu?: string;
    token?: string;
    claims?: Record<string, unknown>;
    header?: Record<string, unknown>;
    signWith?: CryptoKey;
  } = {},
): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomToken(16),
    htm: p.htm ?? 'GET',
    htu: p.htu ?? API_URL,
    iat: epochSeconds(t.clock),
    ...(p.token === undefined ? {} : { ath: await ath(p.token) }),
    ...p.claims,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const header = { alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...p.header };
  return new SignJWT(claims).setProtectedHeader(header).sign(p.signWith ?? key.privateKey);
}

/** Redeems a fresh grant with a DPoP proof: its first token is bound to `key` (cnf.jkt). */
export async function boundToken(w: World, key: DpopKey): Promise<string> {
  const r = await startRequest(w);
  await approve(w, r.requestId);
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() }),
    grant_type: CIBA,
    auth_req_id: r.auth_req_id,
  });
  const proof = await dpopProof(w.t, key, { htm: 'POST', htu: `${ISSUER}${TOKEN}` });
  const res = await w.t.request(TOKEN, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: body.toString(),
  });
  if (res.status !== 200) throw new Error(`DPoP redemption failed: ${await res.text()}`);
  const { access_token } = (await res.json()) as { access_token: string };
  if ((decodeJwt(access_token).cnf as { jkt?: string } | undefined)?.jkt !== key.jkt) {
    throw new Error('the redeemed token is not bound to the proof key');
  }
  return access_token;
}

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
