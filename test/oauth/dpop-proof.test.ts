/**
 * DPoP (RFC 9449) at the token endpoint, as an attacker probes it. A good proof
 * binds the CIBA redemption to its key; every bad proof is refused with
 * `invalid_dpop_proof` and binds or redeems nothing; a bound grant handle is
 * useless with another key or none.
 */
import { eq } from 'drizzle-orm';
import {
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, grants } from '../../src/db/schema.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
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

const HTU = `${ISSUER}${TOKEN}`;

let w: World;
let key: { privateKey: CryptoKey; jwk: JWK };

beforeEach(async () => {
  w = await createWorld();
  const pair = await generateKeyPair('ES256', { extractable: true });
  key = { privateKey: pair.privateKey, jwk: await exportJWK(pair.publicKey) };
});
afterEach(async () => w.t.close());

interface ProofOptions {
  htm?: string;
  htu?: string;
  iatOffset?: number;
  jti?: string;
  typ?: string;
  jwk?: JWK;
  signWith?: CryptoKey;
  ath?: string;
}

async function proof(o: ProofOptions = {}): Promise<string> {
  const now = Math.floor(w.t.clock.now().getTime() / 1000) + (o.iatOffset ?? 0);
  return new SignJWT({
    htm: o.htm ?? 'POST',
    htu: o.htu ?? HTU,
    jti: o.jti ?? crypto.randomUUID(),
    ...(o.ath ? { ath: o.ath } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: o.typ ?? 'dpop+jwt', jwk: o.jwk ?? key.jwk })
    .setIssuedAt(now)
    .sign(o.signWith ?? key.privateKey);
}

async function tokenRequest(params: Record<string, string>, dpop?: string | string[]) {
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(w.acme.agent, ISSUER, { now: w.t.clock.now() }),
    ...params,
  });
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
  for (const p of dpop === undefined ? [] : Array.isArray(dpop) ? dpop : [dpop]) {
    headers.append('dpop', p);
  }
  return w.t.request(TOKEN, { method: 'POST', headers, body: body.toString() });
}

async function approvedRequest() {
  const r = await startRequest(w);
  await approve(w, r.requestId);
  return r;
}

describe('DPoP at the token endpoint', () => {
  it('binds the CIBA redemption, its first token and the grant to the proof key', async () => {
    const r = await approvedRequest();
    const res = await tokenRequest({ grant_type: CIBA, auth_req_id: r.auth_req_id }, await proof());
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      token_type: string;
      access_token: string;
      refresh_token: string;
    };
    const jkt = await calculateJwkThumbprint(key.jwk);
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt });
    const [grant] = await w.t.owner.select().from(grants);
    expect(grant?.dpopJkt).toBe(jkt);

    // The bound handle: refused without a proof and with another key's proof, fine with its own.
    const mint = (dpop?: string) =>
      tokenRequest(
        { grant_type: 'refresh_token', refresh_token: body.refresh_token, resource: REPOS },
        dpop,
      );
    expect(((await (await mint()).json()) as { error: string }).error).toBe('invalid_grant');
    const other = await generateKeyPair('ES256', { extractable: true });
    const foreign = await proof({
      jwk: await exportJWK(other.publicKey),
      signWith: other.privateKey,
    });
    expect(((await (await mint(foreign)).json()) as { error: string }).error).toBe('invalid_grant');
    const ok = await mint(await proof());
    expect(ok.status).toBe(200);
    expect(decodeJwt(((await ok.json()) as { access_token: string }).access_token).cnf).toEqual({
      jkt,
    });
  });

  it('refuses every bad proof with invalid_dpop_proof, redeeming and binding nothing', async () => {
    const r = await approvedRequest();
    const other = await generateKeyPair('ES256', { extractable: true });
    const replayed = await proof({ jti: 'same-jti' });
    // A first, good use of the jti by a refused request would not count: use it in a valid poll
    // of another request first, so that the replay below is a real second use.
    const spare = await approvedRequest();
    expect(
      (await tokenRequest({ grant_type: CIBA, auth_req_id: spare.auth_req_id }, replayed)).status,
    ).toBe(200);

    const { privateKey: ecPrivate } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(ecPrivate);
    const cases: [string, string | string[]][] = [
      ['wrong htm', await proof({ htm: 'GET' })],
      ['wrong htu path', await proof({ htu: `${ISSUER}/oauth/introspect` })],
      ['wrong htu host', await proof({ htu: 'https://evil.example/oauth/token' })],
      ['iat too old', await proof({ iatOffset: -(w.t.deps.config.dpopProofMaxAge + 60) })],
      ['iat in the future', await proof({ iatOffset: 600 })],
      ['replayed jti', replayed],
      ['wrong typ', await proof({ typ: 'JWT' })],
      ['private key in jwk', await proof({ jwk: privateJwk })],
      ['signed by another key', await proof({ signWith: other.privateKey })],
      ['ath at the token endpoint', await proof({ ath: 'x'.repeat(43) })],
      ['two proofs', [await proof(), await proof()]],
      ['not a JWT', 'not-a-jwt'],
      [
        'alg none',
        `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ htm: 'POST', htu: HTU, jti: 'n', iat: Math.floor(Date.now() / 1000) })).toString('base64url')}.`,
      ],
    ];
    for (const [what, dpop] of cases) {
      const res = await tokenRequest({ grant_type: CIBA, auth_req_id: r.auth_req_id }, dpop);
      const body = (await res.json()) as { error: string };
      expect({ what, status: res.status, error: body.error }).toEqual({
        what,
        status: 400,
        error: 'invalid_dpop_proof',
      });
    }
    const [request] = await w.t.owner
      .select()
      .from(cibaRequests)
      .where(eq(cibaRequests.id, r.requestId));
    expect(request?.redeemedAt).toBeNull();
  });
});
