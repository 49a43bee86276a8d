/**
 * verifyLedger's report on an honest ledger, entries still waiting for the chainer,
 * the tenant filter; and exportLedger's JSON lines.
 */
import { eq } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import { signCheckpoints } from '../../src/audit/checkpoint.ts';
import { contentHash } from '../../src/audit/content.ts';
import { exportLedger, type LedgerLine } from '../../src/audit/export.ts';
import { GENESIS_HASH, linkHash } from '../../src/audit/link.ts';
import { verifyLedger } from '../../src/audit/verify.ts';
import { auditEntries } from '../../src/db/schema.ts';
import { ledgerWorld, sampleEntry } from './ledger-world.ts';
import { tamperForGood } from './superuser.ts';

describe('verifyLedger', () => {
  it('reports an honest ledger per tenant: links, head and the newest checkpoint', async () => {
    const w = await ledgerWorld(['acme', 'globex']);
    const [acme, globex] = w.tenants as [string, string];
    for (let n = 0; n < 6; n++)
      await appendAudit(w.database.owner, sampleEntry(n % 2 ? acme : globex, w.clock.now(), n));
    await chainPending(w.database.owner);
    const [first] = await signCheckpoints(w.database.owner, w.keys, w.clock);
    const report = await verifyLedger(w.database.owner, w.keys);
    expect(report).toMatchObject({
      ok: true,
      entries: 6,
      links: 6,
      checkpoints: 2,
      first_bad: null,
      problems: [],
      problem_count: 0,
      keys: 'database',
    });
    expect(report.tenants).toHaveLength(2);
    for (const t of report.tenants) {
      expect(t).toMatchObject({ links: 3, head_seq: 3, checkpoint: { seq: 3, kid: first?.kid } });
    }
  });

  it('lets a fresh entry wait for the chainer, but not an old one, and checks both for edits', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    const now = new Date();
    const fresh = await appendAudit(
      w.database.owner,
      sampleEntry(tenant, new Date(now.getTime() - 5_000), 1),
    );
    expect((await verifyLedger(w.database.owner, w.keys, { now })).problems).toEqual([]);
    const stale = await appendAudit(
      w.database.owner,
      sampleEntry(tenant, new Date(now.getTime() - 120_000), 2),
    );
    const future = await appendAudit(
      w.database.owner,
      sampleEntry(tenant, new Date(now.getTime() + 3_600_000), 3),
    );
    await tamperForGood(w.database.owner, async (tx) => {
      await tx
        .update(auditEntries)
        .set({ actor: 'user:mallory' })
        .where(eq(auditEntries.id, fresh.id));
    });
    const report = await verifyLedger(w.database.owner, w.keys, { now });
    expect(report.problems).toEqual([
      expect.objectContaining({ code: 'entry_edited', entry_id: fresh.id }),
      expect.objectContaining({ code: 'entry_unlinked', entry_id: stale.id }),
      expect.objectContaining({ code: 'entry_unlinked', entry_id: future.id }),
    ]);
    expect(report.first_bad).toEqual(report.problems[0]);
  });

  it('verifies one tenant alone, untroubled by another tenant’s damage', async () => {
    const w = await ledgerWorld(['acme', 'globex']);
    const [acme, globex] = w.tenants as [string, string];
    await appendAudit(w.database.owner, sampleEntry(acme, w.clock.now(), 1));
    const bad = await appendAudit(w.database.owner, sampleEntry(globex, w.clock.now(), 2));
    await chainPending(w.database.owner);
    await tamperForGood(w.database.owner, async (tx) => {
      await tx
        .update(auditEntries)
        .set({ action: 'nothing.happened' })
        .where(eq(auditEntries.id, bad.id));
    });
    expect(await verifyLedger(w.database.owner, w.keys, { tenantId: acme })).toMatchObject({
      ok: true,
      entries: 1,
    });
    const report = await verifyLedger(w.database.owner, w.keys, { tenantId: globex });
    expect(report.problems.map((p) => [p.code, p.entry_id, p.seq])).toEqual([
      ['entry_edited', bad.id, 1],
      ['link_hash_mismatch', bad.id, 1],
    ]);
  });

  it('lists at most maxProblems problems and counts them all', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    for (let n = 0; n < 5; n++)
      await appendAudit(w.database.owner, sampleEntry(tenant, w.clock.now(), n));
    const report = await verifyLedger(w.database.owner, w.keys, { maxProblems: 2 });
    expect(report).toMatchObject({ ok: false, problem_count: 5 });
    expect(report.problems).toHaveLength(2);
  });
});

describe('exportLedger', () => {
  it('writes one JSON line per entry with its link, chain order first, then pending entries', async () => {
    const w = await ledgerWorld(['acme', 'globex']);
    const [acme] = w.tenants as [string, string];
    for (let n = 0; n < 4; n++)
      await appendAudit(w.database.owner, sampleEntry(w.tenants[n % 2]!, w.clock.now(), n));
    await chainPending(w.database.owner);
    await signCheckpoints(w.database.owner, w.keys, w.clock);
    const pending = await appendAudit(w.database.owner, sampleEntry(acme, w.clock.now(), 9));

    const lines: string[] = [];
    expect(await exportLedger(w.database.owner, { write: (l) => void lines.push(l) })).toEqual({
      entries: 5,
      tenants: 2,
    });
    const rows = lines.map((l) => JSON.parse(l) as LedgerLine);
    expect(rows.map((r) => [r.tenant, r.link?.seq ?? null])).toEqual([
      ['acme', 1],
      ['acme', 2],
      ['acme', null],
      ['globex', 1],
      ['globex', 2],
    ]);
    expect(rows[2]?.id).toBe(pending.id);

    // An export checks out on its own: content hashes, links and the checkpoint's JWS.
    const keys = createLocalJWKSet(await w.keys.jwks());
    let prev = GENESIS_HASH;
    for (const r of rows.filter((x) => x.tenant === 'acme' && x.link)) {
      const link = r.link!;
      const content = contentHash({
        tenantId: r.tenant_id,
        at: new Date(r.at),
        action: r.action,
        actor: r.actor,
        subject: r.subject,
        decision: r.decision,
        policyId: r.policy_id,
        policyVersion: r.policy_version,
        policyDigest: r.policy_digest,
        riskScore: r.risk_score,
        inputs: r.inputs,
      });
      expect(content).toBe(r.content_hash);
      expect(link.prev_hash).toBe(prev);
      expect(
        linkHash({
          tenantId: r.tenant_id,
          seq: link.seq,
          entryId: r.id,
          contentHash: content,
          prevHash: prev,
        }),
      ).toBe(link.hash);
      prev = link.hash;
    }
    const [checkpoint] = rows[1]?.checkpoints ?? [];
    const { payload } = await jwtVerify(checkpoint!.signature, keys);
    expect(payload).toMatchObject({ tid: acme, seq: 2, head: prev });

    const one: string[] = [];
    await exportLedger(w.database.owner, { tenantId: acme, write: (l) => void one.push(l) });
    expect(one).toEqual(lines.slice(0, 3));
  });
});
