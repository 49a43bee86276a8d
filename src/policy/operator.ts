/**
 * The operator's policy commands (Node only): `policy push`, `policy list` and
 * `audit replay`. src/operator/commands.ts wires them into the CLI's table;
 * refusals become RegistryErrors so that both transports report them alike.
 */
import { readFile } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import { systemClock, type Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { auditEntries, tenants } from '../db/schema.ts';
import { tenantDb } from '../db/tenancy.ts';
import { RegistryError, type RegistryErrorCode } from '../registry/errors.ts';
import { tenantIdOf } from '../registry/tenants.ts';
import { listBundles, pushBundle } from './bundles.ts';
import { loadNodeCedar } from './cedar.ts';
import { PolicyEngine } from './engine.ts';
import { PolicyError, type PolicyErrorCode } from './errors.ts';
import { replayDecision } from './replay.ts';

type Result = Record<string, unknown>;

const REGISTRY_CODE: Record<PolicyErrorCode, RegistryErrorCode> = {
  ERR_BUNDLE_INVALID: 'ERR_INVALID',
  ERR_BUNDLE_NOT_FOUND: 'ERR_NOT_FOUND',
  ERR_BUNDLE_DIGEST: 'ERR_INVALID',
  ERR_BUNDLE_CONFLICT: 'ERR_CONFLICT',
  ERR_REQUEST_INVALID: 'ERR_INVALID',
  ERR_CEDAR: 'ERR_INVALID',
};

async function asRegistryErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PolicyError) {
      throw new RegistryError(REGISTRY_CODE[err.code], err.message, { cause: err });
    }
    throw err;
  }
}

/**
 * `policy push --tenant T --file F`: F holds Cedar policies (text). A stored version
 * is recorded in the ledger as `policy.pushed` by `operator`, at `clock`'s time.
 */
export async function policyPush(
  db: Database,
  a: { tenant: string; file?: string | undefined; policies?: string | undefined },
  clock: Clock = systemClock,
): Promise<Result> {
  const tenantId = await tenantIdOf(db, a.tenant);
  let policies = a.policies;
  if (policies === undefined) {
    if (a.file === undefined) throw new RegistryError('ERR_INVALID', 'give --file');
    try {
      policies = await readFile(a.file, 'utf8');
    } catch (err) {
      throw new RegistryError(
        'ERR_INVALID',
        `cannot read --file ${a.file}: ${(err as Error).message}`,
      );
    }
  }
  const text = policies;
  const cedar = await loadNodeCedar();
  const pushed = await asRegistryErrors(() =>
    pushBundle(tenantDb(db, tenantId), tenantId, text, 'operator', cedar, clock),
  );
  return {
    tenant: a.tenant,
    id: pushed.id,
    version: pushed.version,
    digest: pushed.digest,
    unchanged: pushed.unchanged,
    ...(pushed.warnings.length > 0 ? { warnings: pushed.warnings.join('; ') } : {}),
  };
}

/** `policy list --tenant T`: every version, newest first, and the shipped default. */
export async function policyList(db: Database, a: { tenant: string }): Promise<Result> {
  const tenantId = await tenantIdOf(db, a.tenant);
  const bundles = await listBundles(tenantDb(db, tenantId), tenantId);
  return {
    bundles: bundles.map((b) => ({
      id: b.id,
      version: b.version,
      digest: b.digest,
      in_force: b.inForce,
      pushed_by: b.pushedBy,
      created_at: b.createdAt?.toISOString() ?? null,
    })),
  };
}

/**
 * `audit replay <entry id> [--tenant T]`: re-decides a recorded decision under its
 * recorded bundle version from its recorded inputs; `ok` says whether it came out
 * the same (the CLI exits 1 when not).
 */
export async function auditReplay(
  db: Database,
  a: { entry_id: string; tenant?: string | undefined },
): Promise<Result> {
  const notFound = () =>
    new RegistryError(
      'ERR_NOT_FOUND',
      `no audit entry ${a.entry_id}${a.tenant === undefined ? '' : ` in tenant "${a.tenant}"`}`,
    );
  if (!/^[1-9][0-9]{0,17}$/.test(a.entry_id)) throw notFound();
  // Each tenant's ledger is readable only in its own scope: without --tenant, every
  // tenant is asked in turn (an operator's command, not a hot path).
  const candidates =
    a.tenant === undefined
      ? (await db.select({ id: tenants.id }).from(tenants)).map((t) => t.id)
      : [await tenantIdOf(db, a.tenant)];
  let entry: { entry: typeof auditEntries.$inferSelect; slug: string } | undefined;
  for (const tenantId of candidates) {
    [entry] = await tenantDb(db, tenantId)
      .select({ entry: auditEntries, slug: tenants.slug })
      .from(auditEntries)
      .innerJoin(tenants, eq(tenants.id, auditEntries.tenantId))
      .where(eq(auditEntries.id, Number(a.entry_id)));
    if (entry) break;
  }
  if (!entry) throw notFound();
  const e = entry.entry;
  if (e.decision === null || e.policyVersion === null || e.policyDigest === null) {
    throw new RegistryError(
      'ERR_INVALID',
      `audit entry ${a.entry_id} (${e.action}) records a state change, not a policy decision`,
    );
  }
  const engine = new PolicyEngine({ db, cedar: await loadNodeCedar() });
  const replay = await asRegistryErrors(() =>
    replayDecision(engine, {
      tenantId: e.tenantId,
      outcome: e.decision ?? '',
      policyId: e.policyId,
      policyVersion: e.policyVersion ?? 0,
      policyDigest: e.policyDigest ?? '',
      riskScore: e.riskScore,
      inputs: e.inputs,
    }),
  );
  return {
    ok: replay.same,
    entry_id: e.id,
    tenant: entry.slug,
    action: e.action,
    recorded: e.decision,
    replayed: replay.replayed.outcome,
    risk_score: replay.replayed.risk.score,
    policy_version: replay.replayed.policy.version,
    policy_digest: replay.replayed.policy.digest,
    explanation: replay.replayed.explanation,
    ...(replay.same ? {} : { differences: replay.differences.join('; ') }),
  };
}
