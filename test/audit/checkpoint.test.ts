/**
 * Signed checkpoints: they pin each chain's (seq, head) under the broker's key, so that
 * a cut-off end or a chain rewritten with freshly computed hashes is caught, and a
 * checkpoint that is forged or altered is reported itself.
 */
import { and, desc, eq } from 'drizzle-orm';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../src/audit/append.ts';
import { chainPending } from '../../src/audit/chain.ts';
import { CHECKPOINT_TYP, signCheckpoint, signCheckpoints } from '../../src/audit/checkpoint.ts';
import { linkHash } from '../../src/audit/link.ts';
import { recomputeContentHash } from '../../src/audit/stored.ts';
import { verifyLedger } from '../../src/audit/verify.ts';
import { auditCheckpoints, auditEntries, auditLinks, signingKeys } from '../../src/db/schema.ts';
import { ledgerWorld, sampleEntry, type LedgerWorld } from './ledger-world.ts';
import { tamperForGood } from './superuser.ts';

async function history(w: LedgerWorld, perTenant = 5): Promise<void> {
  for (let n = 0; n < perTenant; n++) {
    for (const tenant of w.tenants) {
      await appendAudit(w.database.owner, sampleEntry(tenant, w.clock.now(), n));
    }
  }
  await chainPending(w.database.owner);
  await signCheckpoints(w.database.owner, w.keys, w.clock);
}

const codes = async (w: LedgerWorld) =>
  (await verifyLedger(w.database.owner, w.keys)).problems.map((p) => p.code);

async function newestCheckpoint(w: LedgerWorld, tenant: string) {
  const [row] = await w.database.owner
    .select()
    .from(auditCheckpoints)
    .where(eq(auditCheckpoints.tenantId, tenant))
    .orderBy(desc(auditCheckpoints.seq))
    .limit(1);
  if (!row) throw new Error('no checkpoint');
  return row;
}

describe('signCheckpoint', () => {
  it('signs { tid, seq, head, iat } as a mandate-checkpoint+jwt that the published JWKS verifies', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    const row = await newestCheckpoint(w, tenant);
    const { payload, protectedHeader } = await jwtVerify(
      row.signature,
      createLocalJWKSet(await w.keys.jwks()),
      { typ: CHECKPOINT_TYP },
    );
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: (await w.keys.signer()).kid });
    expect(payload).toEqual({
      tid: tenant,
      seq: 5,
      head: row.headHash,
      iat: Math.floor(w.clock.now().getTime() / 1000),
    });
    const [head] = await w.database.owner
      .select()
      .from(auditLinks)
      .where(and(eq(auditLinks.tenantId, tenant), eq(auditLinks.seq, 5)));
    expect(row.headHash).toBe(head?.hash);
    // Nothing new since: no second checkpoint of the same head.
    expect(await signCheckpoint(w.database.owner, w.keys, tenant, w.clock)).toBeNull();
    expect(await signCheckpoints(w.database.owner, w.keys, w.clock)).toEqual([]);
  });

  it('keeps old checkpoints verifiable after their key has rotated out of JWKS', async () => {
    const w = await ledgerWorld(['acme']);
    await history(w);
    const oldKid = (await w.keys.signer()).kid;
    await w.keys.rotate();
    w.clock.advance(3600); // past the retired key's publication window
    expect((await w.keys.jwks()).keys.map((k) => k.kid)).not.toContain(oldKid);
    await history(w);
    const report = await verifyLedger(w.database.owner, w.keys);
    expect(report).toMatchObject({ ok: true, checkpoints: 2, keys: 'database' });
  });
});

describe('verifyLedger on checkpoints', () => {
  it('reports a checkpoint signed by another key under the broker’s kid', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    const real = await newestCheckpoint(w, tenant);
    const { privateKey } = await generateKeyPair('EdDSA');
    const forged = await new SignJWT({ tid: tenant, seq: real.seq, head: real.headHash })
      .setProtectedHeader({ alg: 'EdDSA', kid: (await w.keys.signer()).kid, typ: CHECKPOINT_TYP })
      .setIssuedAt(Math.floor(real.createdAt.getTime() / 1000))
      .sign(privateKey);
    await w.database.owner
      .insert(auditCheckpoints)
      .values({ ...real, id: undefined, signature: forged });
    expect(await codes(w)).toEqual(['checkpoint_signature_invalid']);
  });

  it('reports a checkpoint row altered after signing', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    const real = await newestCheckpoint(w, tenant);
    await tamperForGood(w.database.owner, async (tx) => {
      await tx.update(auditCheckpoints).set({ seq: 4 }).where(eq(auditCheckpoints.id, real.id));
    });
    expect(await codes(w)).toEqual(['checkpoint_altered']);
  });

  it('reports a validly signed checkpoint whose head is not the chain’s', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    const signer = await w.keys.signer();
    const iat = Math.floor(w.clock.now().getTime() / 1000);
    const wrongHead = 'B'.repeat(43);
    const signature = await new SignJWT({ tid: tenant, seq: 3, head: wrongHead })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: CHECKPOINT_TYP })
      .setIssuedAt(iat)
      .sign(signer.key);
    await w.database.owner.insert(auditCheckpoints).values({
      tenantId: tenant,
      seq: 3,
      headHash: wrongHead,
      signature,
      createdAt: new Date(iat * 1000),
    });
    const report = await verifyLedger(w.database.owner, w.keys);
    expect(report.problems).toEqual([
      expect.objectContaining({ code: 'checkpoint_head_mismatch', seq: 3, tenant_id: tenant }),
    ]);
  });

  it('reports a chain whose end was cut off, entries, links and all', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    await tamperForGood(w.database.owner, async (tx) => {
      const [last] = await tx
        .delete(auditLinks)
        .where(and(eq(auditLinks.tenantId, tenant), eq(auditLinks.seq, 5)))
        .returning();
      await tx.delete(auditEntries).where(eq(auditEntries.id, last!.entryId));
    });
    expect(await codes(w)).toEqual(['checkpoint_beyond_chain']);
  });

  it('reports a chain rewritten with freshly computed hashes, which only the checkpoint betrays', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    await tamperForGood(w.database.owner, async (tx) => {
      const links = await tx
        .select()
        .from(auditLinks)
        .where(eq(auditLinks.tenantId, tenant))
        .orderBy(auditLinks.seq);
      // Edit entry 2's subject, fix its content hash, then re-hash every link from it on.
      const [edited] = await tx
        .update(auditEntries)
        .set({ subject: 'token:innocent' })
        .where(eq(auditEntries.id, links[1]!.entryId))
        .returning();
      const newContent = recomputeContentHash(edited!)!;
      await tx
        .update(auditEntries)
        .set({ contentHash: newContent })
        .where(eq(auditEntries.id, edited!.id));
      let prev = links[0]!.hash;
      for (const link of links.slice(1)) {
        const [entry] = await tx
          .select()
          .from(auditEntries)
          .where(eq(auditEntries.id, link.entryId));
        const hash = linkHash({ ...link, contentHash: entry!.contentHash, prevHash: prev });
        await tx
          .update(auditLinks)
          .set({ prevHash: prev, hash })
          .where(and(eq(auditLinks.tenantId, tenant), eq(auditLinks.seq, link.seq)));
        prev = hash;
      }
    });
    expect(await codes(w)).toEqual(['checkpoint_head_mismatch']);
  });

  it('trusts a key smuggled into the database only until the JWKS is pinned', async () => {
    const w = await ledgerWorld(['acme']);
    const [tenant] = w.tenants as [string];
    await history(w);
    const published = await w.keys.jwks();
    // The attacker appends a forged entry with a link, then signs a checkpoint with a key
    // of their own that they also add to signing_keys.
    const { id, contentHash: ch } = await appendAudit(
      w.database.owner,
      sampleEntry(tenant, w.clock.now(), 99),
    );
    const head = await newestCheckpoint(w, tenant);
    const hash = linkHash({
      tenantId: tenant,
      seq: 6,
      entryId: id,
      contentHash: ch,
      prevHash: head.headHash,
    });
    await w.database.owner
      .insert(auditLinks)
      .values({ tenantId: tenant, seq: 6, entryId: id, prevHash: head.headHash, hash });
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const kid = 'smuggled';
    await w.database.owner.insert(signingKeys).values({
      kid,
      alg: 'EdDSA',
      status: 'retired',
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA' },
    });
    const iat = Math.floor(w.clock.now().getTime() / 1000);
    const signature = await new SignJWT({ tid: tenant, seq: 6, head: hash })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: CHECKPOINT_TYP })
      .setIssuedAt(iat)
      .sign(privateKey);
    await w.database.owner.insert(auditCheckpoints).values({
      tenantId: tenant,
      seq: 6,
      headHash: hash,
      signature,
      createdAt: new Date(iat * 1000),
    });

    expect((await verifyLedger(w.database.owner, w.keys)).ok).toBe(true);
    const pinned = await verifyLedger(w.database.owner, w.keys, { jwks: published });
    expect(pinned).toMatchObject({ ok: false, keys: 'pinned' });
    expect(pinned.problems.map((p) => p.code)).toEqual(['checkpoint_signature_invalid']);
  });
});
