/**
 * A ledger to test against: a fresh database, a key store, tenants, and a generator
 * of varied entries (every column exercised: nulls, decisions, float4 risk scores,
 * nested inputs, non-ASCII text).
 */
import { afterEach } from 'vitest';
import type { AuditEntryInput } from '../../src/audit/content.ts';
import { AUDIT_DECISIONS } from '../../src/audit/content.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { generateKek, parseKek } from '../../src/keys/kek.ts';
import { KeyStore } from '../../src/keys/key-store.ts';
import { createTenant, tenantIdOf } from '../../src/registry/tenants.ts';
import { TestClock } from '../helpers/clock.ts';
import { freshDatabase } from '../helpers/db.ts';

export interface LedgerWorld {
  database: TestDatabase;
  keys: KeyStore;
  clock: TestClock;
  /** Tenant ids, in the order of the slugs given. */
  tenants: string[];
}

const open: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

export async function ledgerWorld(slugs = ['acme', 'globex']): Promise<LedgerWorld> {
  const database = await freshDatabase();
  open.push(database);
  // Entries are dated from two hours ago, so that all of them are past verify's grace period.
  const clock = new TestClock(Date.now() - 2 * 3600_000);
  const keys = new KeyStore(database.owner, parseKek(generateKek()), {
    alg: 'EdDSA',
    maxTokenTtl: 300,
    clockSkew: 30,
    rotationDays: 0,
    clock,
    cacheMs: 0,
  });
  await keys.ensure();
  const tenants: string[] = [];
  for (const slug of slugs) {
    await createTenant(database.owner, slug);
    tenants.push(await tenantIdOf(database.owner, slug));
  }
  return { database, keys, clock, tenants };
}

/** A small deterministic PRNG (mulberry32), so that generated histories are reproducible by seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The n-th entry of a generated history: distinct from every other (its subject names n). */
export function sampleEntry(
  tenantId: string,
  at: Date,
  n: number,
  random: () => number = Math.random,
): AuditEntryInput {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const decided = random() < 0.7;
  return {
    tenantId,
    at,
    action: pick(['token.minted', 'grant.approved', 'grant.revoked', 'overrun.reported']),
    actor: pick(['agent:agent_mail', 'user:ada', 'api:api_repos', 'operator', 'broker']),
    subject: `token:jti-${n}`,
    decision: decided ? pick(AUDIT_DECISIONS) : null,
    policyId: decided ? 'bundle-1' : null,
    policyVersion: decided ? 1 + Math.floor(random() * 5) : null,
    policyDigest: decided ? 'sha256-digest' : null,
    // Arbitrary doubles: stored as float4, and the hash must survive that.
    riskScore: decided ? random() * 100 : null,
    inputs: {
      n,
      scope: ['mail:read', random() < 0.5 ? 'mail:send' : 'mail:list'],
      task: { id: `task-${n}`, purpose: 'Résumé the inbox — naïvely 📬' },
      ttl: Math.floor(random() * 3600),
      nested: { ratio: random(), big: 2 ** 60, neg: -0.5, flag: random() < 0.5, none: null },
    },
  };
}
