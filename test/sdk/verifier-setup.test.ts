/**
 * Setting a verifier up: options checked at creation, discovery that insists on
 * the configured issuer, ready() telling whether the event stream is live, and no
 * network per request once keys and revocations are in hand.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerError, createVerifier, type Verifier } from '../../src/sdk/verifier.ts';
import { paths } from '../../src/oauth/metadata.ts';
import { ISSUER } from '../helpers/app.ts';
import { REPOS } from '../delegation/world.ts';
import { createTaskWorld, type TaskWorld } from '../oauth/task-world.ts';
import { bearer, routedFetch, verifierFor } from './verifier-world.ts';

let w: TaskWorld;
let verifiers: Verifier[];
beforeEach(async () => {
  w = await createTaskWorld();
  verifiers = [];
});
afterEach(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  await w.t.close();
});

function made(...args: Parameters<typeof verifierFor>) {
  const m = verifierFor(...args);
  verifiers.push(m.verifier);
  return m;
}

describe('verifier: setup', () => {
  it('refuses options that cannot work, at creation', () => {
    expect(() => createVerifier({ issuer: 'broker.example', audience: REPOS })).toThrow(TypeError);
    expect(() => createVerifier({ issuer: ISSUER, audience: '' })).toThrow(TypeError);
    expect(() => createVerifier({ issuer: ISSUER, audience: REPOS, events: true })).toThrow(
      /events need client/,
    );
    expect(() =>
      createVerifier({ issuer: ISSUER, audience: REPOS, leeway: -1, events: false }),
    ).toThrow(/leeway/);
    expect(() =>
      createVerifier({
        issuer: ISSUER,
        audience: REPOS,
        events: false,
        client: { clientId: 'api', privateKey: w.acme.api.publicJwk },
      }),
    ).toThrow(/private key/);
  });

  it('refuses a broker whose metadata names another issuer (RFC 8414 §3.3)', async () => {
    const net = routedFetch(w.t);
    const lying: typeof fetch = async (input, init) => {
      const res = await net.fetch(input, init);
      const url = input instanceof Request ? input.url : String(input);
      if (!url.endsWith(paths.metadata)) return res;
      const body = (await res.json()) as Record<string, unknown>;
      return Response.json({ ...body, issuer: 'https://evil.example' });
    };
    const { verifier } = made(w.t, { audience: REPOS }, { fetch: lying });
    await expect(verifier.ready()).rejects.toMatchObject({ code: 'ERR_DISCOVERY' });
    const err = await verifier.verifyRequest(bearer(w.firstToken)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
  });

  it('goes live on ready() when it has a client, and stays offline-only without one', async () => {
    const live = made(w.t, { audience: REPOS, client: w.acme.api }).verifier;
    await live.ready();
    expect(live.live).toBe(true);
    const offline = made(w.t, { audience: REPOS }).verifier;
    await offline.ready();
    expect(offline.live).toBe(false);
  });

  it('rejects ready() when the broker refuses the stream, and still verifies through status lists', async () => {
    // An agent is not an API: the broker streams revocations only to APIs.
    const { verifier, errors } = made(w.t, { audience: REPOS, client: w.acme.agent });
    await expect(verifier.ready()).rejects.toMatchObject({
      status: 403,
      oauthError: 'unauthorized_client',
    });
    expect(errors[0]).toBeInstanceOf(BrokerError);
    await expect(verifier.verifyRequest(bearer(w.firstToken))).resolves.toBeDefined();
  });

  it('touches no network per request once live', async () => {
    const net = routedFetch(w.t);
    const calls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      calls.push(input instanceof Request ? input.url : String(input));
      return net.fetch(input, init);
    };
    const { verifier } = made(w.t, { audience: REPOS, client: w.acme.api }, { fetch: counting });
    await verifier.ready();
    await verifier.verifyRequest(bearer(w.firstToken));
    const warm = calls.length;
    expect(calls).toEqual([
      `${ISSUER}${paths.metadata}`,
      `${ISSUER}${paths.revocationEvents}`,
      `${ISSUER}${paths.jwks}`,
    ]);
    for (let i = 0; i < 100; i++) await verifier.verifyRequest(bearer(w.firstToken));
    expect(calls.length).toBe(warm);
  });

  it('ends its event stream on close()', async () => {
    const { verifier } = made(w.t, { audience: REPOS, client: w.acme.api });
    await verifier.ready();
    await verifier.close();
    expect(verifier.live).toBe(false);
  });
});
