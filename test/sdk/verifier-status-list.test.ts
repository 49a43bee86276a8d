/**
 * The status-list fallback (draft-ietf-oauth-status-list): lists only from under
 * the issuer's /status/, verified as the broker's own statuslist+jwt about that
 * very list, fetched once per ttl, and a failed refresh served from the copy in
 * hand only until its exp.
 */
import { decodeJwt, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import type { Verifier } from '../../src/sdk/verifier.ts';
import { ISSUER } from '../helpers/app.ts';
import { REPOS } from '../delegation/world.ts';
import { createTaskWorld, type TaskWorld } from '../oauth/task-world.ts';
import { bearer, resigned, routedFetch, verifierFor } from './verifier-world.ts';

const TTL = 20;
/** 1024 valid entries, ZLIB-compressed, base64url. */
const EMPTY_LIST = deflateSync(Buffer.alloc(128)).toString('base64url');
let w: TaskWorld;
let v: Verifier;
let requested: string[];
/** What the "network" does with status-list requests. */
let lists: 'pass' | 'fail';

beforeEach(async () => {
  w = await createTaskWorld({ MANDATE_STATUS_LIST_TTL: String(TTL) });
  requested = [];
  lists = 'pass';
  const net = routedFetch(w.t);
  const fetchFn: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    requested.push(url);
    if (!url.includes('/status/')) return net.fetch(input, init);
    if (lists === 'fail') throw new TypeError('network down');
    return net.fetch(input, init);
  };
  ({ verifier: v } = verifierFor(w.t, { audience: REPOS }, { fetch: fetchFn }));
});
afterEach(async () => {
  await v.close();
  await w.t.close();
});

const statusUri = (token: string) =>
  (decodeJwt(token).status as { status_list: { uri: string } }).status_list.uri;
const listFetches = () => requested.filter((u) => u.includes('/status/')).length;
const codeOf = (token: string) =>
  v.verifyRequest(bearer(token)).then(
    () => 'accepted',
    (e: { code?: string }) => e.code,
  );

describe('verifier: status lists', () => {
  it('refuses a broker-signed token whose status list lies outside the issuer, without fetching it', async () => {
    const elsewhere = [
      'https://evil.example/status/00000000-0000-4000-8000-000000000001',
      `${ISSUER}/statusx/00000000-0000-4000-8000-000000000001`,
      `${ISSUER}/status/../oauth/token`,
      `${ISSUER}.evil.example/status/1`,
      `${ISSUER}/status/1?redirect=https://evil.example`,
    ];
    for (const uri of elsewhere) {
      const forged = await resigned(w.t, w.firstToken, {
        claims: { status: { status_list: { idx: 0, uri } } },
      });
      expect(await codeOf(forged), uri).toBe('ERR_STATUS_LIST_URI');
    }
    const noStatus = await resigned(w.t, w.firstToken, { claims: { status: undefined } });
    expect(await codeOf(noStatus)).toBe('ERR_STATUS_UNAVAILABLE');
    expect(listFetches()).toBe(0);
  });

  it('fetches a list once per ttl, however many requests wait for it', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => codeOf(w.firstToken)));
    expect(new Set(results)).toEqual(new Set(['accepted']));
    expect(listFetches()).toBe(1);
    w.t.clock.advance(TTL - 1);
    expect(await codeOf(w.firstToken)).toBe('accepted');
    expect(listFetches()).toBe(1);
    w.t.clock.advance(2);
    expect(await codeOf(w.firstToken)).toBe('accepted');
    expect(listFetches()).toBe(2);
  });

  it('serves the copy in hand when a refresh fails, until the list’s exp and not after', async () => {
    expect(await codeOf(w.firstToken)).toBe('accepted');
    lists = 'fail';
    // The broker signs lists with exp = iat + 2 ttl.
    w.t.clock.advance(TTL + 1);
    expect(await codeOf(w.firstToken)).toBe('accepted');
    w.t.clock.advance(TTL + 5);
    expect(await codeOf(w.firstToken)).toBe('ERR_STATUS_UNAVAILABLE');
  });

  it('refuses when the only list at hand is not the broker’s list for that URI', async () => {
    const signer = await w.t.deps.keys.signer();
    const uri = statusUri(w.firstToken);
    const forge = (claims: Record<string, unknown>, typ = 'statuslist+jwt') =>
      new SignJWT({ status_list: { bits: 1, lst: EMPTY_LIST }, ttl: TTL, ...claims })
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ })
        .setIssuedAt(Math.floor(w.t.clock.now().getTime() / 1000))
        .sign(signer.key);
    // The forgery machinery is sound: the same list with the right claims passes.
    const faithful = verifierFor(
      w.t,
      { audience: REPOS },
      { fetch: wrapped(await forge({ iss: ISSUER, sub: uri })) },
    );
    await expect(faithful.verifier.verifyRequest(bearer(w.firstToken))).resolves.toBeDefined();
    await faithful.verifier.close();
    const cases = [
      await forge({ iss: ISSUER, sub: `${ISSUER}/status/another-list` }),
      await forge({ iss: ISSUER, sub: uri }, 'at+jwt'),
      await forge({ iss: 'https://evil.example', sub: uri }),
    ];
    for (const jwt of cases) {
      const fresh = verifierFor(w.t, { audience: REPOS }, { fetch: wrapped(jwt) }).verifier;
      await expect(fresh.verifyRequest(bearer(w.firstToken))).rejects.toMatchObject({
        code: 'ERR_STATUS_UNAVAILABLE',
      });
      await fresh.close();
    }
  });
});

/** A fetch into the app whose status lists all answer `jwt`. */
function wrapped(jwt: string): typeof fetch {
  const net = routedFetch(w.t);
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    return url.includes('/status/')
      ? Promise.resolve(new Response(jwt, { status: 200 }))
      : net.fetch(input, init);
  };
}
