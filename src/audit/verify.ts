/**
 * `audit verify`: finds any edited, deleted, inserted or reordered row of the ledger,
 * including changes made by a database superuser with the append-only triggers off.
 *
 * - every entry's content hash is recomputed from its columns;
 * - every tenant's chain is walked in seq order (verify-chain.ts);
 * - entries no link names are checked for age, and duplicate links and ids are sought;
 * - every checkpoint's signature is verified, its row compared with what was signed,
 *   and its (seq, head) compared with the chain, so that cutting off the chain's end,
 *   or rewriting it wholesale with freshly computed hashes, shows too.
 *
 * The checkpoints are only as trustworthy as the keys they are checked against. By
 * default those come from the same database (every key the broker ever had, so that old
 * checkpoints stay verifiable after rotation); someone who can rewrite the ledger could
 * add a key as well. Pass `jwks` (the published JWK Set, saved elsewhere) to pin them.
 */
import type { JSONWebKeySet, JWK } from 'jose';
import type { Database, DbOrTx } from '../db/database.ts';
import { signingKeys, tenants } from '../db/schema.ts';
import { tenantDb } from '../db/tenancy.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { checkpointsOf, verifyCheckpointSignature } from './checkpoint.ts';
import { ProblemList, type LedgerProblem } from './problems.ts';
import { walkChain } from './verify-chain.ts';
import { checkDuplicates, checkUnlinked } from './verify-entries.ts';

export interface VerifyOptions {
  /** Verify one tenant (its id); all tenants when absent. */
  tenantId?: string;
  /** The time the grace period counts back from (default: now). */
  now?: Date;
  /** How long an entry may wait for the chainer before it counts as missing from the chain (default 60 s). */
  graceMs?: number;
  /** Pinned verification keys for checkpoints, instead of the database's. */
  jwks?: JSONWebKeySet;
  /** Problems listed at most (default 1000); the count goes on. */
  maxProblems?: number;
  /** Rows per query (default 2000). */
  pageSize?: number;
}

export interface TenantLedger {
  tenant_id: string;
  links: number;
  head_seq: number | null;
  head_hash: string | null;
  /** The newest checkpoint that verified and matched the chain. */
  checkpoint: { id: number; seq: number; kid: string; signed_at: string } | null;
}

export interface LedgerReport {
  ok: boolean;
  /** Entry rows examined. */
  entries: number;
  links: number;
  checkpoints: number;
  /** The first problem found (chain order, then the other checks), or null. */
  first_bad: LedgerProblem | null;
  problems: LedgerProblem[];
  /** All problems, including any beyond the listed ones. */
  problem_count: number;
  /** Where the checkpoint keys came from. */
  keys: 'pinned' | 'database';
  tenants: TenantLedger[];
}

/** Every public key the broker has had, so that checkpoints outlive key rotation. */
async function databaseKeys(db: DbOrTx, keys: Pick<KeyStore, 'jwks'>): Promise<JSONWebKeySet> {
  const byKid = new Map<string, JWK>();
  for (const k of (await keys.jwks()).keys) byKid.set(k.kid ?? '', k);
  for (const { publicJwk } of await db
    .select({ publicJwk: signingKeys.publicJwk })
    .from(signingKeys)) {
    if (!byKid.has(publicJwk.kid ?? '')) byKid.set(publicJwk.kid ?? '', publicJwk);
  }
  return { keys: [...byKid.values()] };
}

/** The tenants to verify: the one asked for, or every tenant (each in its own scope). */
async function tenantsToWalk(db: Database, tenantId: string | undefined): Promise<string[]> {
  if (tenantId !== undefined) return [tenantId];
  return (await db.select({ id: tenants.id }).from(tenants)).map((r) => r.id).sort();
}

export async function verifyLedger(
  db: Database,
  keys: Pick<KeyStore, 'jwks'>,
  options: VerifyOptions = {},
): Promise<LedgerReport> {
  const tenantId = options.tenantId?.toLowerCase();
  const pageSize = options.pageSize ?? 2000;
  const problems = new ProblemList(options.maxProblems ?? 1000);
  const keySet = options.jwks ?? (await databaseKeys(db, keys));
  const report: Omit<LedgerReport, 'ok' | 'first_bad' | 'problems' | 'problem_count'> = {
    entries: 0,
    links: 0,
    checkpoints: 0,
    keys: options.jwks ? 'pinned' : 'database',
    tenants: [],
  };

  const now = options.now ?? new Date();
  for (const tenant of await tenantsToWalk(db, tenantId)) {
    // Row-level security: each tenant's ledger is read in that tenant's scope.
    const scoped = tenantDb(db, tenant);
    const signed = [];
    const checkpoints = await checkpointsOf(scoped, tenant);
    for (const cp of checkpoints) {
      report.checkpoints += 1;
      const at = { tenant_id: tenant, seq: cp.seq, checkpoint_id: cp.id };
      let claims;
      try {
        claims = await verifyCheckpointSignature(cp.signature, keySet);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        problems.add({
          ...at,
          code: 'checkpoint_signature_invalid',
          message: `checkpoint ${cp.id} does not verify (${typeof code === 'string' ? code : String(err)})`,
        });
        continue;
      }
      if (
        claims.tid !== tenant ||
        claims.seq !== cp.seq ||
        claims.head !== cp.headHash ||
        claims.iat * 1000 !== cp.createdAt.getTime()
      ) {
        problems.add({
          ...at,
          code: 'checkpoint_altered',
          message: `checkpoint ${cp.id} differs from what was signed`,
        });
      }
      // From here on the signed values are the truth, whatever the row says.
      if (claims.tid === tenant) signed.push({ id: cp.id, ...claims });
    }

    const walk = await walkChain(
      scoped,
      tenant,
      new Set(signed.map((c) => c.seq)),
      problems,
      pageSize,
    );
    report.entries += walk.entries;
    report.links += walk.links;
    let newest: TenantLedger['checkpoint'] = null;
    for (const c of signed) {
      const at = { tenant_id: tenant, seq: c.seq, checkpoint_id: c.id };
      if (!walk.head || c.seq > walk.head.seq) {
        problems.add({
          ...at,
          code: 'checkpoint_beyond_chain',
          message: `checkpoint ${c.id} signed seq ${c.seq}, but the chain ends at ${walk.head?.seq ?? 0}`,
        });
      } else if (walk.hashes.get(c.seq) !== c.head) {
        problems.add({
          ...at,
          code: 'checkpoint_head_mismatch',
          message: `checkpoint ${c.id} signed another hash for seq ${c.seq} than the chain has`,
        });
      } else if (!newest || c.seq >= newest.seq) {
        newest = {
          id: c.id,
          seq: c.seq,
          kid: c.kid,
          signed_at: new Date(c.iat * 1000).toISOString(),
        };
      }
    }
    // A tenant with neither links nor checkpoints has no chain to report (its entries,
    // if any, are checked below).
    if (tenantId !== undefined || walk.links > 0 || checkpoints.length > 0) {
      report.tenants.push({
        tenant_id: tenant,
        links: walk.links,
        head_seq: walk.head?.seq ?? null,
        head_hash: walk.head?.hash ?? null,
        checkpoint: newest,
      });
    }
    report.entries += await checkUnlinked(scoped, problems, {
      tenantId: tenant,
      now,
      graceMs: options.graceMs ?? 60_000,
      pageSize,
    });
    await checkDuplicates(scoped, problems, tenant);
  }

  return {
    ok: problems.count === 0,
    entries: report.entries,
    links: report.links,
    checkpoints: report.checkpoints,
    first_bad: problems.items[0] ?? null,
    problems: problems.items,
    problem_count: problems.count,
    keys: report.keys,
    tenants: report.tenants,
  };
}
