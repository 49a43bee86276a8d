/**
 * The whole product as a stock OAuth client meets it, over real HTTP: openid-client
 * v6 discovers the broker, authenticates with private_key_jwt, starts a CIBA
 * request and polls with DPoP; the person approves with a real WebAuthn assertion
 * (a software authenticator answering the broker's approval challenge); the agent
 * mints a per-task token for one API and a narrower scope, DPoP-bound; the API
 * introspects it; the agent revokes it and then the grant handle.
 */
import { eq } from 'drizzle-orm';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type JWK,
} from 'jose';
import * as oidc from 'openid-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cibaRequests, grants, issuedTokens } from '../../src/db/schema.ts';
import { randomToken, sha256base64url } from '../../src/random.ts';
import { addAgent } from '../../src/registry/agents.ts';
import { addApi } from '../../src/registry/apis.ts';
import { startTestServer, type TestServer } from '../helpers/browser.ts';
import { csrfOf, postJson, registeredPerson, type Registered } from '../passkeys/ceremonies.ts';

const MAIL = 'https://mail.acme.example/';

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer({ MANDATE_CIBA_INTERVAL: '1' });
});
afterEach(async () => server.close());

interface Client {
  clientId: string;
  privateKey: CryptoKey;
  kid: string;
}

/** A key pair whose public half is registered without `alg`, as a stock client's would be. */
async function keys(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: randomToken(8) } };
}

async function seed(): Promise<{ agent: Client; api: Client; person: Registered }> {
  const db = server.app.owner;
  const person = await registeredPerson(server.app, 'ada@example.com', 'acme');
  const apiKeys = await keys();
  const { client_id: apiId } = await addApi(db, {
    tenant: 'acme',
    name: 'Acme Mail',
    audience: MAIL,
    jwks: { keys: [apiKeys.publicJwk] },
    scopes: [
      { name: 'mail:read', description: 'Read your mail', sensitivity: 'read' },
      { name: 'mail:send', description: 'Send mail as you', sensitivity: 'write' },
    ],
  });
  const agentKeys = await keys();
  const { client_id: agentId } = await addAgent(db, {
    tenant: 'acme',
    name: 'Mail assistant',
    jwks: { keys: [agentKeys.publicJwk] },
  });
  return {
    person,
    agent: {
      clientId: agentId,
      privateKey: agentKeys.privateKey,
      kid: agentKeys.publicJwk.kid ?? '',
    },
    api: { clientId: apiId, privateKey: apiKeys.privateKey, kid: apiKeys.publicJwk.kid ?? '' },
  };
}

/** The server's TestClock follows real time while real clients sign assertions. */
function syncClock(): void {
  server.app.clock.advance((Date.now() - server.app.clock.now().getTime()) / 1000);
}

function discover(client: Client): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(server.url),
    client.clientId,
    {},
    oidc.PrivateKeyJwt({ key: client.privateKey, kid: client.kid }),
    { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] },
  );
}

describe('an agent and an API using the broker through openid-client', () => {
  it('CIBA with DPoP, passkey approval, per-task mint, introspection and revocation', async () => {
    const { agent, api, person } = await seed();
    syncClock();
    const agentConfig = await discover(agent);
    const apiConfig = await discover(api);
    const meta = agentConfig.serverMetadata();
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['urn:openid:params:grant-type:ciba', 'refresh_token']),
    );
    expect(meta.introspection_endpoint).toBe(`${server.url}/oauth/introspect`);
    expect(meta.dpop_signing_alg_values_supported).toContain('EdDSA');

    const dpopKeys = await oidc.randomDPoPKeyPair('ES256');
    const dpop = oidc.getDPoPHandle(agentConfig, dpopKeys);

    const started = await oidc.initiateBackchannelAuthentication(agentConfig, {
      login_hint: 'ada@example.com',
      scope: 'mail:read mail:send',
      resource: MAIL,
      binding_message: 'Inbox triage',
      authorization_details: JSON.stringify([
        { type: 'agent_task', purpose: 'Triage the inbox every morning', duration: 86_400 },
      ]),
    });

    // The person approves: the broker's approval challenge, signed by her passkey.
    const db = server.app.owner;
    const [request] = await db
      .select()
      .from(cibaRequests)
      .where(eq(cibaRequests.authReqIdHash, await sha256base64url(started.auth_req_id)));
    if (!request) throw new Error('request not stored');
    const headers = {
      cookie: person.cookie,
      'x-csrf-token': await csrfOf(server.app, person.userId),
      origin: server.url,
    };
    const options = await postJson(
      server.app,
      `/requests/${request.id}/approval/options`,
      { resources: [{ resource: MAIL, scopes: ['mail:read', 'mail:send'] }], duration: 86_400 },
      headers,
    );
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    const assertion = await person.auth.assert(
      options.body as unknown as { challenge: string; rpId?: string },
    );
    const approved = await postJson(
      server.app,
      `/requests/${request.id}/approval/verify`,
      { response: assertion },
      headers,
    );
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);

    // The agent's poll redeems the grant with a DPoP proof: the grant is bound to that key.
    syncClock();
    const first = await oidc.pollBackchannelAuthenticationGrant(agentConfig, started, undefined, {
      DPoP: dpop,
    });
    expect(first.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(dpopKeys.publicKey));
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri ?? ''));
    const firstClaims = (
      await jwtVerify(first.access_token, jwks, {
        issuer: server.url,
        audience: MAIL,
        typ: 'at+jwt',
      })
    ).payload;
    expect(firstClaims.cnf).toEqual({ jkt });
    const [grant] = await db.select().from(grants);
    expect(grant?.dpopJkt).toBe(jkt);

    // A per-task token: one API, a narrower scope, the task described, still DPoP-bound.
    const handle = first.refresh_token ?? '';
    const task = await oidc.refreshTokenGrant(
      agentConfig,
      handle,
      {
        resource: MAIL,
        scope: 'mail:read',
        authorization_details: JSON.stringify([
          { type: 'agent_task', identifier: 'triage-2026-11-23', purpose: 'Triage this morning' },
        ]),
      },
      { DPoP: dpop },
    );
    expect(task.scope).toBe('mail:read');
    expect(task.token_type).toBe('dpop');
    const taskClaims = (
      await jwtVerify(task.access_token, jwks, {
        issuer: server.url,
        audience: MAIL,
        typ: 'at+jwt',
      })
    ).payload;
    expect(taskClaims).toMatchObject({
      scope: 'mail:read',
      client_id: agent.clientId,
      act: { sub: agent.clientId },
      sub: person.userId,
      grant_id: grant?.id,
      task: { id: 'triage-2026-11-23', purpose: 'Triage this morning' },
      cnf: { jkt },
    });
    expect((taskClaims.exp ?? 0) - (taskClaims.iat ?? 0)).toBeLessThanOrEqual(300);

    // Without the DPoP key the grant handle is useless.
    await expect(
      oidc.refreshTokenGrant(agentConfig, handle, { resource: MAIL, scope: 'mail:read' }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    // Beyond the grant: refused and recorded as an overrun attempt.
    await expect(
      oidc.refreshTokenGrant(
        agentConfig,
        handle,
        { resource: MAIL, scope: 'mail:delete' },
        { DPoP: dpop },
      ),
    ).rejects.toMatchObject({ error: 'invalid_scope' });

    // The API introspects the task token: active, with its facts.
    const introspected = await oidc.tokenIntrospection(apiConfig, task.access_token);
    expect(introspected).toMatchObject({
      active: true,
      scope: 'mail:read',
      client_id: agent.clientId,
      aud: MAIL,
    });

    // The agent revokes the task token; the API then sees it inactive.
    await oidc.tokenRevocation(agentConfig, task.access_token);
    expect(await oidc.tokenIntrospection(apiConfig, task.access_token)).toEqual({ active: false });
    const [recorded] = await db
      .select()
      .from(issuedTokens)
      .where(eq(issuedTokens.jti, String(taskClaims.jti)));
    expect(recorded?.revokedAt).not.toBeNull();

    // Revoking the grant handle ends the grant and every token under it.
    await oidc.tokenRevocation(agentConfig, handle, { token_type_hint: 'refresh_token' });
    expect(await oidc.tokenIntrospection(apiConfig, first.access_token)).toEqual({ active: false });
    await expect(
      oidc.refreshTokenGrant(agentConfig, handle, { resource: MAIL }, { DPoP: dpop }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    const [ended] = await db.select().from(grants);
    expect(ended?.status).toBe('revoked');
  });
});
