/**
 * A stock OAuth client against the broker: openid-client v6 discovers the
 * metadata, authenticates with private_key_jwt, starts a CIBA request and polls
 * until the person approves. The app runs in-process; openid-client's fetch is
 * pointed at it, so every byte still goes through the real HTTP handlers.
 */
import { eq } from 'drizzle-orm';
import { createRemoteJWKSet, customFetch as joseFetch, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issuedTokens } from '../../src/db/schema.ts';
import { ISSUER } from '../helpers/app.ts';
import type { TestClient } from '../helpers/clients.ts';
import { agent, approve, createWorld, MAIL, REPOS, requestIdOf, type World } from './world.ts';

let w: World;
let es256Agent: TestClient;
beforeEach(async () => {
  // The shortest interval keeps the real client's sleeps between polls to one second.
  w = await createWorld({ MANDATE_CIBA_INTERVAL: '1' });
  // openid-client signs Ed25519 assertions as alg "Ed25519" (RFC 9864), which the broker
  // does not accept yet, so this agent uses ES256.
  es256Agent = await agent(w.t, 'acme', w.acme.tenantId, 'Stock client', 'ES256');
});
afterEach(async () => w.t.close());

/** Every request openid-client makes goes to the in-process app; `onToken` may watch the token endpoint. */
function inProcessFetch(
  onToken?: (body: Record<string, unknown>) => Promise<void>,
): oidc.CustomFetch {
  return async (url, options) => {
    const res = await w.t.hono.request(url, options as RequestInit);
    if (onToken && new URL(url).pathname === '/oauth/token') {
      await onToken((await res.clone().json()) as Record<string, unknown>);
    }
    return res;
  };
}

async function discover(fetch: oidc.CustomFetch) {
  return oidc.discovery(
    new URL(ISSUER),
    es256Agent.clientId,
    {},
    oidc.PrivateKeyJwt({ key: es256Agent.privateKey, kid: es256Agent.publicJwk.kid }),
    { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests], [oidc.customFetch]: fetch },
  );
}

describe('openid-client v6 as the agent', () => {
  it('discovers CIBA support, polls through authorization_pending, and gets a verifiable token', async () => {
    let requestId = '';
    let approved = false;
    // After the first pending answer the person approves, as they would from the dashboard.
    const fetch = inProcessFetch(async (body) => {
      if (body.error === 'authorization_pending' && !approved) {
        approved = true;
        await approve(w, requestId, { resources: [{ resource: REPOS, scopes: ['repo:read'] }] });
        w.t.clock.advance(1);
      }
    });
    const config = await discover(fetch);
    const meta = config.serverMetadata();
    expect(meta.backchannel_authentication_endpoint).toBe(`${ISSUER}/oauth/backchannel`);
    expect(meta.backchannel_token_delivery_modes_supported).toEqual(['poll']);

    const started = await oidc.initiateBackchannelAuthentication(config, {
      login_hint: 'ada@example.com',
      scope: 'openid repo:read',
      resource: REPOS,
      binding_message: 'Release 4.2',
      authorization_details: JSON.stringify([{ type: 'agent_task', purpose: 'Tag release 4.2' }]),
    });
    expect(started).toMatchObject({ expires_in: 600, interval: 1 });
    requestId = await requestIdOf(w.t, started.auth_req_id);

    const tokens = await oidc.pollBackchannelAuthenticationGrant(config, started);
    expect(approved).toBe(true);
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'repo:read', expires_in: 120 });
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.authorization_details).toEqual([
      { type: 'agent_task', purpose: 'Tag release 4.2' },
    ]);

    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri ?? ''), {
      [joseFetch]: async (url: string, init: RequestInit) => w.t.hono.request(url, init),
    });
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: ISSUER,
      audience: REPOS,
      typ: 'at+jwt',
      currentDate: w.t.clock.now(),
    });
    expect(protectedHeader.kid).toBe((await w.t.deps.keys.signer()).kid);
    expect(payload).toMatchObject({
      sub: w.acme.userId,
      client_id: es256Agent.clientId,
      act: { sub: es256Agent.clientId },
      tid: w.acme.tenantId,
      scope: 'repo:read',
      task: { purpose: 'Tag release 4.2' },
    });
    const [recorded] = await w.t.owner
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, payload.jti ?? ''));
    expect(recorded).toMatchObject({
      audience: REPOS,
      clientId: es256Agent.clientId,
      scope: 'repo:read',
    });
  });

  it('surfaces a denial and CIBA errors as openid-client errors', async () => {
    const config = await discover(inProcessFetch());
    await expect(
      oidc.initiateBackchannelAuthentication(config, {
        login_hint: 'grace@example.com',
        scope: 'repo:read',
        resource: REPOS,
      }),
    ).rejects.toMatchObject({ error: 'unknown_user_id' });

    // Two resource indicators (RFC 8707 lets the parameter repeat).
    const params = new URLSearchParams({
      login_hint: 'ada@example.com',
      scope: 'repo:read mail:send',
    });
    params.append('resource', REPOS);
    params.append('resource', MAIL);
    const started = await oidc.initiateBackchannelAuthentication(config, params);
    const { deny } = await import('./world.ts');
    await deny(w, await requestIdOf(w.t, started.auth_req_id));
    await expect(oidc.pollBackchannelAuthenticationGrant(config, started)).rejects.toMatchObject({
      error: 'access_denied',
    });
  });
});
