/**
 * DPoP (RFC 9449) for tests, as a client does it: a proof key, proofs that are correct
 * unless told otherwise, and a grant redeemed with a proof, whose first token is bound.
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
import { randomToken } from '../../src/random.ts';
import { ISSUER, type TestApp } from '../helpers/app.ts';
import { clientAssertion } from '../helpers/clients.ts';
import { approve, CIBA, startRequest, TOKEN, type World } from '../delegation/world.ts';

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

/** A DPoP proof (RFC 9449 §4.2), for POST to the token endpoint unless told otherwise. */
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
    htm: p.htm ?? 'POST',
    htu: p.htu ?? `${ISSUER}${TOKEN}`,
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
  const proof = await dpopProof(w.t, key);
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
