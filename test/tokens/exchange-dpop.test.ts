/**
 * Token exchange of a DPoP-bound parent (RFC 9449 with RFC 8693): a sender-constrained
 * token is never traded for a bearer token. The exchange needs the sub-agent's own
 * DPoP proof and the child is bound to that key.
 */
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { ISSUER } from '../helpers/app.ts';
import { clientAssertion, type TestClient } from '../helpers/clients.ts';
import { createWorld, TOKEN, type World } from '../delegation/world.ts';
import { boundToken, dpopKey, dpopProof } from '../oauth/dpop-world.ts';
import { expectOAuthError, snapshot } from '../oauth/task-world.ts';
import {
  actorToken,
  ACCESS_TOKEN_TYPE,
  EXCHANGE,
  JWT_TOKEN_TYPE,
  VC_TOKEN_TYPE,
} from './exchange-world.ts';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => w.t.close());

async function tokenRequest(
  client: TestClient,
  params: Record<string, string>,
  dpop?: string,
): Promise<Response> {
  const body = new URLSearchParams({
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(client, ISSUER, { now: w.t.clock.now() }),
    ...params,
  });
  return w.t.request(TOKEN, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(dpop === undefined ? {} : { dpop }),
    },
    body: body.toString(),
  });
}

/** The release bot redeems its grant with a DPoP proof: the first token is bound to its key. */
const boundParent = async () => boundToken(w, await dpopKey());

const exchangeParams = async (parent: string, extra: Record<string, string> = {}) => ({
  grant_type: EXCHANGE,
  subject_token: parent,
  subject_token_type: ACCESS_TOKEN_TYPE,
  actor_token: await actorToken(w, w.acme.otherAgent),
  actor_token_type: JWT_TOKEN_TYPE,
  ...extra,
});

describe('exchanging a DPoP-bound token', () => {
  it('refuses without a DPoP proof, and records nothing', async () => {
    const parent = await boundParent();
    const before = await snapshot(w);
    const body = await expectOAuthError(
      await tokenRequest(w.acme.otherAgent, await exchangeParams(parent)),
      'invalid_request',
    );
    expect(body.error_description).toMatch(/DPoP-bound/);
    expect(await snapshot(w)).toEqual(before);
  });

  it('binds the child to the sub-agent’s own proof key', async () => {
    const parent = await boundParent();
    const sub = await dpopKey();
    const subProof = () => dpopProof(w.t, sub);
    const res = await tokenRequest(
      w.acme.otherAgent,
      await exchangeParams(parent),
      await subProof(),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: sub.jkt });
  });

  it('refuses to turn it into the unbound credential form', async () => {
    const parent = await boundParent();
    const sub = await dpopKey();
    const subProof = () => dpopProof(w.t, sub);
    await expectOAuthError(
      await tokenRequest(
        w.acme.otherAgent,
        await exchangeParams(parent, { requested_token_type: VC_TOKEN_TYPE }),
        await subProof(),
      ),
      'invalid_request',
    );
  });
});
