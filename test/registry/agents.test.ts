import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { clients } from '../../src/db/schema.ts';
import { CLIENT_ASSERTION_TYPE, ClientAuthenticator } from '../../src/oauth/client-auth.ts';
import { addAgent, disableAgent, listAgents } from '../../src/registry/agents.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { clientAssertion } from '../helpers/clients.ts';
import { TestClock } from '../helpers/clock.ts';
import { closeDatabasesAfterEach, database, failure, keyPair, publicJwks } from './fixtures.ts';

closeDatabasesAfterEach();

/** The tables' owner's view of the last twoTenants() database, for assertions. */
let owner: Database;

async function twoTenants() {
  const handle = await database();
  await createTenant(handle.db, 'alpha');
  await createTenant(handle.db, 'bravo');
  owner = handle.owner;
  return handle.db;
}

describe('agents', () => {
  it('registers an agent with an inline public JWKS and lists it in its tenant', async () => {
    const db = await twoTenants();
    const jwks = await publicJwks('ES256');
    const { client_id } = await addAgent(db, { tenant: 'alpha', name: 'Coder', jwks });
    expect(client_id).toMatch(/^agent_[\w-]{22}$/);
    const { agents } = await listAgents(db, 'alpha');
    expect(agents).toEqual([
      expect.objectContaining({ client_id, name: 'Coder', status: 'active', jwks_uri: null }),
    ]);
    expect(agents[0]?.kids).toEqual([jwks.keys[0]?.kid]);
  });

  it('registers an agent by jwks_uri: https anywhere, http only on loopback', async () => {
    const db = await twoTenants();
    const uri = 'https://agent.example/jwks.json';
    await addAgent(db, { tenant: 'alpha', name: 'Remote', jwksUri: uri });
    await addAgent(db, { tenant: 'alpha', name: 'Local', jwksUri: 'http://127.0.0.1:9999/jwks' });
    const err = await failure(
      addAgent(db, { tenant: 'alpha', name: 'Plain', jwksUri: 'http://agent.example/jwks' }),
    );
    expect(err).toMatchObject({ code: 'ERR_INVALID' });
    expect(err.message).toContain('https');
  });

  it('refuses a JWKS that contains a private key, and stores nothing', async () => {
    const db = await twoTenants();
    const { privateJwk } = await keyPair();
    const err = await failure(
      addAgent(db, { tenant: 'alpha', name: 'Leaky', jwks: { keys: [privateJwk] } }),
    );
    expect(err).toMatchObject({ code: 'ERR_INVALID' });
    expect(err.message).toContain('private key material (d)');
    expect(await owner.select().from(clients)).toHaveLength(0);
  });

  it.each([
    ['a symmetric oct key', { keys: [{ kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0' }] }],
    ['an empty set', { keys: [] }],
    ['a bare key instead of a set', { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }],
    ['an encryption-only X25519 key', { keys: [{ kty: 'OKP', crv: 'X25519', x: 'a'.repeat(43) }] }],
    ['a key that does not import', { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] }],
    ['an HMAC alg', { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', alg: 'HS256' }] }],
  ])('refuses %s', async (_label, jwks) => {
    const db = await twoTenants();
    const err = await failure(addAgent(db, { tenant: 'alpha', name: 'Bad', jwks }));
    expect(err).toMatchObject({ code: 'ERR_INVALID' });
    expect(err.message).toMatch(/^invalid JWKS: /);
  });

  it('refuses a set of several keys unless each has its own kid', async () => {
    const db = await twoTenants();
    const a = (await keyPair()).publicJwk;
    const b = { ...(await keyPair()).publicJwk, kid: a.kid };
    const err = await failure(
      addAgent(db, { tenant: 'alpha', name: 'Two', jwks: { keys: [a, b] } }),
    );
    expect(err.message).toContain('repeats kid');
  });

  it('refuses both or neither of jwks and jwks_uri', async () => {
    const db = await twoTenants();
    const jwks = await publicJwks();
    const both = { tenant: 'alpha', name: 'X', jwks, jwksUri: 'https://x.example/j' };
    expect(await failure(addAgent(db, both))).toMatchObject({ code: 'ERR_INVALID' });
    expect(await failure(addAgent(db, { tenant: 'alpha', name: 'X' }))).toMatchObject({
      code: 'ERR_INVALID',
    });
  });

  it('refuses a second agent of the same name in a tenant, but not in another tenant', async () => {
    const db = await twoTenants();
    const jwks = await publicJwks();
    await addAgent(db, { tenant: 'alpha', name: 'Coder', jwks });
    const err = await failure(addAgent(db, { tenant: 'alpha', name: 'Coder', jwks }));
    expect(err).toMatchObject({ code: 'ERR_CONFLICT' });
    await addAgent(db, { tenant: 'bravo', name: 'Coder', jwks });
  });

  it('keeps tenants apart: another tenant neither lists nor disables an agent', async () => {
    const db = await twoTenants();
    const { client_id } = await addAgent(db, {
      tenant: 'alpha',
      name: 'Coder',
      jwks: await publicJwks(),
    });
    expect((await listAgents(db, 'bravo')).agents).toEqual([]);
    expect(await failure(disableAgent(db, 'bravo', { clientId: client_id }))).toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    expect(await failure(disableAgent(db, 'bravo', { name: 'Coder' }))).toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    const [row] = await owner.select().from(clients).where(eq(clients.id, client_id));
    expect(row?.status).toBe('active');
  });

  it('disables an agent by client id or by name', async () => {
    const db = await twoTenants();
    const jwks = await publicJwks();
    const one = await addAgent(db, { tenant: 'alpha', name: 'One', jwks });
    const two = await addAgent(db, { tenant: 'alpha', name: 'Two', jwks });
    expect(await disableAgent(db, 'alpha', { clientId: one.client_id })).toEqual({
      client_id: one.client_id,
      status: 'disabled',
    });
    expect((await disableAgent(db, 'alpha', { name: 'Two' })).client_id).toBe(two.client_id);
    const { agents } = await listAgents(db, 'alpha');
    expect(agents.map((a) => a.status)).toEqual(['disabled', 'disabled']);
  });
});

describe('a registered agent', () => {
  it('authenticates with private_key_jwt until it is disabled', async () => {
    const db = await twoTenants();
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
    const { client_id } = await addAgent(db, {
      tenant: 'alpha',
      name: 'Coder',
      jwks: { keys: [publicJwk] },
    });
    const issuer = 'http://localhost:8787';
    const auth = new ClientAuthenticator({
      db,
      clock: new TestClock(),
      issuer,
      maxAssertionTtl: 300,
      clockSkew: 30,
    });
    const client = {
      clientId: client_id,
      tenantId: '',
      privateKey,
      publicJwk: { ...publicJwk, alg: 'EdDSA' },
    };
    const attempt = async () =>
      auth.authenticate(
        {
          clientAssertionType: CLIENT_ASSERTION_TYPE,
          clientAssertion: await clientAssertion(client, issuer),
        },
        `${issuer}/token`,
      );
    expect(await attempt()).toMatchObject({ clientId: client_id, kind: 'agent' });
    await disableAgent(db, 'alpha', { clientId: client_id });
    await expect(attempt()).rejects.toMatchObject({ error: 'invalid_client' });
  });
});
