/**
 * Signed checkpoints: the broker's signing key states "tenant T's chain had reached
 * seq N with head hash H at time iat". The chain alone shows edits inside it; only a
 * signature shows that its end was not cut off (or rewritten, links and all, by
 * someone who can recompute SHA-256). A compact JWS, `typ: mandate-checkpoint+jwt`,
 * over { tid, seq, head, iat }.
 */
import { asc, desc, eq } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { epochSeconds, type Clock } from '../clock.ts';
import { SIGNING_ALGS } from '../config.ts';
import type { Database, DbOrTx } from '../db/database.ts';
import { auditCheckpoints, auditLinks, tenants } from '../db/schema.ts';
import { inTenant, tenantDb } from '../db/tenancy.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { AuditError } from './errors.ts';
import { lockTenantChain } from './link.ts';

export const CHECKPOINT_TYP = 'mandate-checkpoint+jwt';

export interface CheckpointClaims {
  tid: string;
  seq: number;
  head: string;
  iat: number;
}

export interface SignedCheckpoint extends CheckpointClaims {
  id: number;
  kid: string;
  signature: string;
}

async function head(db: DbOrTx, tenantId: string) {
  const [link] = await db
    .select({ seq: auditLinks.seq, hash: auditLinks.hash })
    .from(auditLinks)
    .where(eq(auditLinks.tenantId, tenantId))
    .orderBy(desc(auditLinks.seq))
    .limit(1);
  return link;
}

async function newestCheckpointSeq(db: DbOrTx, tenantId: string): Promise<number | undefined> {
  const [row] = await db
    .select({ seq: auditCheckpoints.seq })
    .from(auditCheckpoints)
    .where(eq(auditCheckpoints.tenantId, tenantId))
    .orderBy(desc(auditCheckpoints.seq))
    .limit(1);
  return row?.seq;
}

/**
 * Signs and stores a checkpoint of the tenant's chain as it stands; null when the
 * tenant has no chain yet, or when the newest checkpoint already covers its head.
 */
export async function signCheckpoint(
  db: Database,
  keys: Pick<KeyStore, 'signer'>,
  tenantId: string,
  clock: Clock,
): Promise<SignedCheckpoint | null> {
  const tid = tenantId.toLowerCase();
  // Fetched before the transaction: the key store reads through its own handle, and on
  // PGlite (one connection) that read would wait for our transaction forever.
  const signer = await keys.signer();
  return inTenant(db, tid, async (tx) => {
    // The chain lock makes the head final for this transaction and keeps two brokers
    // from signing the same head twice.
    await lockTenantChain(tx, tid);
    const current = await head(tx, tid);
    if (!current) return null;
    const covered = await newestCheckpointSeq(tx, tid);
    if (covered !== undefined && covered >= current.seq) return null;
    const iat = epochSeconds(clock);
    const signature = await new SignJWT({ tid, seq: current.seq, head: current.hash })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: CHECKPOINT_TYP })
      .setIssuedAt(iat)
      .sign(signer.key);
    const [row] = await tx
      .insert(auditCheckpoints)
      .values({
        tenantId: tid,
        seq: current.seq,
        headHash: current.hash,
        signature,
        // Exactly iat, so that verify can hold the row's time to the signed one.
        createdAt: new Date(iat * 1000),
      })
      .returning({ id: auditCheckpoints.id });
    if (!row) throw new AuditError('ERR_AUDIT_CHECKPOINT', 'checkpoint INSERT returned no row');
    return {
      id: row.id,
      tid,
      seq: current.seq,
      head: current.hash,
      iat,
      kid: signer.kid,
      signature,
    };
  });
}

/** Checkpoints every tenant whose chain grew since its newest checkpoint. */
export async function signCheckpoints(
  db: Database,
  keys: Pick<KeyStore, 'signer'>,
  clock: Clock,
): Promise<SignedCheckpoint[]> {
  const signed: SignedCheckpoint[] = [];
  for (const { id } of await db.select({ id: tenants.id }).from(tenants)) {
    // Two index probes per tenant, in its scope, decide whether anything is due.
    const scoped = tenantDb(db, id);
    const current = await head(scoped, id);
    if (!current) continue;
    const covered = await newestCheckpointSeq(scoped, id);
    if (covered !== undefined && covered >= current.seq) continue;
    const checkpoint = await signCheckpoint(db, keys, id, clock);
    if (checkpoint) signed.push(checkpoint);
  }
  return signed;
}

/** Verifies a checkpoint's JWS against a key set; throws jose's coded errors when it does not verify. */
export async function verifyCheckpointSignature(
  signature: string,
  keySet: JSONWebKeySet,
): Promise<CheckpointClaims & { kid: string }> {
  const { payload, protectedHeader } = await jwtVerify(signature, createLocalJWKSet(keySet), {
    typ: CHECKPOINT_TYP,
    algorithms: [...SIGNING_ALGS],
  });
  const { tid, seq, head: headHash, iat } = payload as Record<string, unknown>;
  if (
    typeof tid !== 'string' ||
    typeof seq !== 'number' ||
    typeof headHash !== 'string' ||
    typeof iat !== 'number'
  ) {
    throw new AuditError('ERR_AUDIT_CHECKPOINT', 'checkpoint claims tid, seq, head, iat missing');
  }
  return { tid, seq, head: headHash, iat, kid: protectedHeader.kid ?? '' };
}

/** A tenant's checkpoints, oldest first. */
export const checkpointsOf = (db: DbOrTx, tenantId: string) =>
  db
    .select()
    .from(auditCheckpoints)
    .where(eq(auditCheckpoints.tenantId, tenantId))
    .orderBy(asc(auditCheckpoints.seq), asc(auditCheckpoints.id));
