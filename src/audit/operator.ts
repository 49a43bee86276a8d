/**
 * The operator commands `audit verify`, `audit export` and `audit summary`
 * (src/operator/commands.ts validates their arguments' shapes and calls these). Node
 * only: `--out` writes a file.
 *
 * Through a running embedded broker the command runs in the broker's process; the CLI
 * resolves `--out` against its own working directory first (cli-args `paths`), so the
 * file lands where the operator meant either way.
 */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { and, eq, inArray } from 'drizzle-orm';
import type { JSONWebKeySet } from 'jose';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/database.ts';
import { clients, tenants } from '../db/schema.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { RegistryError } from '../registry/errors.ts';
import { tenantIdOf } from '../registry/tenants.ts';
import { exportLedger } from './export.ts';
import { agentSummaries, parseWindow, windowOf } from './summary-query.ts';
import { verifyLedger } from './verify.ts';

export interface AuditCommandContext {
  db: Database;
  keys: Pick<KeyStore, 'jwks'>;
  clock: Clock;
}

function pinnedKeys(jwks: unknown): JSONWebKeySet | undefined {
  if (jwks === undefined) return undefined;
  const keys = typeof jwks === 'object' && jwks !== null ? (jwks as { keys?: unknown }).keys : null;
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'object' || k === null)) {
    throw new RegistryError('ERR_INVALID', 'the --jwks file must be a JWK Set: { "keys": [...] }');
  }
  return { keys: keys as JSONWebKeySet['keys'] };
}

/** `audit verify [--tenant T] [--jwks FILE]`: the report, `ok: false` (exit 1) on any problem. */
export async function auditVerify(
  ctx: AuditCommandContext,
  args: { tenant?: string | undefined; jwks?: unknown },
): Promise<Record<string, unknown>> {
  const tenantId = args.tenant === undefined ? undefined : await tenantIdOf(ctx.db, args.tenant);
  const jwks = pinnedKeys(args.jwks);
  const report = await verifyLedger(ctx.db, ctx.keys, {
    now: ctx.clock.now(),
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(jwks === undefined ? {} : { jwks }),
  });
  const ids = report.tenants.map((t) => t.tenant_id);
  const slugs = new Map(
    ids.length === 0
      ? []
      : (
          await ctx.db
            .select({ id: tenants.id, slug: tenants.slug })
            .from(tenants)
            .where(inArray(tenants.id, ids))
        ).map((t) => [t.id, t.slug]),
  );
  return {
    ...report,
    tenants: report.tenants.map((t) => ({ tenant: slugs.get(t.tenant_id) ?? null, ...t })),
  };
}

/**
 * `audit export [--tenant T] [--out FILE]`: JSON lines into FILE, answering with the
 * path and counts; without --out, the lines' objects in the answer itself (`lines`).
 */
export async function auditExport(
  ctx: AuditCommandContext,
  args: { tenant?: string | undefined; out?: string | undefined },
): Promise<Record<string, unknown>> {
  const tenantId = args.tenant === undefined ? undefined : await tenantIdOf(ctx.db, args.tenant);
  const scope = tenantId === undefined ? {} : { tenantId };
  if (args.out === undefined) {
    const lines: unknown[] = [];
    const result = await exportLedger(ctx.db, {
      ...scope,
      write: (l) => void lines.push(JSON.parse(l)),
    });
    return { ...result, lines };
  }
  const path = resolve(args.out);
  const file = createWriteStream(path, { encoding: 'utf8' });
  const opened = new Promise<void>((ok, fail) => {
    file.once('open', () => ok());
    file.once('error', fail);
  });
  try {
    await opened;
  } catch (cause) {
    throw new RegistryError('ERR_INVALID', `cannot write --out file ${path}: ${String(cause)}`, {
      cause,
    });
  }
  let failed: Error | undefined;
  file.on('error', (err) => (failed ??= err));
  const drained = () =>
    new Promise<void>((ok) => {
      file.once('drain', ok);
      file.once('error', () => ok());
    });
  try {
    const result = await exportLedger(ctx.db, {
      ...scope,
      write: async (l) => {
        if (failed !== undefined) throw failed;
        if (!file.write(`${l}\n`)) await drained();
      },
    });
    file.end();
    await finished(file);
    return { out: path, ...result };
  } catch (err) {
    file.destroy();
    throw err;
  }
}

/** The most bars `audit summary --buckets` draws. */
export const MAX_SUMMARY_BUCKETS = 1000;

/**
 * `audit summary --tenant T [--agent ID] [--window 24h] [--buckets 12]`: what every
 * agent of the tenant (or the one named) did in the window ending now, against its own
 * baseline (the seven windows before), the unusual first — what `/activity` shows a
 * person about their own agents.
 */
export async function auditSummary(
  ctx: AuditCommandContext,
  args: {
    tenant: string;
    agent?: string | undefined;
    window?: string | undefined;
    buckets?: string | undefined;
  },
): Promise<Record<string, unknown>> {
  const tenantId = await tenantIdOf(ctx.db, args.tenant);
  const window = args.window ?? '24h';
  const span = parseWindow(window);
  if (span === undefined) {
    throw new RegistryError(
      'ERR_INVALID',
      `--window must be a whole number of minutes, hours or days (e.g. 90m, 24h, 7d), ` +
        `at most 90d; got "${window}"`,
    );
  }
  const raw = args.buckets ?? '12';
  const buckets = Number(raw);
  if (!/^[1-9][0-9]{0,3}$/.test(raw) || buckets > MAX_SUMMARY_BUCKETS) {
    throw new RegistryError(
      'ERR_INVALID',
      `--buckets must be a whole number from 1 to ${MAX_SUMMARY_BUCKETS}; got "${raw}"`,
    );
  }
  if (args.agent !== undefined) {
    const [agent] = await ctx.db
      .select({ id: clients.id })
      .from(clients)
      .where(
        and(eq(clients.tenantId, tenantId), eq(clients.kind, 'agent'), eq(clients.id, args.agent)),
      );
    if (!agent) {
      throw new RegistryError(
        'ERR_NOT_FOUND',
        `no agent "${args.agent}" in tenant "${args.tenant}"`,
      );
    }
  }
  const w = windowOf(ctx.clock.now(), span, buckets);
  const summaries = await agentSummaries(
    ctx.db,
    { tenantId, ...(args.agent === undefined ? {} : { agentId: args.agent }) },
    w,
  );
  return {
    tenant: args.tenant,
    ...(args.agent === undefined ? {} : { agent: args.agent }),
    window,
    from: w.from.toISOString(),
    to: w.to.toISOString(),
    baseline_from: w.baselineFrom.toISOString(),
    buckets,
    agents: summaries.map((s) => ({
      agent: s.agent,
      name: s.name,
      minted: s.minted,
      denials: s.denials,
      escalations: s.escalations,
      overruns: s.overruns,
      first_time: s.firstTime,
      rate: s.rate,
      series: s.series,
      flags: s.flags,
    })),
  };
}
