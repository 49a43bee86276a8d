/**
 * DPoP (RFC 9449) at the real token endpoint: a valid proof on the CIBA poll that
 * redeems binds the grant and its first token to the proof's key; every malformed,
 * misdirected, stale, replayed or wrongly keyed proof is refused with
 * invalid_dpop_proof before anything is redeemed; server nonces (§8) when required.
 */
import { eq } from 'drizzle-orm';
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
} from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/clock.ts';
import { cibaRequests, dpopProofJtis, grants, issuedTokens } from '../../src/db/schema.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { pruneDpopProofJtis } from '../../src/oauth/dpop.ts';
import { randomToken } from '../../src/random.ts';
import { ISSUER } from '../helpers/app.ts';
import { clientAssertion } from '../helpers/clients.ts';
import {
  approve,
  CIBA,
  createWorld,
  REPOS,
  startRequest,
  TOKEN,
  type World,
} from '../delegation/world.ts';
import { expectOAuthError, verifyAccessToken } from './task-world.ts';

const ENDPOINT = `${ISSUER}${TOKEN}`;
const MAX_AGE = 120; // MANDATE_DPOP_PROOF_MAX_AGE's default
const SKEW = 30; // MANDATE_CLOCK_SKEW's default

interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

interface ProofOptions {
  /** Header members to set; undefined removes one. */
  header?: Record<string, unknown>;
  /** Claims to set; undefined removes one. */
  claims?: Record<string, unknown>;
  /** Sign with this key instead of the one in the jwk header. */
  signWith?: CryptoKey | Uint8Array;
}

const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

let w: World;
let key: ProofKey;

/** A DPoP proof for POST to the token endpoint, correct unless options say otherwise. */
async function proof(k: ProofKey = key, o: ProofOptions = {}): Promise<string> {
  const claims = defined({
    jti: randomToken(16),
    htm: 'POST',
    htu: ENDPOINT,
    iat: epochSeconds(w.t.clock),
    ...o.claims,
  });
  const header = defined({ alg: k.alg, typ: 'dpop+jwt', jwk: k.jwk, ...o.header });
  return new SignJWT(claims)
    .setProtectedHeader(header as JWTHeaderParameters)
    .sign(o.signWith ?? k.privateKey);
}

/** A token request by Ada's agent with its client assertion and the given DPoP headers. */
async function tokenRequest(
  params: Record<string, string>,
  dpop: string | string[] | undefined,
): Promise<Response> {
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() }),
    ...params,
  });
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
  for (const one of [dpop ?? []].flat()) headers.append('DPoP', one);
  return w.t.request(TOKEN, { method: 'POST', headers, body: body.toString() });
}

const pollWith = (authReqId: string, dpop: string | string[] | undefined) =>
  tokenRequest({ grant_type: CIBA, auth_req_id: authReqId }, dpop);

/** An approved request, ready to be redeemed. */
async function approved() {
  const r = await startRequest(w);
  const { grantId } = await approve(w, r.requestId);
  return { ...r, grantId };
}

async function stateOf(requestId: string, grantId: string) {
  const db = w.t.owner;
  const [request] = await db.select().from(cibaRequests).where(eq(cibaRequests.id, requestId));
  const [grant] = await db.select().from(grants).where(eq(grants.id, grantId));
  const tokens = await db.select().from(issuedTokens).where(eq(issuedTokens.grantId, grantId));
  return {
    redeemedAt: request?.redeemedAt,
    handleHash: grant?.handleHash,
    dpopJkt: grant?.dpopJkt,
    tokens: tokens.length,
  };
}

interface CibaBody {
  access_token: string;
  token_type: string;
  refresh_token: string;
}

describe('DPoP proofs at the token endpoint', () => {
  beforeEach(async () => {
    w = await createWorld();
    key = await proofKey();
  });
  afterEach(async () => w.t.close());

  it('binds the CIBA redemption to the proof key: cnf.jkt, token_type DPoP, grant and token rows', async () => {
    const r = await approved();
    const res = await pollWith(r.auth_req_id, await proof());
    expect(res.status).toBe(200);
    expect(res.headers.get('DPoP-Nonce')).toBeNull();
    const body = (await res.json()) as CibaBody;
    expect(body.token_type).toBe('DPoP');
    const { payload } = await verifyAccessToken(w, body.access_token);
    expect(payload.cnf).toEqual({ jkt: key.jkt });
    const state = await stateOf(r.requestId, r.grantId);
    expect(state.dpopJkt).toBe(key.jkt);
    const [row] = await w.t.owner
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, payload.jti ?? ''));
    expect(row?.dpopJkt).toBe(key.jkt);
  });

  it('then mints task tokens from the handle only with a proof by the same key', async () => {
    const r = await approved();
    const { refresh_token } = (await (
      await pollWith(r.auth_req_id, await proof())
    ).json()) as CibaBody;
    const mint = {
      grant_type: 'refresh_token',
      refresh_token,
      resource: REPOS,
      scope: 'repo:read',
    };
    await expectOAuthError(await tokenRequest(mint, undefined), 'invalid_grant');
    await expectOAuthError(
      await tokenRequest(mint, await proof(await proofKey())),
      'invalid_grant',
    );
    const res = await tokenRequest(mint, await proof());
    expect(res.status).toBe(200);
    const body = (await res.json()) as CibaBody;
    expect(body.token_type).toBe('DPoP');
    expect((await verifyAccessToken(w, body.access_token)).payload.cnf).toEqual({ jkt: key.jkt });
  });

  it('accepts EdDSA, ES384, PS256 and RS256 keys, and an htu with a query and fragment', async () => {
    for (const alg of ['EdDSA', 'ES384', 'PS256', 'RS256']) {
      const k = await proofKey(alg);
      const r = await approved();
      const res = await pollWith(
        r.auth_req_id,
        await proof(k, { claims: { htu: `${ENDPOINT}?a=1#f` } }),
      );
      expect(res.status, alg).toBe(200);
      expect((await stateOf(r.requestId, r.grantId)).dpopJkt, alg).toBe(k.jkt);
    }
  });

  it('verifies proofs on polls before approval without binding anything', async () => {
    const r = await startRequest(w);
    await expectOAuthError(await pollWith(r.auth_req_id, await proof()), 'authorization_pending');
    // A bad proof is refused even while the person has not decided.
    w.t.clock.advance(5);
    const bad = await proof(key, { claims: { htm: 'GET' } });
    await expectOAuthError(await pollWith(r.auth_req_id, bad), 'invalid_dpop_proof');
    const { grantId } = await approve(w, r.requestId);
    w.t.clock.advance(5);
    const res = await pollWith(r.auth_req_id, undefined);
    expect(((await res.json()) as CibaBody).token_type).toBe('Bearer');
    expect((await stateOf(r.requestId, grantId)).dpopJkt).toBeNull();
  });

  describe('refuses, without redeeming or binding anything,', () => {
    const refusals: [string, () => Promise<string | string[]>, string][] = [
      ['the wrong htm', () => proof(key, { claims: { htm: 'GET' } }), 'htm is GET'],
      [
        'an htu for another path',
        () => proof(key, { claims: { htu: `${ISSUER}/oauth/introspect` } }),
        'htu',
      ],
      [
        'an htu for another host',
        () => proof(key, { claims: { htu: 'https://evil.example/oauth/token' } }),
        'htu',
      ],
      ['an htu that is no URL', () => proof(key, { claims: { htu: 'token' } }), 'htu'],
      [
        'an iat older than the max age and skew',
        () => proof(key, { claims: { iat: epochSeconds(w.t.clock) - MAX_AGE - SKEW - 1 } }),
        'too old',
      ],
      [
        'an iat in the future beyond the skew',
        () => proof(key, { claims: { iat: epochSeconds(w.t.clock) + SKEW + 1 } }),
        'in the future',
      ],
      ['a missing jti', () => proof(key, { claims: { jti: undefined } }), 'lacks the jti'],
      ['a jti over 256 characters', () => proof(key, { claims: { jti: 'x'.repeat(257) } }), 'jti'],
      ['a missing typ', () => proof(key, { header: { typ: undefined } }), 'expected dpop+jwt'],
      ['a wrong typ', () => proof(key, { header: { typ: 'JWT' } }), 'expected dpop+jwt'],
      [
        'alg none',
        () => Promise.resolve(unsigned({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })),
        'alg none',
      ],
      [
        'HS256 with a symmetric jwk',
        async () => {
          const secret = crypto.getRandomValues(new Uint8Array(32));
          const jwk = { kty: 'oct', k: base64url.encode(secret) };
          return proof(key, { header: { alg: 'HS256', jwk }, signWith: secret });
        },
        'alg HS256',
      ],
      [
        'a symmetric jwk under an asymmetric alg',
        () => proof(key, { header: { jwk: { kty: 'oct', k: 'AAAA' } } }),
        'public asymmetric',
      ],
      [
        'a private key in the jwk header',
        async () => proof(key, { header: { jwk: await exportJWK(key.privateKey) } }),
        'public asymmetric',
      ],
      ['no jwk header', () => proof(key, { header: { jwk: undefined } }), 'jwk'],
      [
        'a signature by another key than the jwk',
        async () => proof(key, { signWith: (await proofKey()).privateKey }),
        'signature',
      ],
      ['two DPoP headers', async () => [await proof(), await proof()], 'exactly one'],
      [
        'an ath claim',
        () => proof(key, { claims: { ath: 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo' } }),
        'ath',
      ],
      ['a header that is no JWT', () => Promise.resolve('not-a-jwt'), 'compact'],
    ];
    for (const [what, make, words] of refusals) {
      it(what, async () => {
        const r = await approved();
        const body = await expectOAuthError(
          await pollWith(r.auth_req_id, await make()),
          'invalid_dpop_proof',
        );
        expect(body.error_description).toContain(words);
        expect(await stateOf(r.requestId, r.grantId)).toEqual({
          redeemedAt: null,
          handleHash: null,
          dpopJkt: null,
          tokens: 0,
        });
        // The same poll with a good proof still redeems: the refusal changed nothing.
        expect((await pollWith(r.auth_req_id, await proof())).status).toBe(200);
      });
    }
  });

  it('refuses a replayed proof jti, but not the same jti from another key', async () => {
    const r = await approved();
    const first = await proof();
    await expectOAuthError(
      await tokenRequest({ grant_type: CIBA, auth_req_id: 'unknown' }, first),
      'invalid_grant',
    );
    const body = await expectOAuthError(await pollWith(r.auth_req_id, first), 'invalid_dpop_proof');
    expect(body.error_description).toContain('used before');
    const jti = randomToken(8);
    await expectOAuthError(
      await tokenRequest(
        { grant_type: CIBA, auth_req_id: 'unknown' },
        await proof(key, { claims: { jti } }),
      ),
      'invalid_grant',
    );
    const other = await proofKey();
    expect((await pollWith(r.auth_req_id, await proof(other, { claims: { jti } }))).status).toBe(
      200,
    );
  });

  it('forgets proof jtis once they are too old to be replayed', async () => {
    const p = await proof();
    await tokenRequest({ grant_type: CIBA, auth_req_id: 'unknown' }, p);
    const db = w.t.owner;
    await pruneDpopProofJtis(db, w.t.clock.now());
    expect(await db.select().from(dpopProofJtis)).toHaveLength(1);
    w.t.clock.advance(MAX_AGE + SKEW + 1);
    await pruneDpopProofJtis(db, w.t.clock.now());
    expect(await db.select().from(dpopProofJtis)).toHaveLength(0);
  });
});

/** A JWT with an empty-key "signature", for algorithms jose refuses to sign with. */
function unsigned(header: Record<string, unknown>): string {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
  const claims = { jti: randomToken(16), htm: 'POST', htu: ENDPOINT, iat: epochSeconds(w.t.clock) };
  return `${enc(header)}.${enc(claims)}.${base64url.encode('x')}`;
}

describe('DPoP server nonces (MANDATE_DPOP_REQUIRE_NONCE=true)', () => {
  beforeEach(async () => {
    w = await createWorld({ MANDATE_DPOP_REQUIRE_NONCE: 'true' });
    key = await proofKey();
  });
  afterEach(async () => w.t.close());

  async function nonceFor(r: { auth_req_id: string }): Promise<string> {
    const res = await pollWith(r.auth_req_id, await proof());
    await expectOAuthError(res, 'use_dpop_nonce');
    const nonce = res.headers.get('DPoP-Nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return nonce ?? '';
  }

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce to retry with', async () => {
    const r = await approved();
    const nonce = await nonceFor(r);
    expect(await stateOf(r.requestId, r.grantId)).toMatchObject({ redeemedAt: null, tokens: 0 });
    const res = await pollWith(r.auth_req_id, await proof(key, { claims: { nonce } }));
    expect(res.status).toBe(200);
    // A fresh nonce rides on the token response too (§8.2).
    expect(res.headers.get('DPoP-Nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(((await res.json()) as CibaBody).token_type).toBe('DPoP');
    expect((await stateOf(r.requestId, r.grantId)).dpopJkt).toBe(key.jkt);
  });

  it('answers a nonce it never issued with use_dpop_nonce', async () => {
    const r = await approved();
    for (const nonce of ['made-up', 'A'.repeat(43)]) {
      const res = await pollWith(r.auth_req_id, await proof(key, { claims: { nonce } }));
      const body = await expectOAuthError(res, 'use_dpop_nonce');
      expect(body.error_description).toContain('stale or unknown');
      expect(res.headers.get('DPoP-Nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(await stateOf(r.requestId, r.grantId)).toMatchObject({
      redeemedAt: null,
      dpopJkt: null,
    });
  });

  it('accepts a nonce into the next window and refuses it once stale', async () => {
    const r = await approved();
    const nonce = await nonceFor(r);
    w.t.clock.advance(MAX_AGE);
    const stillGood = await pollWith('unknown', await proof(key, { claims: { nonce } }));
    await expectOAuthError(stillGood, 'invalid_grant');
    w.t.clock.advance(MAX_AGE + 1);
    const stale = await pollWith(r.auth_req_id, await proof(key, { claims: { nonce } }));
    await expectOAuthError(stale, 'use_dpop_nonce');
    const fresh = stale.headers.get('DPoP-Nonce') ?? '';
    expect(fresh).not.toBe(nonce);
    expect(
      (await pollWith(r.auth_req_id, await proof(key, { claims: { nonce: fresh } }))).status,
    ).toBe(200);
  });

  it('still refuses a bad proof as invalid_dpop_proof, with a nonce to go on with', async () => {
    const r = await approved();
    const res = await pollWith(r.auth_req_id, await proof(key, { claims: { htm: 'PUT' } }));
    await expectOAuthError(res, 'invalid_dpop_proof');
    expect(res.headers.get('DPoP-Nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('lets a client without DPoP poll as before (Bearer), learning the nonce on the way', async () => {
    const r = await approved();
    const res = await pollWith(r.auth_req_id, undefined);
    expect(res.status).toBe(200);
    expect(res.headers.get('DPoP-Nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(((await res.json()) as CibaBody).token_type).toBe('Bearer');
  });
});
