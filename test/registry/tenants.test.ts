import { describe, expect, it } from 'vitest';
import { tenants as tenantsTable } from '../../src/db/schema.ts';
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

  it('keeps an overrun threshold of the tenant’s own, and refuses one out of range', async () => {
    const { db } = await database();
    expect(await createTenant(db, 'acme', { overrunThreshold: '3' })).toEqual({
      tenant: 'acme',
      overrun_threshold: 3,
    });
    const [row] = await db.select().from(tenantsTable);
    expect(row?.overrunThreshold).toBe(3);
    for (const bad of ['0', '1001', '2.5', 'many']) {
      const err = await failure(createTenant(db, 'beta', { overrunThreshold: bad }));
      expect(err).toMatchObject({ code: 'ERR_INVALID' });
      expect(err.message).toContain('whole number from 1 to 1000');
    }
    expect(await db.select().from(tenantsTable)).toHaveLength(1);
  });

  it('names the slug when a tenant is unknown', async () => {
    const { db } = await database();
    const err = await failure(listAgents(db, 'nope'));
    expect(err).toMatchObject({ code: 'ERR_NOT_FOUND', message: 'no tenant "nope"' });
  });
});
