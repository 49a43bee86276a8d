/**
 * private_key_jwt (RFC 7523) as an attacker would probe it, through the real
 * token endpoint. Authentication passing shows as `unsupported_grant_type`
 * (no grant exists yet); failing shows as 401 invalid_client, always with the
 * same words.
 */
import { eq } from 'drizzle-orm';
import { base64url, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientAssertionJtis, clients } from '../../src/db/schema.ts';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth.ts';
import { createTestApp, ISSUER, type TestApp } from '../helpers/app.ts';
import {
  clientAssertion,
  form,
  seedClient,
  seedTenant,
  type TestClient,
} from '../helpers/clients.ts';

const TOKEN = '/oauth/token';
const ENDPOINT = `${ISSUER}${TOKEN}`;

let t: TestApp;
let agent: TestClient;

beforeEach(async () => {
  t = await createTestApp();
  const tenant = await seedTenant(t.owner);
  agent = await seedClient(t.owner, tenant.id);
});
afterEach(async () => t.close());

const post = (assertion: string, extra: Record<string, string> = {}) =>
  t.request(
    TOKEN,
    form({
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
      ...extra,
    }),
  );

async function expectInvalidClient(res: Response) {
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({
    error: 'invalid_client',
    error_description: 'client authentication failed',
  });
  expect(res.headers.get('cache-control')).toBe('no-store');
}

async function seenJtis(): Promise<number> {
  return (await t.owner.select().from(clientAssertionJtis)).length;
}

describe('private_key_jwt client authentication', () => {
  it('accepts a correct assertion addressed to the issuer', async () => {
    const res = await post(await clientAssertion(agent, ISSUER, { now: t.clock.now() }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('accepts a correct assertion addressed to the token endpoint', async () => {
    const res = await post(await clientAssertion(agent, ENDPOINT, { now: t.clock.now() }));
    expect((await res.json()) as object).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('accepts an ES256 client and a matching client_id parameter', async () => {
    const tenant = await seedTenant(t.owner);
    const es = await seedClient(t.owner, tenant.id, 'api', 'ES256');
    const res = await post(await clientAssertion(es, ISSUER, { now: t.clock.now() }), {
      client_id: es.clientId,
    });
    expect((await res.json()) as object).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('accepts the fully specified alg Ed25519 (RFC 9864) from a key registered without alg', async () => {
    // openid-client v6 signs Ed25519 assertions with alg "Ed25519", not "EdDSA".
    const { publicJwk } = agent;
    const withoutAlg = { ...publicJwk };
    delete withoutAlg.alg;
    await t.owner
      .update(clients)
      .set({ jwks: { keys: [withoutAlg] } })
      .where(eq(clients.id, agent.clientId));
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'Ed25519', kid: publicJwk.kid })
      .setIssuer(agent.clientId)
      .setSubject(agent.clientId)
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(crypto.randomUUID())
      .sign(agent.privateKey);
    const res = await post(assertion);
    expect((await res.json()) as object).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('rejects an assertion signed with another key', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const forged = await clientAssertion({ ...agent, privateKey }, ISSUER, { now: t.clock.now() });
    await expectInvalidClient(await post(forged));
    expect(await seenJtis()).toBe(0);
  });

  it('rejects an expired assertion', async () => {
    const old = await clientAssertion(agent, ISSUER, { now: t.clock.now(), expiresIn: 60 });
    t.clock.advance(60 + 31);
    await expectInvalidClient(await post(old));
  });

  it('rejects an assertion that lives longer than five minutes', async () => {
    const long = await clientAssertion(agent, ISSUER, { now: t.clock.now(), expiresIn: 3600 });
    await expectInvalidClient(await post(long));
  });

  it('rejects an assertion issued in the future', async () => {
    const ahead = await clientAssertion(agent, ISSUER, { now: t.clock.now(), iatOffset: 120 });
    await expectInvalidClient(await post(ahead));
  });

  it('rejects a replayed jti, even within its lifetime', async () => {
    const once = await clientAssertion(agent, ISSUER, { now: t.clock.now() });
    expect((await post(once)).status).toBe(400);
    await expectInvalidClient(await post(once));
    const sameJti = await clientAssertion(agent, ISSUER, { now: t.clock.now(), jti: 'fixed' });
    expect((await post(sameJti)).status).toBe(400);
    const again = await clientAssertion(agent, ISSUER, { now: t.clock.now(), jti: 'fixed' });
    await expectInvalidClient(await post(again));
  });

  it('rejects alg none', async () => {
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const unsigned = new UnsecuredJWT({ jti: 'n1' })
      .setIssuer(agent.clientId)
      .setSubject(agent.clientId)
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .encode();
    await expectInvalidClient(await post(unsigned));
  });

  it('rejects HS256 keyed with the registered public key (alg confusion)', async () => {
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const candidates = [
      base64url.decode(agent.publicJwk.x ?? ''),
      new TextEncoder().encode(JSON.stringify(agent.publicJwk)),
    ];
    for (const secret of candidates) {
      const confused = await new SignJWT({ jti: base64url.encode(secret.slice(0, 8)) })
        .setProtectedHeader({ alg: 'HS256', kid: agent.publicJwk.kid })
        .setIssuer(agent.clientId)
        .setSubject(agent.clientId)
        .setAudience(ISSUER)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(secret);
      await expectInvalidClient(await post(confused));
    }
  });

  it('rejects a wrong audience', async () => {
    for (const aud of ['https://evil.example', `${ISSUER}/other`, 'http://localhost:8787/']) {
      const wrong = await clientAssertion(agent, aud, { now: t.clock.now() });
      await expectInvalidClient(await post(wrong));
    }
  });

  it('rejects iss and sub that differ, and a client_id that is not the issuer', async () => {
    const tenant = await seedTenant(t.owner);
    const other = await seedClient(t.owner, tenant.id);
    const mixed = await clientAssertion(agent, ISSUER, { now: t.clock.now(), sub: other.clientId });
    await expectInvalidClient(await post(mixed));
    const good = await clientAssertion(agent, ISSUER, { now: t.clock.now() });
    await expectInvalidClient(await post(good, { client_id: other.clientId }));
  });

  it('rejects an unknown client and a disabled one', async () => {
    const ghost = await clientAssertion({ ...agent, clientId: 'agent_ghost' }, ISSUER, {
      now: t.clock.now(),
    });
    await expectInvalidClient(await post(ghost));
    await t.owner.update(clients).set({ status: 'disabled' }).where(eq(clients.id, agent.clientId));
    await expectInvalidClient(
      await post(await clientAssertion(agent, ISSUER, { now: t.clock.now() })),
    );
  });

  it('refuses shared secrets and missing assertions', async () => {
    const basic = await t.request(TOKEN, {
      ...form({ grant_type: 'client_credentials' }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${agent.clientId}:secret`)}`,
      },
    });
    await expectInvalidClient(basic);
    await expectInvalidClient(
      await t.request(
        TOKEN,
        form({ grant_type: 'client_credentials', client_id: agent.clientId, client_secret: 'x' }),
      ),
    );
    await expectInvalidClient(await t.request(TOKEN, form({ grant_type: 'client_credentials' })));
    const wrongType = await t.request(
      TOKEN,
      form({
        client_assertion_type: 'urn:other',
        client_assertion: await clientAssertion(agent, ISSUER, { now: t.clock.now() }),
      }),
    );
    await expectInvalidClient(wrongType);
  });

  it('rejects garbage in client_assertion without a server error', async () => {
    for (const junk of ['x', 'a.b.c', 'e30.e30.', '....', 'eyJhbGciOiJFZERTQSJ9.bm90anNvbg.sig']) {
      await expectInvalidClient(await post(junk));
    }
  });

  it('fetches keys from a jwks_uri client through the injected fetch', async () => {
    const { ClientAuthenticator } = await import('../../src/oauth/client-auth.ts');
    const tenant = await seedTenant(t.owner);
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const publicJwk = { ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'remote-1' };
    await t.owner.insert(clients).values({
      id: 'agent_remote',
      tenantId: tenant.id,
      kind: 'agent',
      name: 'remote',
      jwksUri: 'https://agent.example/jwks.json',
    });
    const fetched: string[] = [];
    const auth = new ClientAuthenticator({
      db: t.owner,
      clock: t.clock,
      issuer: ISSUER,
      maxAssertionTtl: 300,
      clockSkew: 30,
      fetch: (url) => {
        fetched.push(url instanceof Request ? url.url : url.toString());
        return Promise.resolve(Response.json({ keys: [publicJwk] }));
      },
    });
    const remote = { clientId: 'agent_remote', tenantId: tenant.id, privateKey, publicJwk };
    const assertion = await clientAssertion(remote, ISSUER, { now: t.clock.now() });
    const client = await auth.authenticate(
      { clientAssertionType: CLIENT_ASSERTION_TYPE, clientAssertion: assertion },
      ENDPOINT,
    );
    expect(client).toMatchObject({ clientId: 'agent_remote', tenantId: tenant.id, kind: 'agent' });
    expect(fetched).toEqual(['https://agent.example/jwks.json']);
  });

  it('forgets assertion ids once they have expired', async () => {
    await post(await clientAssertion(agent, ISSUER, { now: t.clock.now() }));
    expect(await seenJtis()).toBe(1);
    await t.clientAuth.pruneSeenAssertions();
    expect(await seenJtis()).toBe(1);
    t.clock.advance(60 + 31);
    await t.clientAuth.pruneSeenAssertions();
    expect(await seenJtis()).toBe(0);
  });
});

describe('token endpoint request parsing', () => {
  it('refuses a body that is not form-encoded', async () => {
    const res = await t.request(TOKEN, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":"client_credentials"}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a repeated parameter', async () => {
    const res = await t.request(TOKEN, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=a&grant_type=b',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses an oversized body with 413 and a JSON error', async () => {
    const res = await t.request(TOKEN, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=${'a'.repeat(200_000)}`,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('asks for grant_type once the client is authenticated', async () => {
    const res = await t.request(
      TOKEN,
      form({
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await clientAssertion(agent, ISSUER, { now: t.clock.now() }),
      }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
