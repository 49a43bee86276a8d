/**
 * Writing entries and chaining them: one plain INSERT per entry in the caller's
 * transaction, and a chainer that links committed entries per tenant, contiguously,
 * however many writers and chainers run at once.
 */
import { asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { appendAudit, appendAuditMany } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import { startAuditChainer } from '../../src/audit/chainer.ts';
import { contentHash, normaliseEntry } from '../../src/audit/content.ts';
import { AuditError } from '../../src/audit/errors.ts';
import { GENESIS_HASH } from '../../src/audit/link.ts';
import { recomputeContentHash } from '../../src/audit/stored.ts';
import { verifyLedger } from '../../src/audit/verify.ts';
import type { Database } from '../../src/db/database.ts';
import { auditCheckpoints, auditEntries, auditLinks } from '../../src/db/schema.ts';
import { rowsOf } from '../helpers/rows.ts';
import { ledgerWorld, prng, sampleEntry } from './ledger-world.ts';

async function chainOf(db: Database, tenantId: string) {
  return db
    .select()
    .from(auditLinks)
    .where(eq(auditLinks.tenantId, tenantId))
    .orderBy(asc(auditLinks.seq));
}

/** Takes an entry id as an INSERT would, for a transaction that will commit late. */
async function reserveEntryId(db: Database): Promise<number> {
  const [row] = rowsOf<{ id: number }>(
    await db.execute(sql`select nextval(pg_get_serial_sequence('audit_entries', 'id'))::int as id`),
  );
  if (!row) throw new Error('nextval returned nothing');
  return row.id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('appendAudit', () => {
  it('stores an entry whose columns, read back on this driver, hash to its content_hash', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    const random = prng(7);
    const written = [];
    for (let n = 0; n < 40; n++) {
      const entry = sampleEntry(
        tenant.toUpperCase(),
        new Date(w.clock.now().getTime() + n),
        n,
        random,
      );
      written.push(await appendAudit(w.database.owner, entry));
      expect(written.at(-1)?.contentHash).toBe(contentHash(normaliseEntry(entry)));
    }
    const rows = await w.database.owner.select().from(auditEntries).orderBy(asc(auditEntries.id));
    expect(rows.map((r) => r.id)).toEqual(written.map((e) => e.id));
    for (const row of rows) {
      expect(row.tenantId).toBe(tenant);
      expect(recomputeContentHash(row)).toBe(row.contentHash);
    }
  });

  it('refuses, before writing, what the database could not store as hashed', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    const base = sampleEntry(tenant, w.clock.now(), 1);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const bad = [
      { ...base, action: '' },
      { ...base, at: new Date(Number.NaN) },
      { ...base, decision: 'MAYBE' as never },
      { ...base, riskScore: Number.POSITIVE_INFINITY },
      { ...base, policyVersion: 1.5 },
      { ...base, subject: 'half a pair \uD800' },
      { ...base, inputs: { nul: 'a\u0000b' } },
      { ...base, inputs: { n: Number.NaN } },
      { ...base, inputs: [] as never },
      { ...base, inputs: { n: 10n } },
      { ...base, inputs: cyclic },
      { ...base, riskScore: 1e39 },
      { ...base, at: new Date('+010000-01-01T00:00:00Z') },
    ];
    for (const entry of bad) {
      await expect(appendAudit(w.database.owner, entry)).rejects.toMatchObject({
        code: 'ERR_AUDIT_INVALID',
      });
    }
    await expect(appendAudit(w.database.owner, bad[0]!)).rejects.toBeInstanceOf(AuditError);
    expect(await w.database.owner.$count(auditEntries)).toBe(0);
  });

  it('commits and rolls back with the caller’s transaction', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await w.database.owner
      .transaction(async (tx) => {
        await appendAudit(tx, sampleEntry(tenant, w.clock.now(), 1));
        tx.rollback();
      })
      .catch(() => {});
    await w.database.owner.transaction(async (tx) => {
      await appendAuditMany(tx, [
        sampleEntry(tenant, w.clock.now(), 2),
        sampleEntry(tenant, w.clock.now(), 3),
      ]);
    });
    const subjects = await w.database.owner.select({ s: auditEntries.subject }).from(auditEntries);
    expect(subjects.map((r) => r.s).sort()).toEqual(['token:jti-2', 'token:jti-3']);
  });
});

describe('chainPending', () => {
  it('links each tenant’s entries into its own chain, seq from 1, each link on the previous hash', async () => {
    const w = await ledgerWorld(['acme', 'globex']);
    const [acme, globex] = w.tenants as [string, string];
    for (let n = 0; n < 30; n++) {
      await appendAudit(w.database.owner, sampleEntry(n % 3 ? acme : globex, w.clock.now(), n));
    }
    expect(await chainPending(w.database.owner, { batchSize: 7 })).toEqual({
      linked: 30,
      tenants: 2,
    });
    expect(await chainPending(w.database.owner)).toEqual({ linked: 0, tenants: 0 });
    for (const [tenant, size] of [
      [acme, 20],
      [globex, 10],
    ] as const) {
      const chain = await chainOf(w.database.owner, tenant);
      expect(chain.map((l) => l.seq)).toEqual(Array.from({ length: size }, (_, i) => i + 1));
      expect(chain[0]?.prevHash).toBe(GENESIS_HASH);
      chain.slice(1).forEach((l, i) => expect(l.prevHash).toBe(chain[i]?.hash));
    }
    const report = await verifyLedger(w.database.owner, w.keys);
    expect(report).toMatchObject({ ok: true, entries: 30, links: 30, problems: [] });
  });

  it('gives an entry that commits after a higher id a later seq, and verify accepts it', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    // A transaction that took its id first but commits last: reserve the id now, insert later.
    const reserved = await reserveEntryId(w.database.owner);
    const later = await appendAudit(w.database.owner, sampleEntry(tenant, w.clock.now(), 2));
    await chainPending(w.database.owner);
    const late = normaliseEntry(sampleEntry(tenant, w.clock.now(), 1));
    await w.database.owner
      .insert(auditEntries)
      .values({ ...late, id: reserved, contentHash: contentHash(late) });
    expect(reserved).toBeLessThan(later.id);
    await chainPending(w.database.owner);
    const chain = await chainOf(w.database.owner, tenant);
    expect(chain.map((l) => [l.seq, l.entryId])).toEqual([
      [1, later.id],
      [2, reserved],
    ]);
    expect((await verifyLedger(w.database.owner, w.keys)).problems).toEqual([]);
  });

  it('yields one contiguous chain per tenant under concurrent writers and two chainers', async () => {
    const w = await ledgerWorld(['acme', 'globex', 'initech']);
    const db = w.database.owner;
    const writers = 8;
    const perWriter = 25;
    let writing = true;
    const chainer = async () => {
      let linked = 0;
      while (writing) {
        linked += (await chainPending(db, { batchSize: 16 })).linked;
        await sleep(1);
      }
      return linked;
    };
    const writer = async (k: number) => {
      for (let n = 0; n < perWriter; n++) {
        // Several entries per transaction, across tenants, with a pause inside it, so
        // that commits interleave with each other and with the chainers.
        await db.transaction(async (tx) => {
          await appendAudit(tx, sampleEntry(w.tenants[k % 3]!, w.clock.now(), k * 1000 + n));
          await sleep(Math.random() * 3);
          await appendAudit(
            tx,
            sampleEntry(w.tenants[(k + n) % 3]!, w.clock.now(), k * 1000 + n + 500),
          );
        });
      }
    };
    const chainers = [chainer(), chainer()];
    await Promise.all(Array.from({ length: writers }, (_, k) => writer(k)));
    writing = false;
    const during = (await Promise.all(chainers)).reduce((a, b) => a + b, 0);
    const after = (await chainPending(db)).linked;
    expect(during + after).toBe(writers * perWriter * 2);

    const entries = await db.select().from(auditEntries);
    const links = await db.select().from(auditLinks);
    expect(links).toHaveLength(entries.length);
    expect(new Set(links.map((l) => l.entryId)).size).toBe(entries.length);
    for (const tenant of w.tenants) {
      const chain = await chainOf(db, tenant);
      const own = entries.filter((e) => e.tenantId === tenant);
      expect(chain.map((l) => l.seq)).toEqual(own.map((_, i) => i + 1));
      expect(new Set(chain.map((l) => l.entryId))).toEqual(new Set(own.map((e) => e.id)));
    }
    expect((await verifyLedger(db, w.keys)).problems).toEqual([]);
  }, 60_000);

  it('still finds, after a pause in chaining (a broker that was down), entries its last pass missed', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    const db = w.database.owner;
    const reserved = await reserveEntryId(db);
    await appendAudit(db, sampleEntry(tenant, w.clock.now(), 2));
    await chainPending(db);
    await sleep(50);
    const late = normaliseEntry(sampleEntry(tenant, w.clock.now(), 1));
    await db.insert(auditEntries).values({ ...late, id: reserved, contentHash: contentHash(late) });
    // The lookback counts back from the newest link, not from now.
    expect((await chainPending(db, { lookbackMs: 10 })).linked).toBe(1);
  });

  it('skips an entry in flight for longer than the lookback while chaining went on, until a sweep', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    const db = w.database.owner;
    const reserved = await reserveEntryId(db);
    await appendAudit(db, sampleEntry(tenant, w.clock.now(), 2));
    await chainPending(db);
    await sleep(50);
    await appendAudit(db, sampleEntry(tenant, w.clock.now(), 3));
    await chainPending(db);
    const late = normaliseEntry(sampleEntry(tenant, w.clock.now(), 1));
    await db.insert(auditEntries).values({ ...late, id: reserved, contentHash: contentHash(late) });
    // A 10 ms lookback assumes no transaction stays open that long: the straggler is skipped…
    expect((await chainPending(db, { lookbackMs: 10 })).linked).toBe(0);
    // …and found by a sweep that looks back further, as the chainer's periodic one does.
    expect((await chainPending(db, { lookbackMs: 60_000 })).linked).toBe(1);
  });
});

describe('startAuditChainer', () => {
  it('chains on its timer, checkpoints, and chains and checkpoints once more when stopped', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    const db = w.database.owner;
    const logs: string[] = [];
    await appendAudit(db, sampleEntry(tenant, w.clock.now(), 1));
    const chainer = startAuditChainer({
      database: w.database,
      keys: w.keys,
      clock: w.clock,
      config: { auditChainIntervalMs: 10, auditCheckpointInterval: 3600 },
      log: (m) => logs.push(m),
    });
    try {
      // The first pass sweeps and checkpoints at once.
      await expect.poll(() => db.$count(auditCheckpoints), { timeout: 5000 }).toBe(1);
      await appendAudit(db, sampleEntry(tenant, w.clock.now(), 2));
      await expect.poll(() => db.$count(auditLinks), { timeout: 5000 }).toBe(2);
      expect(await db.$count(auditCheckpoints)).toBe(1); // the next one is an hour away
      await appendAudit(db, sampleEntry(tenant, w.clock.now(), 3));
    } finally {
      await chainer.stop();
    }
    expect(await db.$count(auditLinks)).toBe(3);
    const [newest] = await db
      .select()
      .from(auditCheckpoints)
      .orderBy(sql`${auditCheckpoints.seq} desc`)
      .limit(1);
    expect(newest?.seq).toBe(3);
    expect(logs).toEqual([]);
    expect((await verifyLedger(db, w.keys)).ok).toBe(true);
  });
});
