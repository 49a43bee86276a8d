/**
 * The issue's must-show: a random single-row edit, deletion, insertion or swap, made
 * by a database superuser with the append-only triggers off (and keys and unique
 * indexes dropped where a duplicate needs it), is detected in every one of 200 trials;
 * the untampered ledger verifies clean.
 *
 * Each trial tampers inside a transaction, runs verify on that transaction, and rolls
 * back, so the 200 trials share one generated history. Reproduce a failure with
 * AUDIT_TAMPER_SEED=<seed named in the failure>.
 *
 * Not tampered here, by design: links' chained_at and checkpoints' id (bookkeeping no
 * hash covers), and deleting a checkpoint (that loses evidence but alters no entry;
 * the previous checkpoint still pins the chain up to its seq).
 */
import { and, eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import { CHECKPOINT_TYP, signCheckpoints } from '../../src/audit/checkpoint.ts';
import { contentHash, normaliseEntry } from '../../src/audit/content.ts';
import { linkHash } from '../../src/audit/link.ts';
import { recomputeContentHash } from '../../src/audit/stored.ts';
import { verifyLedger } from '../../src/audit/verify.ts';
import type { Tx } from '../../src/db/database.ts';
import { auditCheckpoints, auditEntries, auditLinks } from '../../src/db/schema.ts';
import { ledgerWorld, prng, sampleEntry, type LedgerWorld } from './ledger-world.ts';
import { whileTampered } from './superuser.ts';

const SEED = Number(process.env.AUDIT_TAMPER_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TRIALS = 200;

const ENTRY_COLUMNS = {
  tenant_id: null, // set to another tenant's id
  at: sql`at - interval '1 second'`,
  action: sql`action || 'x'`,
  actor: sql`actor || 'x'`,
  subject: sql`subject || 'x'`,
  decision: sql`case when decision is null then 'ALLOW' when decision = 'ALLOW' then 'DENY' else null end`,
  policy_id: sql`coalesce(policy_id, '') || 'x'`,
  policy_version: sql`coalesce(policy_version, 0) + 1`,
  policy_digest: sql`coalesce(policy_digest, '') || 'x'`,
  risk_score: sql`coalesce(risk_score, 0) + 0.5`,
  inputs: sql`inputs || '{"forged": true}'::jsonb`,
  content_hash: sql`(case when left(content_hash, 1) = 'A' then 'B' else 'A' end) || substr(content_hash, 2)`,
  id: null, // moved to an unused id, or onto another entry's
} as const;
type EntryColumn = keyof typeof ENTRY_COLUMNS;

const flip = (column: string) =>
  sql.raw(`(case when left(${column}, 1) = 'A' then 'B' else 'A' end) || substr(${column}, 2)`);

type Tamper =
  | { kind: 'edit entry'; row: number; column: EntryColumn; rehash: boolean; other: number }
  | { kind: 'delete entry'; row: number }
  | { kind: 'insert entry'; variant: 'forged' | 'copy' | 'same id'; row: number; other: number }
  | { kind: 'swap entries'; row: number; other: number }
  | {
      kind: 'edit link';
      row: number;
      column: 'seq' | 'entry_id' | 'prev_hash' | 'hash' | 'tenant_id';
      other: number;
    }
  | { kind: 'delete link'; row: number }
  | { kind: 'insert link'; variant: 'relink' | 'missing entry' | 'copy'; row: number }
  | { kind: 'swap links'; row: number; other: number }
  | {
      kind: 'edit checkpoint';
      row: number;
      column: 'seq' | 'head_hash' | 'signature' | 'tenant_id' | 'created_at';
      other: number;
    }
  | { kind: 'insert checkpoint'; variant: 'replayed' | 'self-signed'; row: number };

interface Snapshot {
  entries: { id: number; tenantId: string }[];
  links: { tenantId: string; seq: number; entryId: number }[];
  checkpoints: { id: number; tenantId: string; seq: number; signature: string }[];
  heads: Map<string, { seq: number; hash: string }>;
  maxId: number;
  from: number;
  to: number;
}

async function generateHistory(w: LedgerWorld, random: () => number): Promise<void> {
  const db = w.database.owner;
  let n = 0;
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 75; i++) {
      const tenant = w.tenants[Math.floor(random() * w.tenants.length)]!;
      w.clock.advance(1 + Math.floor(random() * 20));
      await appendAudit(db, sampleEntry(tenant, w.clock.now(), n++, random));
    }
    await chainPending(db, { batchSize: 40 });
    await signCheckpoints(db, w.keys, w.clock);
    if (round === 1) await w.keys.rotate(); // checkpoints under two keys
  }
}

async function snapshot(w: LedgerWorld): Promise<Snapshot> {
  const db = w.database.owner;
  const entries = await db
    .select({ id: auditEntries.id, tenantId: auditEntries.tenantId, at: auditEntries.at })
    .from(auditEntries)
    .orderBy(auditEntries.id);
  const links = await db
    .select({
      tenantId: auditLinks.tenantId,
      seq: auditLinks.seq,
      entryId: auditLinks.entryId,
      hash: auditLinks.hash,
    })
    .from(auditLinks)
    .orderBy(auditLinks.tenantId, auditLinks.seq);
  const heads = new Map<string, { seq: number; hash: string }>();
  for (const l of links) heads.set(l.tenantId, { seq: l.seq, hash: l.hash });
  const checkpoints = await db
    .select({
      id: auditCheckpoints.id,
      tenantId: auditCheckpoints.tenantId,
      seq: auditCheckpoints.seq,
      signature: auditCheckpoints.signature,
    })
    .from(auditCheckpoints)
    .orderBy(auditCheckpoints.id);
  return {
    entries,
    links,
    checkpoints,
    heads,
    maxId: entries.at(-1)?.id ?? 0,
    from: entries[0]?.at.getTime() ?? 0,
    to: entries.at(-1)?.at.getTime() ?? 0,
  };
}

function tampers(s: Snapshot): fc.Arbitrary<Tamper> {
  const entry = fc.nat({ max: s.entries.length - 1 });
  const link = fc.nat({ max: s.links.length - 1 });
  const checkpoint = fc.nat({ max: s.checkpoints.length - 1 });
  const other = fc.nat({ max: 10_000 });
  return fc.oneof(
    fc.record({
      kind: fc.constant('edit entry' as const),
      row: entry,
      column: fc.constantFrom(...(Object.keys(ENTRY_COLUMNS) as EntryColumn[])),
      rehash: fc.boolean(),
      other,
    }),
    fc.record({ kind: fc.constant('delete entry' as const), row: entry }),
    fc.record({
      kind: fc.constant('insert entry' as const),
      variant: fc.constantFrom('forged' as const, 'copy' as const, 'same id' as const),
      row: entry,
      other,
    }),
    fc.record({ kind: fc.constant('swap entries' as const), row: entry, other }),
    fc.record({
      kind: fc.constant('edit link' as const),
      row: link,
      column: fc.constantFrom(
        'seq' as const,
        'entry_id' as const,
        'prev_hash' as const,
        'hash' as const,
        'tenant_id' as const,
      ),
      other,
    }),
    fc.record({ kind: fc.constant('delete link' as const), row: link }),
    fc.record({
      kind: fc.constant('insert link' as const),
      variant: fc.constantFrom('relink' as const, 'missing entry' as const, 'copy' as const),
      row: link,
    }),
    fc.record({ kind: fc.constant('swap links' as const), row: link, other }),
    fc.record({
      kind: fc.constant('edit checkpoint' as const),
      row: checkpoint,
      column: fc.constantFrom(
        'seq' as const,
        'head_hash' as const,
        'signature' as const,
        'tenant_id' as const,
        'created_at' as const,
      ),
      other,
    }),
    fc.record({
      kind: fc.constant('insert checkpoint' as const),
      variant: fc.constantFrom('replayed' as const, 'self-signed' as const),
      row: checkpoint,
    }),
  );
}

/** Another index than `row` among `length`, chosen by `other`. */
const otherThan = (row: number, other: number, length: number) =>
  (row + 1 + (other % (length - 1))) % length;

async function apply(tx: Tx, w: LedgerWorld, s: Snapshot, t: Tamper): Promise<void> {
  const otherTenant = (tenant: string) =>
    w.tenants[(w.tenants.indexOf(tenant) + 1) % w.tenants.length]!;
  const linkWhere = (l: { tenantId: string; seq: number }) =>
    and(eq(auditLinks.tenantId, l.tenantId), eq(auditLinks.seq, l.seq));
  switch (t.kind) {
    case 'edit entry': {
      const e = s.entries[t.row]!;
      const where = sql`where id = ${e.id}`;
      if (t.column === 'tenant_id') {
        await tx.execute(
          sql`update audit_entries set tenant_id = ${otherTenant(e.tenantId)} ${where}`,
        );
      } else if (t.column === 'id') {
        const target =
          t.other % 2 ? s.maxId + 1000 : s.entries[otherThan(t.row, t.other, s.entries.length)]!.id;
        await tx.execute(sql`update audit_entries set id = ${target} ${where}`);
        return;
      } else {
        await tx.execute(
          sql`update audit_entries set ${sql.raw(t.column)} = ${ENTRY_COLUMNS[t.column]} ${where}`,
        );
      }
      if (t.rehash && t.column !== 'content_hash') {
        // A smarter forger: the entry hashes right again; only its link can tell.
        const [row] = await tx.select().from(auditEntries).where(eq(auditEntries.id, e.id));
        const hash = recomputeContentHash(row!)!;
        await tx.execute(sql`update audit_entries set content_hash = ${hash} ${where}`);
      }
      return;
    }
    case 'delete entry':
      await tx.execute(sql`delete from audit_entries where id = ${s.entries[t.row]!.id}`);
      return;
    case 'insert entry': {
      const e = s.entries[t.row]!;
      if (t.variant === 'forged') {
        // Dated inside the history, with a content hash anyone can compute.
        const at = new Date(s.from + ((s.to - s.from) * (t.other % 1000)) / 1000);
        const content = normaliseEntry(sampleEntry(e.tenantId, at, 50_000 + t.other));
        await tx.insert(auditEntries).values({ ...content, contentHash: contentHash(content) });
      } else {
        const id =
          t.variant === 'same id'
            ? sql`id`
            : sql`nextval(pg_get_serial_sequence('audit_entries', 'id'))`;
        await tx.execute(sql`
          insert into audit_entries (id, tenant_id, at, action, actor, subject, decision, policy_id,
            policy_version, policy_digest, risk_score, inputs, content_hash)
          select ${id}, tenant_id, at, action, actor, subject, decision, policy_id,
            policy_version, policy_digest, risk_score, inputs, content_hash
          from audit_entries where id = ${e.id}`);
      }
      return;
    }
    case 'swap entries': {
      const a = s.entries[t.row]!.id;
      const b = s.entries[otherThan(t.row, t.other, s.entries.length)]!.id;
      const columns = [
        'tenant_id',
        'at',
        'action',
        'actor',
        'subject',
        'decision',
        'policy_id',
        'policy_version',
        'policy_digest',
        'risk_score',
        'inputs',
        'content_hash',
      ];
      await tx.execute(sql`
        update audit_entries e set ${sql.raw(columns.map((c) => `${c} = o.${c}`).join(', '))}
        from audit_entries o
        where (e.id = ${a} and o.id = ${b}) or (e.id = ${b} and o.id = ${a})`);
      return;
    }
    case 'edit link': {
      const l = s.links[t.row]!;
      const set = {
        seq: [sql`seq + 1`, sql`0`, sql`seq + 1000`][t.other % 3]!,
        entry_id: sql`${s.links[otherThan(t.row, t.other, s.links.length)]!.entryId}`,
        prev_hash: flip('prev_hash'),
        hash: flip('hash'),
        tenant_id: sql`${otherTenant(l.tenantId)}`,
      }[t.column];
      await tx.execute(
        sql`update audit_links set ${sql.raw(t.column)} = ${set} where tenant_id = ${l.tenantId} and seq = ${l.seq}`,
      );
      return;
    }
    case 'delete link':
      await tx.delete(auditLinks).where(linkWhere(s.links[t.row]!));
      return;
    case 'insert link': {
      const l = s.links[t.row]!;
      if (t.variant === 'copy') {
        await tx.execute(sql`insert into audit_links select * from audit_links
          where tenant_id = ${l.tenantId} and seq = ${l.seq}`);
        return;
      }
      // Appended at the head with a correct hash: the chain itself looks fine.
      const head = s.heads.get(l.tenantId)!;
      const entryId = t.variant === 'relink' ? l.entryId : s.maxId + 1000;
      const [entry] = await tx.select().from(auditEntries).where(eq(auditEntries.id, entryId));
      const fields = {
        tenantId: l.tenantId,
        seq: head.seq + 1,
        entryId,
        prevHash: head.hash,
      };
      const hash = linkHash({ ...fields, contentHash: entry?.contentHash ?? 'A'.repeat(43) });
      await tx.insert(auditLinks).values({ ...fields, hash });
      return;
    }
    case 'swap links': {
      const a = s.links[t.row]!;
      const b = s.links[otherThan(t.row, t.other, s.links.length)]!;
      await tx.execute(sql`
        update audit_links l set entry_id = o.entry_id, prev_hash = o.prev_hash, hash = o.hash,
          chained_at = o.chained_at
        from audit_links o
        where (l.tenant_id = ${a.tenantId} and l.seq = ${a.seq} and o.tenant_id = ${b.tenantId} and o.seq = ${b.seq})
           or (l.tenant_id = ${b.tenantId} and l.seq = ${b.seq} and o.tenant_id = ${a.tenantId} and o.seq = ${a.seq})`);
      return;
    }
    case 'edit checkpoint': {
      const c = s.checkpoints[t.row]!;
      const set = {
        seq: c.seq > 1 ? sql`seq - 1` : sql`seq + 1`,
        head_hash: flip('head_hash'),
        signature:
          t.other % 2
            ? sql`${s.checkpoints[otherThan(t.row, t.other, s.checkpoints.length)]!.signature}`
            : // a changed byte inside the signature segment (not its last character, whose
              // low bits base64url may ignore)
              sql`overlay(signature placing (case when substr(signature, length(signature) - 10, 1) = 'A' then 'B' else 'A' end) from length(signature) - 10 for 1)`,
        tenant_id: sql`${otherTenant(c.tenantId)}`,
        created_at: sql`created_at + interval '1 second'`,
      }[t.column];
      await tx.execute(
        sql`update audit_checkpoints set ${sql.raw(t.column)} = ${set} where id = ${c.id}`,
      );
      return;
    }
    case 'insert checkpoint': {
      const c = s.checkpoints[t.row]!;
      if (t.variant === 'replayed') {
        // A real signature on a row that claims a later seq.
        await tx.execute(sql`insert into audit_checkpoints (tenant_id, seq, head_hash, signature, created_at)
          select tenant_id, seq + 1, head_hash, signature, created_at from audit_checkpoints where id = ${c.id}`);
        return;
      }
      const head = s.heads.get(c.tenantId)!;
      const { privateKey } = await generateKeyPair('EdDSA');
      const iat = Math.floor(Date.now() / 1000);
      const signature = await new SignJWT({ tid: c.tenantId, seq: head.seq, head: head.hash })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'attacker', typ: CHECKPOINT_TYP })
        .setIssuedAt(iat)
        .sign(privateKey);
      await tx.insert(auditCheckpoints).values({
        tenantId: c.tenantId,
        seq: head.seq,
        headHash: head.hash,
        signature,
        createdAt: new Date(iat * 1000),
      });
      return;
    }
  }
}

describe('audit verify against a superuser with the triggers off', () => {
  it(`detects a random single-row edit, deletion, insertion or swap in each of ${TRIALS} trials`, async () => {
    const w = await ledgerWorld(['acme', 'globex', 'initech']);
    const db = w.database.owner;
    await generateHistory(w, prng(SEED));
    const s = await snapshot(w);
    expect(s.entries.length).toBeGreaterThanOrEqual(300);
    expect(s.links).toHaveLength(s.entries.length);
    // Fetched outside the trials' transactions: on PGlite the key store's own reads
    // would wait for them. verify still reads every historical key through the handle.
    const published = await w.keys.jwks();
    const keys = { jwks: () => Promise.resolve(published) };
    expect(await verifyLedger(db, keys)).toMatchObject({
      ok: true,
      problems: [],
      entries: s.entries.length,
    });
    // The control: guards off and constraints dropped, nothing changed, nothing reported.
    expect(
      (await whileTampered(db, (tx) => verifyLedger(tx, keys), { dropConstraints: true })).problems,
    ).toEqual([]);

    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(tampers(s), async (t) => {
        const report = await whileTampered(
          db,
          async (tx) => {
            await apply(tx, w, s, t);
            return verifyLedger(tx, keys);
          },
          { dropConstraints: true },
        );
        expect(report.ok, `seed ${SEED}: ${JSON.stringify(t)} went unnoticed`).toBe(false);
        expect(report.first_bad).not.toBeNull();
        seen.set(t.kind, (seen.get(t.kind) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: TRIALS },
    );
    expect([...seen.keys()].sort()).toEqual([
      'delete entry',
      'delete link',
      'edit checkpoint',
      'edit entry',
      'edit link',
      'insert checkpoint',
      'insert entry',
      'insert link',
      'swap entries',
      'swap links',
    ]);
    // Every trial was rolled back: the ledger verifies clean again.
    expect((await verifyLedger(db, keys)).problems).toEqual([]);
  }, 300_000);
});
