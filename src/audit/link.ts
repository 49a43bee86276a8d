/**
 * The per-tenant hash chain: what a link commits to, and the lock that keeps one
 * chainer per tenant at a time.
 */
import canonicalize from 'canonicalize';
import { notExists, sql } from 'drizzle-orm';
import type { Tx } from '../db/database.ts';
import { auditEntries, auditLinks } from '../db/schema.ts';
import { sha256Base64url } from './sha256.ts';

/** prev_hash of seq 1: 32 zero bytes, base64url. */
export const GENESIS_HASH = 'A'.repeat(43);

export interface LinkFields {
  tenantId: string;
  seq: number;
  entryId: number;
  contentHash: string;
  prevHash: string;
}

/**
 * SHA-256 over the canonical JSON array [label, tenant, seq, entry id, content hash,
 * prev hash]: JSON quoting makes the encoding unambiguous (no field can bleed into
 * the next), and the label keeps these hashes apart from any other SHA-256 we take.
 */
export function linkHash(l: LinkFields): string {
  const canonical = canonicalize([
    'mandate-audit-link/1',
    l.tenantId.toLowerCase(),
    l.seq,
    l.entryId,
    l.contentHash,
    l.prevHash,
  ]);
  if (canonical === undefined) throw new Error('audit link cannot be canonicalised');
  return sha256Base64url(canonical);
}

/**
 * Advisory lock class for audit chains ("audi"). The two-int form of the advisory
 * lock lives in its own key space, apart from the single-bigint locks elsewhere
 * (migrations, key rotation); a hashtext collision between two tenants only makes
 * them take turns.
 */
const AUDIT_LOCK_CLASS = 0x61756469;

/** Serialises chain writes for one tenant until the transaction ends. */
export async function lockTenantChain(tx: Tx, tenantId: string): Promise<void> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(${AUDIT_LOCK_CLASS}::int4, hashtext(${tenantId.toLowerCase()}))`,
  );
}

/** WHERE condition on audit_entries: no link names the entry (an anti-join on audit_links_entry_uq). */
export const hasNoLink = notExists(
  sql`(select 1 from ${auditLinks} where ${auditLinks.entryId} = ${auditEntries.id})`,
);
