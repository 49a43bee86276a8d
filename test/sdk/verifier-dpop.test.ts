/**
 * DPoP at the API (RFC 9449 §7.1): a token bound to a key (`cnf.jkt`, from a real
 * DPoP-bound CIBA redemption) passes only with the DPoP scheme and a fresh proof
 * by that key for this method, URL and token, used once. Each refusal below is
 * provoked by changing exactly one thing in an otherwise valid proof.
 */
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VerifierError, type Verifier, type VerifierRequest } from '../../src/sdk/verifier.ts';
import { REPOS } from '../delegation/world.ts';
import { createTaskWorld, type TaskWorld } from '../oauth/task-world.ts';
import {
  API_URL,
  bearer,
  boundToken,
  dpopKey,
  dpopProof,
  dpopRequest,
  resigned,
  verifierFor,
  type DpopKey,
} from './verifier-world.ts';

let w: TaskWorld;
let v: Verifier;
let key: DpopKey;
let token: string;
beforeEach(async () => {
  w = await createTaskWorld();
  ({ verifier: v } = verifierFor(w.t, { audience: REPOS }));
  key = await dpopKey();
  token = await boundToken(w, key);
});
afterEach(async () => {
  await v.close();
  await w.t.close();
});

async function refusal(req: VerifierRequest): Promise<VerifierError> {
  const err = await v.verifyRequest(req).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof VerifierError))
    throw new Error(`expected a VerifierError, got ${String(err)}`);
  return err;
}

const withProof = async (options: Parameters<typeof dpopProof>[2]) =>
  dpopRequest(w.t, key, token, options);

describe('verifier: DPoP-bound tokens', () => {
  it('accepts a bound token with a fresh proof by its key', async () => {
    const t = await v.verifyRequest(await dpopRequest(w.t, key, token));
    expect(t.scheme).toBe('DPoP');
    expect(t.claims.cnf?.jkt).toBe(key.jkt);
  });

  it('compares htu without the query string and fragment', async () => {
    const req = await withProof({ htu: `${API_URL}#frag` });
    await expect(v.verifyRequest({ ...req, url: `${API_URL}?page=2` })).resolves.toBeDefined();
  });

  it('refuses a bound token presented as a Bearer token', async () => {
    const err = await refusal(bearer(token, { dpop: await dpopProof(w.t, key, { token }) }));
    expect(err).toMatchObject({ code: 'ERR_DPOP_REQUIRED', error: 'invalid_token', status: 401 });
    expect(err.wwwAuthenticate).toMatch(/^DPoP error="invalid_token", .*algs="[^"]*ES256/);
  });

  it('refuses a bound token without a proof', async () => {
    const req = { ...bearer(''), headers: { authorization: `DPoP ${token}` } };
    expect(await refusal(req)).toMatchObject({
      code: 'ERR_DPOP_PROOF_MISSING',
      error: 'invalid_dpop_proof',
      status: 401,
    });
  });

  it('refuses a proof made with another key than the token is bound to', async () => {
    const other = await dpopKey();
    const err = await refusal(await dpopRequest(w.t, other, token));
    expect(err).toMatchObject({ code: 'ERR_DPOP_KEY_MISMATCH', error: 'invalid_dpop_proof' });
  });

  it('refuses a proof presented a second time', async () => {
    const req = await dpopRequest(w.t, key, token);
    await expect(v.verifyRequest(req)).resolves.toBeDefined();
    expect(await refusal(req)).toMatchObject({ code: 'ERR_DPOP_PROOF_REPLAYED' });
  });

  it('does not burn a proof on a request it refuses', async () => {
    const req = await dpopRequest(w.t, key, token);
    const elsewhere = { ...req, url: 'https://repos.acme.example/repos/43' };
    expect(await refusal(elsewhere)).toMatchObject({ code: 'ERR_DPOP_PROOF_INVALID' });
    await expect(v.verifyRequest(req)).resolves.toBeDefined();
  });

  it('refuses a proof for another method, URL or token', async () => {
    const cases: [string, Parameters<typeof dpopProof>[2]][] = [
      ['htm', { htm: 'POST' }],
      ['htu', { htu: 'https://repos.acme.example/repos/43' }],
      ['ath of another token', { claims: { ath: 'x'.repeat(43) } }],
      ['no ath', { claims: { ath: undefined } }],
      ['no jti', { claims: { jti: undefined } }],
    ];
    for (const [what, options] of cases) {
      const err = await refusal(await withProof(options));
      expect(err, what).toMatchObject({ code: 'ERR_DPOP_PROOF_INVALID', status: 401 });
    }
  });

  it('refuses a proof too old or from the future', async () => {
    const now = Math.floor(w.t.clock.now().getTime() / 1000);
    for (const iat of [now - 60 - 5 - 1, now + 5 + 2]) {
      const err = await refusal(await withProof({ claims: { iat } }));
      expect(err, String(iat - now)).toMatchObject({ code: 'ERR_DPOP_PROOF_INVALID' });
    }
    await expect(
      v.verifyRequest(await withProof({ claims: { iat: now - 60 } })),
    ).resolves.toBeDefined();
  });

  it('refuses proofs with the wrong type, a symmetric or unsigned algorithm, or a private jwk', async () => {
    const { privateKey: other } = await generateKeyPair('ES256', { extractable: true });
    const cases: [string, Parameters<typeof dpopProof>[2]][] = [
      ['typ JWT', { header: { typ: 'JWT' } }],
      ['private jwk', { header: { jwk: await exportJWK(key.privateKey) } }],
      ['signed by another key', { signWith: other }],
    ];
    for (const [what, options] of cases) {
      expect(await refusal(await withProof(options)), what).toMatchObject({
        code: 'ERR_DPOP_PROOF_INVALID',
      });
    }
    const proof = await dpopProof(w.t, key, { token });
    const [, body] = proof.split('.');
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${enc({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${body}.`;
    const hs = `${enc({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })}.${body}.c2ln`;
    for (const forged of [none, hs, `${proof}, ${proof}`]) {
      const req = { ...bearer(''), headers: { authorization: `DPoP ${token}`, dpop: forged } };
      expect(await refusal(req)).toMatchObject({ code: 'ERR_DPOP_PROOF_INVALID' });
    }
  });

  it('refuses a token bound by a confirmation method it cannot check', async () => {
    const x5t = await resigned(w.t, w.firstToken, { claims: { cnf: { 'x5t#S256': 'abc' } } });
    for (const authorization of [`Bearer ${x5t}`, `DPoP ${x5t}`]) {
      const req = {
        ...bearer(''),
        headers: { authorization, dpop: await dpopProof(w.t, key, { token: x5t }) },
      };
      expect(await refusal(req), authorization).toMatchObject({ code: 'ERR_TOKEN_CLAIM' });
    }
  });

  it('refuses the DPoP scheme with a token that is not bound to a key', async () => {
    const req = { ...bearer(''), headers: { authorization: `DPoP ${w.firstToken}` } };
    expect(await refusal(req)).toMatchObject({ code: 'ERR_DPOP_UNBOUND', error: 'invalid_token' });
  });
});
