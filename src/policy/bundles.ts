/**
 * Versioned policy bundles per tenant (table policy_bundles, append-only by
 * trigger). The highest version is in force; a tenant that never pushed one runs
 * the shipped default, recorded as version 0 with its digest.
 *
 * A push is validated in full (bundle.ts) before anything is written, so a bundle
 * that does not validate is refused with the validator's message and the version
 * in force stays what it was. A push that stores a version records it in the audit
 * ledger (`policy.pushed`) in the same transaction.
 */
import { and, desc, eq } from 'drizzle-orm';
import { appendAudit } from '../audit/append.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Database, DbOrTx } from '../db/database.ts';
import { policyBundles } from '../db/schema.ts';
import { violatedUniqueConstraint } from '../registry/errors.ts';
import { bundleDigest, compileBundle } from './bundle.ts';
import type { CedarApi } from './cedar.ts';
import { DEFAULT_BUNDLE, PAST_DEFAULT_BUNDLES } from './default-bundle.ts';
import { PolicyError } from './errors.ts';

/** What a decision records about the bundle that made it. */
export interface BundleRef {
  /** The policy_bundles row id, or `default` for the shipped default. */
  id: string;
  /** 1, 2, 3… per tenant; 0 for the shipped default. */
  version: number;
  /** SHA-256 hex of the canonical bundle (bundle.ts). */
  digest: string;
}

export interface BundleInfo extends BundleRef {
  pushedBy: string;
  createdAt: Date | null;
}

export const DEFAULT_BUNDLE_ID = 'default';

let defaultRef: Promise<BundleRef> | undefined;

/** The shipped default's id, version (0) and digest. */
export function defaultBundleRef(): Promise<BundleRef> {
  defaultRef ??= bundleDigest(DEFAULT_BUNDLE).then((digest) => ({
    id: DEFAULT_BUNDLE_ID,
    version: 0,
    digest,
  }));
  return defaultRef;
}

/** The text of a shipped default (the current one or an earlier one) by its digest. */
export async function shippedDefault(digest: string): Promise<string | undefined> {
  for (const text of [DEFAULT_BUNDLE, ...PAST_DEFAULT_BUNDLES]) {
    if ((await bundleDigest(text)) === digest) return text;
  }
  return undefined;
}

/** The bundle in force for the tenant: its highest version, else the shipped default. */
export async function bundleInForce(db: DbOrTx, tenantId: string): Promise<BundleRef> {
  const [row] = await db
    .select({ id: policyBundles.id, version: policyBundles.version, digest: policyBundles.digest })
    .from(policyBundles)
    .where(eq(policyBundles.tenantId, tenantId))
    .orderBy(desc(policyBundles.version))
    .limit(1);
  return row ?? defaultBundleRef();
}

/** One stored version's text and reference, or undefined. */
export async function loadBundle(
  db: DbOrTx,
  tenantId: string,
  version: number,
): Promise<(BundleRef & { policies: string }) | undefined> {
  const [row] = await db
    .select({
      id: policyBundles.id,
      version: policyBundles.version,
      digest: policyBundles.digest,
      policies: policyBundles.policies,
    })
    .from(policyBundles)
    .where(and(eq(policyBundles.tenantId, tenantId), eq(policyBundles.version, version)));
  return row;
}

/** Every pushed version, newest first, then the shipped default; `inForce` marks the one deciding. */
export async function listBundles(
  db: DbOrTx,
  tenantId: string,
): Promise<(BundleInfo & { inForce: boolean })[]> {
  const rows = await db
    .select({
      id: policyBundles.id,
      version: policyBundles.version,
      digest: policyBundles.digest,
      pushedBy: policyBundles.pushedBy,
      createdAt: policyBundles.createdAt,
    })
    .from(policyBundles)
    .where(eq(policyBundles.tenantId, tenantId))
    .orderBy(desc(policyBundles.version));
  const shipped = { ...(await defaultBundleRef()), pushedBy: 'broker', createdAt: null };
  return [...rows, shipped].map((b, i) => ({ ...b, inForce: i === 0 }));
}

export interface PushResult extends BundleRef {
  /** The bundle equals the one in force: nothing was written. */
  unchanged: boolean;
  /** The validator's warnings, if any. */
  warnings: string[];
}

const VERSION_TAKEN = 'policy_bundles_tenant_version_uq';

/**
 * Validates `policies` against the schema and stores it as the tenant's next
 * version. Refuses an invalid bundle with ERR_BUNDLE_INVALID (the validator's
 * messages) and writes nothing. Pushing the bundle already in force is a no-op.
 *
 * The new version and its `policy.pushed` audit entry (actor `pushedBy`, subject
 * `policy:<version>`, the bundle and the one it replaces in `inputs`) commit together
 * or not at all. A transaction that loses the race for the version number is retried.
 */
export async function pushBundle(
  db: Database,
  tenantId: string,
  policies: string,
  pushedBy: string,
  cedar: CedarApi,
  clock: Clock = systemClock,
): Promise<PushResult> {
  const compiled = await compileBundle(cedar, policies);
  // Two pushes racing for the same version: the unique index lets one win; the other retries.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await db.transaction(async (tx): Promise<PushResult> => {
        const current = await bundleInForce(tx, tenantId);
        if (current.digest === compiled.digest) {
          return { ...current, unchanged: true, warnings: compiled.warnings };
        }
        const version = current.version + 1;
        const [row] = await tx
          .insert(policyBundles)
          .values({ tenantId, version, policies, digest: compiled.digest, pushedBy })
          .returning({ id: policyBundles.id });
        if (!row) throw new Error('policy bundle insert returned nothing');
        await appendAudit(tx, {
          tenantId,
          at: clock.now(),
          action: 'policy.pushed',
          actor: pushedBy,
          subject: `policy:${version}`,
          inputs: {
            id: row.id,
            version,
            digest: compiled.digest,
            previous_id: current.id,
            previous_version: current.version,
            previous_digest: current.digest,
          },
        });
        return {
          id: row.id,
          version,
          digest: compiled.digest,
          unchanged: false,
          warnings: compiled.warnings,
        };
      });
    } catch (err) {
      if (violatedUniqueConstraint(err) !== VERSION_TAKEN) throw err;
    }
  }
  throw new PolicyError('ERR_BUNDLE_CONFLICT', 'too many concurrent pushes; try again');
}
