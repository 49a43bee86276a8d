import { describe, expect, it } from 'vitest';
import { apis, apiScopes, clients } from '../../src/db/schema.ts';
import { addApi, disableApi, listApis } from '../../src/registry/apis.ts';
import { createTenant } from '../../src/registry/tenants.ts';
import { closeDatabasesAfterEach, database, failure, publicJwks, scopes } from './fixtures.ts';

closeDatabasesAfterEach();

const AUDIENCE = 'https://api.example.com/repos';

async function setup() {
  const handle = await database();
  await createTenant(handle.db, 'alpha');
  await createTenant(handle.db, 'bravo');
  // Registry calls on the broker's own handle; assertions read as the tables' owner.
  return { db: handle.db, owner: handle.owner, jwks: await publicJwks() };
}

describe('APIs', () => {
  it('registers an API with its audience and scopes, and lists them', async () => {
    const { db, jwks } = await setup();
    const added = await addApi(db, {
      tenant: 'alpha',
      audience: AUDIENCE,
      scopes,
      jwks,
      name: 'Repos',
    });
    expect(added).toEqual({
      client_id: expect.stringMatching(/^api_/) as string,
      audience: AUDIENCE,
    });
    const { apis: listed } = await listApis(db, 'alpha');
    expect(listed).toEqual([
      expect.objectContaining({
        client_id: added.client_id,
        name: 'Repos',
        audience: AUDIENCE,
        status: 'active',
        scopes,
      }),
    ]);
  });

  it('keeps an overrun threshold of the API’s own, and refuses a bad one without writing', async () => {
    const { db, owner, jwks } = await setup();
    const { client_id } = await addApi(db, {
      tenant: 'alpha',
      audience: AUDIENCE,
      scopes,
      jwks,
      overrunThreshold: '1',
    });
    const [row] = await owner.select().from(apis);
    expect(row).toMatchObject({ clientId: client_id, overrunThreshold: 1 });
    const err = await failure(
      addApi(db, {
        tenant: 'alpha',
        audience: `${AUDIENCE}/2`,
        scopes,
        jwks,
        overrunThreshold: '0',
      }),
    );
    expect(err).toMatchObject({ code: 'ERR_INVALID' });
    expect(await owner.select().from(clients)).toHaveLength(1);
  });

  it('names an API after its audience when no name is given', async () => {
    const { db, jwks } = await setup();
    await addApi(db, { tenant: 'alpha', audience: 'urn:example:billing', scopes, jwks });
    expect((await listApis(db, 'alpha')).apis[0]?.name).toBe('urn:example:billing');
  });

  it.each([
    ['a fragment', 'https://api.example.com/#x', 'fragment'],
    ['a relative reference', '/repos', 'absolute URI'],
    ['a Unicode host', 'https://аpi.example.com', 'ASCII'],
  ])('refuses an audience with %s', async (_label, audience, words) => {
    const { db, jwks } = await setup();
    const err = await failure(addApi(db, { tenant: 'alpha', audience, scopes, jwks }));
    expect(err).toMatchObject({ code: 'ERR_INVALID' });
    expect(err.message).toContain(words);
  });

  it.each([
    ['a Unicode look-alike', 'repо:read' /* Cyrillic о */],
    ['a space', 'repo read'],
    ['a double quote', 'repo"read'],
    ['a backslash', 'repo\\read'],
    ['the empty string', ''],
  ])('refuses a scope name with %s', async (_label, name) => {
    const { db, jwks } = await setup();
    const bad = [{ name, description: 'x', sensitivity: 'read' }];
    const err = await failure(
      addApi(db, { tenant: 'alpha', audience: AUDIENCE, scopes: bad, jwks }),
    );
    expect(err).toMatchObject({ code: 'ERR_INVALID' });
  });

  it('refuses duplicate scope names, unknown sensitivities and an empty scope list', async () => {
    const { db, owner, jwks } = await setup();
    for (const bad of [
      [scopes[0], scopes[0]],
      [{ name: 'x', description: 'x', sensitivity: 'root' }],
      [],
    ]) {
      const err = await failure(
        addApi(db, { tenant: 'alpha', audience: AUDIENCE, scopes: bad, jwks }),
      );
      expect(err).toMatchObject({ code: 'ERR_INVALID' });
    }
    expect(await owner.select().from(clients)).toHaveLength(0);
  });

  it('keeps an audience unique across tenants, and a refused add leaves no row behind', async () => {
    const { db, owner, jwks } = await setup();
    await addApi(db, { tenant: 'alpha', audience: AUDIENCE, scopes, jwks });
    // The client row is written before the audience collides: the transaction must undo it.
    const err = await failure(addApi(db, { tenant: 'bravo', audience: AUDIENCE, scopes, jwks }));
    expect(err).toMatchObject({
      code: 'ERR_CONFLICT',
      message: `audience "${AUDIENCE}" is already registered`,
    });
    expect(await owner.select().from(clients)).toHaveLength(1);
    expect(await owner.select().from(apis)).toHaveLength(1);
    expect(await owner.select().from(apiScopes)).toHaveLength(2);
    expect((await listApis(db, 'bravo')).apis).toEqual([]);
  });

  it('keeps tenants apart: another tenant cannot disable an API, by id, name or audience', async () => {
    const { db, jwks } = await setup();
    const { client_id } = await addApi(db, {
      tenant: 'alpha',
      audience: AUDIENCE,
      scopes,
      jwks,
      name: 'Repos',
    });
    for (const selector of [{ clientId: client_id }, { name: 'Repos' }, { audience: AUDIENCE }]) {
      expect(await failure(disableApi(db, 'bravo', selector))).toMatchObject({
        code: 'ERR_NOT_FOUND',
      });
    }
    expect((await listApis(db, 'alpha')).apis[0]?.status).toBe('active');
    expect(await disableApi(db, 'alpha', { audience: AUDIENCE })).toEqual({
      client_id,
      status: 'disabled',
    });
    expect((await listApis(db, 'alpha')).apis[0]?.status).toBe('disabled');
  });
});
