/** Tenants: the outermost boundary. Every other registry call names one by slug. */
import { asc, eq } from 'drizzle-orm';
import type { Database, DbOrTx } from '../db/database.ts';
import { tenants } from '../db/schema.ts';
import { conflictOn, RegistryError } from './errors.ts';
import { overrunThresholdSchema, parseInput, slugSchema } from './validate.ts';

export interface TenantSummary {
  slug: string;
  created_at: string;
}

export async function createTenant(
  db: Database,
  slug: string,
  options: { overrunThreshold?: string | number | undefined } = {},
): Promise<{ tenant: string; overrun_threshold?: number }> {
  const valid = parseInput(slugSchema, slug, 'tenant slug');
  const threshold =
    options.overrunThreshold === undefined
      ? undefined
      : parseInput(overrunThresholdSchema, options.overrunThreshold, 'overrun threshold');
  try {
    await db.insert(tenants).values({ slug: valid, overrunThreshold: threshold ?? null });
  } catch (err) {
    conflictOn(err, { tenants_slug_unique: `tenant "${valid}" already exists` });
  }
  return { tenant: valid, ...(threshold === undefined ? {} : { overrun_threshold: threshold }) };
}

export async function listTenants(db: Database): Promise<{ tenants: TenantSummary[] }> {
  const rows = await db
    .select({ slug: tenants.slug, createdAt: tenants.createdAt })
    .from(tenants)
    .orderBy(asc(tenants.slug));
  return { tenants: rows.map((r) => ({ slug: r.slug, created_at: r.createdAt.toISOString() })) };
}

/** The id behind a slug; ERR_NOT_FOUND names the slug so a typo is obvious. */
export async function tenantIdOf(db: DbOrTx, slug: unknown): Promise<string> {
  if (typeof slug !== 'string' || !slugSchema.safeParse(slug).success) {
    throw new RegistryError('ERR_NOT_FOUND', `no tenant ${JSON.stringify(slug)}`);
  }
  const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.slug, slug));
  if (!row) throw new RegistryError('ERR_NOT_FOUND', `no tenant "${slug}"`);
  return row.id;
}
