/**
 * DPoP (RFC 9449) under attack at the per-task mint and the token exchange: the grant
 * handle is bound to the key that redeemed it, so a proof that is replayed, aimed at
 * another method or URL, stale, mis-signed, or made by any other key must get nothing.
 * test/oauth/dpop.test.ts checks proof syntax at the CIBA poll; these cases attack a
 * grant that is already bound. Every case leaves the database as it was (state.ts).
 */
import { decodeJwt, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/clock.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { randomToken } from '../../src/random.ts';
import {
  approve,
  CIBA,
  createWorld,
  REPOS,
  startRequest,
  TOKEN,
  type World,
} from '../delegation/world.ts';
import { ISSUER, type TestApp } from '../helpers/app.ts';
import { clientAssertion, type TestClient } from '../helpers/clients.ts';
import { dpopKey, dpopProof, type DpopKey } from '../oauth/dpop-world.ts';
import { INTROSPECT } from '../oauth/task-world.ts';
import {
  ACCESS_TOKEN_TYPE,
  actorToken,
  EXCHANGE,
  JWT_TOKEN_TYPE,
  VC_TOKEN_TYPE,
} from '../tokens/exchange-world.ts';
import { algNone, expectOAuthError, signed } from './forge.ts';
import { replayRows, withoutStateChange } from './state.ts';

/** A form POST with a fresh client assertion for `client` and extra headers (DPoP). */
async function postWith(
  t: TestApp,
  client: TestClient,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(client, ISSUER, { now: t.clock.now() }),
    ...params,
  });
  return t.request(TOKEN, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: body.toString(),
  });
}

let w: World;
let key: DpopKey;
/** The grant handle and first token, both bound to `key`. */
let handle: string;
let boundToken: string;

const mint = (headers: Record<string, string>, client: TestClient = w.acme.agent) =>
  postWith(
    w.t,
    client,
    { grant_type: 'refresh_token', refresh_token: handle, resource: REPOS },
    headers,
  );

const refusedProof = async (res: Response, says: RegExp) => {
  const body = await expectOAuthError(res, 400, 'invalid_dpop_proof');
  expect(body.error_description).toMatch(says);
};

beforeAll(async () => {
  w = await createWorld();
  key = await dpopKey();
  const r = await startRequest(w);
  await approve(w, r.requestId);
  const res = await postWith(
    w.t,
    w.acme.agent,
    { grant_type: CIBA, auth_req_id: r.auth_req_id },
    { dpop: await dpopProof(w.t, key) },
  );
  const body = (await res.json()) as { refresh_token: string; access_token: string };
  handle = body.refresh_token;
  boundToken = body.access_token;
  expect((decodeJwt(boundToken).cnf as { jkt: string }).jkt).toBe(key.jkt);
  // The bound handle mints with a proof by its key: what every case below tries to get around.
  expect((await mint({ dpop: await dpopProof(w.t, key) })).status).toBe(200);
});
afterAll(async () => w.t.close());

describe('a DPoP-bound grant handle', () => {
  it('refuses a replayed proof, remembering nothing new', async () => {
    const proof = await dpopProof(w.t, key);
    expect((await mint({ dpop: proof })).status).toBe(200);
    const seen = await replayRows(w.t, 'dpop_proof_jtis');
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /jti was used before/),
    );
    expect(await replayRows(w.t, 'dpop_proof_jtis')).toEqual(seen);
  });

  it.each([
    ['GET', { htm: 'GET' }, /htm is GET, expected POST/],
    ['a lower-case method', { htm: 'post' }, /htm is post, expected POST/],
    ['the introspection endpoint', { htu: `${ISSUER}${INTROSPECT}` }, /htu is .*introspect/],
    ['another host', { htu: 'https://evil.example/oauth/token' }, /htu is https:\/\/evil/],
    ['another scheme', { htu: ISSUER.replace('http:', 'https:') + TOKEN }, /htu is https:/],
  ])('refuses a proof made for %s', async (_, p, says) => {
    const proof = await dpopProof(w.t, key, p);
    await withoutStateChange(w.t, async () => refusedProof(await mint({ dpop: proof }), says));
  });

  it('refuses a proof whose iat is older than the allowed age', async () => {
    const iat = epochSeconds(w.t.clock) - w.t.deps.config.dpopProofMaxAge - 60;
    const proof = await dpopProof(w.t, key, { claims: { iat } });
    await withoutStateChange(w.t, async () => refusedProof(await mint({ dpop: proof }), /too old/));
  });

  it('refuses a proof whose iat is in the future', async () => {
    const proof = await dpopProof(w.t, key, { claims: { iat: epochSeconds(w.t.clock) + 600 } });
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /iat is in the future/),
    );
  });

  it('refuses a proof carrying the bound key in jwk but signed by another key', async () => {
    const other = await dpopKey();
    const proof = await dpopProof(w.t, key, { signWith: other.privateKey });
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /signature does not verify/),
    );
  });

  it('refuses a valid proof by a different key than the bound one', async () => {
    const proof = await dpopProof(w.t, await dpopKey());
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(await mint({ dpop: proof }), 400, 'invalid_grant');
      expect(body.error_description).toBe('the grant is bound to another DPoP key');
    });
  });

  it('refuses the bound handle with no proof at all (as a bearer handle)', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(await mint({}), 400, 'invalid_grant');
      expect(body.error_description).toBe('the grant is bound to another DPoP key');
    });
  });

  it('refuses an unsigned proof (alg none)', async () => {
    const claims = {
      jti: randomToken(16),
      htm: 'POST',
      htu: `${ISSUER}${TOKEN}`,
      iat: epochSeconds(w.t.clock),
    };
    const proof = algNone({ typ: 'dpop+jwt', jwk: key.jwk }, claims);
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /not a signed JWT|alg none is not allowed/),
    );
  });

  it('refuses an HMAC proof keyed with a symmetric jwk', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const claims = {
      jti: randomToken(16),
      htm: 'POST',
      htu: `${ISSUER}${TOKEN}`,
      iat: epochSeconds(w.t.clock),
    };
    const jwk = { kty: 'oct', k: Buffer.from(secret).toString('base64url') };
    const proof = await signed(secret, { alg: 'HS256', typ: 'dpop+jwt', jwk }, claims);
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /alg HS256 is not allowed/),
    );
  });

  it('refuses a proof whose jwk carries private key members', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const { exportJWK } = await import('jose');
    const full = await exportJWK(privateKey);
    const proof = await dpopProof(w.t, key, { header: { jwk: full }, signWith: privateKey });
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /no private members/),
    );
  });

  it('refuses a proof typed as a plain JWT', async () => {
    const proof = await dpopProof(w.t, key, { header: { typ: 'JWT' } });
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /typ is JWT, expected dpop\+jwt/),
    );
  });

  it('refuses a proof that binds an access token (ath) at the token endpoint', async () => {
    const proof = await dpopProof(w.t, key, { token: boundToken });
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proof }), /must not carry ath/),
    );
  });

  it('refuses two proofs in one request', async () => {
    const proofs = `${await dpopProof(w.t, key)}, ${await dpopProof(w.t, await dpopKey())}`;
    await withoutStateChange(w.t, async () =>
      refusedProof(await mint({ dpop: proofs }), /exactly one DPoP header/),
    );
  });

  it('refuses the handle and a proof by its key from another agent', async () => {
    const proof = await dpopProof(w.t, key);
    await withoutStateChange(w.t, async () => {
      await expectOAuthError(await mint({ dpop: proof }, w.acme.otherAgent), 400, 'invalid_grant');
    });
  });
});

describe('a DPoP-bound access token in a token exchange', () => {
  const exchange = async (extra: Record<string, string>, headers: Record<string, string> = {}) =>
    postWith(
      w.t,
      w.acme.otherAgent,
      {
        grant_type: EXCHANGE,
        subject_token: boundToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        actor_token: await actorToken(w, w.acme.otherAgent),
        actor_token_type: JWT_TOKEN_TYPE,
        ...extra,
      },
      headers,
    );

  it('cannot become a bearer token: an exchange without a proof is refused', async () => {
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(await exchange({}), 400, 'invalid_request');
      expect(body.error_description).toMatch(/^subject_token is DPoP-bound/);
    });
  });

  it('cannot become an unbound credential (the VC form), even with a proof', async () => {
    const proof = await dpopProof(w.t, await dpopKey());
    await withoutStateChange(w.t, async () => {
      const body = await expectOAuthError(
        await exchange({ requested_token_type: VC_TOKEN_TYPE }, { dpop: proof }),
        400,
        'invalid_request',
      );
      expect(body.error_description).toMatch(/cannot become an unbound credential/);
    });
  });

  it('refuses a replayed proof at the exchange', async () => {
    const sub = await dpopKey();
    const proof = await dpopProof(w.t, sub);
    expect((await exchange({}, { dpop: proof })).status).toBe(200);
    await withoutStateChange(w.t, async () =>
      refusedProof(await exchange({}, { dpop: proof }), /jti was used before/),
    );
  });
});
