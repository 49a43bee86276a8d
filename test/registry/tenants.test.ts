import { describe, expect, it } from 'vitest';
import { listAgents } from '../../src/registry/agents.ts';
import { RegistryError } from '../../src/registry/errors.ts';
import { createTenant, listTenants } from '../../src/registry/tenants.ts';
import { closeDatabasesAfterEach, database, failure } from './fixtures.ts';

closeDatabasesAfterEach();

describe('tenants', () => {
  it('creates a tenant and lists it', async () => {
    const { db } = await database();
    expect(await createTenant(db, 'acme')).toEqual({ tenant: 'acme' });
    await createTenant(db, 'beta-2');
    const { tenants } = await listTenants(db);
    expect(tenants.map((t) => t.slug)).toEqual(['acme', 'beta-2']);
    expect(Date.parse(tenants[0]?.created_at ?? '')).not.toBeNaN();
  });

  it('refuses a duplicate slug with ERR_CONFLICT', async () => {
    const { db } = await database();
    await createTenant(db, 'acme');
    const err = await failure(createTenant(db, 'acme'));
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ code: 'ERR_CONFLICT', message: 'tenant "acme" already exists' });
  });

  it.each(['', 'Acme', '-acme', 'a_b', 'a'.repeat(64), 'аcme' /* Cyrillic а */])(
    'refuses the slug %j as invalid',
    async (slug) => {
      const { db } = await database();
      expect(await failure(createTenant(db, slug))).toMatchObject({ code: 'ERR_INVALID' });
    },
  );

  it('names the slug when a tenant is unknown', async () => {
    const { db } = await database();
    const err = await failure(listAgents(db, 'nope'));
    expect(err).toMatchObject({ code: 'ERR_NOT_FOUND', message: 'no tenant "nope"' });
  });
});
