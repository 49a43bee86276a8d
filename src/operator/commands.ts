/**
 * The operator commands, as one table that both transports share: the CLI runs
 * them directly against the database, or sends them to a running broker's
 * loopback operator endpoint (embedded PGlite is single-process). Arguments are
 * JSON values (the CLI has already read any files), validated here whichever
 * way they arrived.
 */
import { desc } from 'drizzle-orm';
import { z } from 'zod';
import { auditExport, auditSummary, auditVerify } from '../audit/operator.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { signingKeys } from '../db/schema.ts';
import { tenantDb } from '../db/tenancy.ts';
import { verifyGrantEvidence } from '../delegation/evidence.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { auditReplay, policyList, policyPush } from '../policy/operator.ts';
import { addAgent, disableAgent, listAgents } from '../registry/agents.ts';
import { addApi, disableApi, listApis } from '../registry/apis.ts';
import { RegistryError } from '../registry/errors.ts';
import { createTenant, listTenants, tenantIdOf } from '../registry/tenants.ts';
import { inviteUser } from '../registry/users.ts';
import { describeIssues } from '../registry/validate.ts';

export interface OperatorContext {
  db: Database;
  keys: KeyStore;
  config: Pick<Config, 'publicUrl' | 'inviteTtl'>;
  clock: Clock;
}

type Result = Record<string, unknown>;

interface Command<A extends z.ZodType> {
  args: A;
  run(ctx: OperatorContext, args: z.output<A>): Promise<Result>;
}

const command = <A extends z.ZodType>(c: Command<A>): Command<A> => c;

// Shapes only; the registry validates the values themselves (slugs, URIs, keys).
const tenant = z.string();
const keySource = { jwks: z.unknown().optional(), jwks_uri: z.string().optional() };

export const commands = {
  'tenant create': command({
    args: z.strictObject({ slug: z.string(), overrun_threshold: z.string().optional() }),
    run: (ctx, a) => createTenant(ctx.db, a.slug, { overrunThreshold: a.overrun_threshold }),
  }),
  'tenant list': command({
    args: z.strictObject({}),
    run: (ctx) => listTenants(ctx.db),
  }),
  'user invite': command({
    args: z.strictObject({ tenant, email: z.string() }),
    run: async (ctx, a) => ({
      ...(await inviteUser(ctx.db, a, {
        publicUrl: ctx.config.publicUrl,
        inviteTtl: ctx.config.inviteTtl,
        clock: ctx.clock,
      })),
    }),
  }),
  'agent add': command({
    args: z.strictObject({ tenant, name: z.string(), ...keySource }),
    run: (ctx, a) =>
      addAgent(ctx.db, { tenant: a.tenant, name: a.name, jwks: a.jwks, jwksUri: a.jwks_uri }),
  }),
  'agent list': command({
    args: z.strictObject({ tenant }),
    run: (ctx, a) => listAgents(ctx.db, a.tenant),
  }),
  'agent disable': command({
    args: z.strictObject({ tenant, client_id: z.string().optional(), name: z.string().optional() }),
    run: (ctx, a) => disableAgent(ctx.db, a.tenant, { clientId: a.client_id, name: a.name }),
  }),
  'api add': command({
    args: z.strictObject({
      tenant,
      audience: z.string(),
      scopes: z.unknown(),
      name: z.string().optional(),
      overrun_threshold: z.string().optional(),
      ...keySource,
    }),
    run: (ctx, a) =>
      addApi(ctx.db, {
        tenant: a.tenant,
        audience: a.audience,
        scopes: a.scopes,
        jwks: a.jwks,
        jwksUri: a.jwks_uri,
        ...(a.name === undefined ? {} : { name: a.name }),
        overrunThreshold: a.overrun_threshold,
      }),
  }),
  'api list': command({
    args: z.strictObject({ tenant }),
    run: (ctx, a) => listApis(ctx.db, a.tenant),
  }),
  'api disable': command({
    args: z.strictObject({
      tenant,
      client_id: z.string().optional(),
      audience: z.string().optional(),
    }),
    run: (ctx, a) => disableApi(ctx.db, a.tenant, { clientId: a.client_id, audience: a.audience }),
  }),
  'grant verify': command({
    args: z.strictObject({ tenant, grant_id: z.string() }),
    run: async (ctx, a) => {
      const tenantId = await tenantIdOf(ctx.db, a.tenant);
      const report = await verifyGrantEvidence(tenantDb(ctx.db, tenantId), tenantId, a.grant_id);
      if (!report) {
        throw new RegistryError(
          'ERR_NOT_FOUND',
          `no grant "${a.grant_id}" in tenant "${a.tenant}"`,
        );
      }
      return { ...report };
    },
  }),
  'keys rotate': command({
    args: z.strictObject({}),
    run: async (ctx) => {
      // On a database the broker has not started on yet, rotate from a published pair
      // rather than out of nothing, so the new key was in JWKS before it signs.
      await ctx.keys.ensure();
      return ctx.keys.rotate();
    },
  }),
  'keys list': command({
    args: z.strictObject({}),
    run: async (ctx) => {
      const rows = await ctx.db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt));
      const now = ctx.clock.now();
      return {
        keys: rows
          // A retired key past its publication window is history, not a key anyone verifies with.
          .filter((k) => k.status !== 'retired' || (k.publishUntil && k.publishUntil > now))
          .map((k) => ({
            kid: k.kid,
            alg: k.alg,
            status: k.status,
            created_at: k.createdAt.toISOString(),
            published_until: k.publishUntil?.toISOString() ?? null,
          })),
      };
    },
  }),
  'audit verify': command({
    args: z.strictObject({ tenant: tenant.optional(), jwks: z.unknown().optional() }),
    run: (ctx, a) => auditVerify(ctx, a),
  }),
  'audit export': command({
    args: z.strictObject({ tenant: tenant.optional(), out: z.string().optional() }),
    run: (ctx, a) => auditExport(ctx, a),
  }),
  'audit summary': command({
    args: z.strictObject({
      tenant,
      agent: z.string().optional(),
      window: z.string().optional(),
      buckets: z.string().optional(),
    }),
    // The summary reads the tenant's ledger and agents in its scope only.
    run: async (ctx, a) =>
      auditSummary({ ...ctx, db: tenantDb(ctx.db, await tenantIdOf(ctx.db, a.tenant)) }, a),
  }),
  'policy push': command({
    args: z.strictObject({ tenant, file: z.string() }),
    run: (ctx, a) => policyPush(ctx.db, a, ctx.clock),
  }),
  'policy list': command({
    args: z.strictObject({ tenant }),
    run: (ctx, a) => policyList(ctx.db, a),
  }),
  'audit replay': command({
    args: z.strictObject({ entry_id: z.string(), tenant: tenant.optional() }),
    run: (ctx, a) => auditReplay(ctx.db, a),
  }),
} as const;

export type CommandName = keyof typeof commands;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commands, name);
}

/** Validates `args` for the named command and runs it; every refusal is a RegistryError. */
export async function runCommand(
  ctx: OperatorContext,
  name: string,
  args: unknown,
): Promise<Result> {
  if (!isCommandName(name)) {
    throw new RegistryError('ERR_INVALID', `unknown command "${name}"`);
  }
  const cmd: Command<z.ZodType> = commands[name];
  const parsed = cmd.args.safeParse(args ?? {});
  if (!parsed.success) {
    throw new RegistryError('ERR_INVALID', `${name}: ${describeIssues(parsed.error)}`);
  }
  return cmd.run(ctx, parsed.data);
}
