/**
 * Replay reaches the same outcome for every decision of a generated history:
 * hundreds of random requests at every decision point, across two tenants whose
 * bundles change along the way. Each decision is stored in audit_entries as the
 * ledger stores it (jsonb inputs, real risk score) and replayed from the stored
 * row by a fresh engine, which knows nothing but the database.
 */
import { asc, eq } from 'drizzle-orm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditEntries } from '../../src/db/schema.ts';
import { loadNodeCedar } from '../../src/policy/cedar.ts';
import { DEFAULT_BUNDLE } from '../../src/policy/default-bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { auditFields, replayDecision } from '../../src/policy/replay.ts';
import { POLICY_ACTIONS, type DecisionRequest } from '../../src/policy/request.ts';
import { closeDatabasesAfterEach, MAIL, policyWorld, REPOS } from './world.ts';

closeDatabasesAfterEach();

const BUNDLES = [
  DEFAULT_BUNDLE.replace('context.risk >= 60', 'context.risk >= 30'),
  `
  @id("base") permit (principal, action, resource);
  @id("quiet-hours") @outcome("adapt") @drop_scopes("mail:send repo:write")
  permit (principal, action == Mandate::Action::"MintTaskToken", resource)
  when { context.hour < 7 || context.weekday == 0 };
  @id("short-when-new") @outcome("adapt") @max_ttl("120")
  permit (principal, action, resource) when { context.first_use };
  @id("new-writer") @outcome("escalate")
  permit (principal, action, resource is Mandate::Scope)
  when { resource.sensitivity != "read" && context.first_use && !context.fresh_approval };
  @id("reuse") @outcome("reuse") permit (principal, action, resource) when { context.identical_live_token };
  @id("deep") forbid (principal, action == Mandate::Action::"ExchangeToken", resource) when { context.depth > 2 };
  @id("risky") forbid (principal, action, resource) when { context.risk > 70 };
  `,
  `
  @id("reads-only") permit (principal, action, resource is Mandate::Scope) when { resource.sensitivity == "read" };
  @id("apis") permit (principal, action, resource is Mandate::Api);
  @id("long") @outcome("adapt") @max_ttl("600") permit (principal, action, resource) when { context.requested_ttl > context.ttl_ceiling };
  @id("overrun") forbid (principal, action == Mandate::Action::"HandleOverrun", resource) when { context.grant_overruns >= context.overrun_threshold };
  `,
];

const SCOPES = {
  [MAIL]: [
    { name: 'mail:read', sensitivity: 'read' },
    { name: 'mail:send', sensitivity: 'write' },
    { name: 'mail:admin', sensitivity: 'admin' },
  ],
  [REPOS]: [
    { name: 'repo:read', sensitivity: 'read' },
    { name: 'repo:write', sensitivity: 'write' },
  ],
} as const;

const target = fc
  .constantFrom(MAIL, REPOS)
  .chain((audience) =>
    fc
      .subarray([...SCOPES[audience]], { minLength: 0 })
      .map((scopes) => ({ audience, scopes: scopes.map((s) => ({ ...s })) })),
  );

const request: fc.Arbitrary<DecisionRequest> = fc.record({
  action: fc.constantFrom(...POLICY_ACTIONS),
  agent: fc.constantFrom('agent_a', 'agent_b', 'agent_c'),
  person: fc.constantFrom('user-ada', 'user-bob'),
  targets: fc.uniqueArray(target, { minLength: 1, maxLength: 2, selector: (t) => t.audience }),
  task: fc.option(
    fc.record({
      id: fc.string({ minLength: 1, maxLength: 8 }),
      purpose: fc.string({ maxLength: 20 }),
    }),
    { nil: undefined },
  ),
  requestedTtl: fc.integer({ min: 0, max: 7200 }),
  ttlCeiling: fc.integer({ min: 60, max: 3600 }),
  at: fc
    .integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2026-12-31T23:59:59Z') })
    .map((ms) => new Date(ms)),
  signals: fc.record({
    firstUse: fc.boolean(),
    recentCount: fc.integer({ min: 0, max: 200 }),
    baselinePerHour: fc.double({ min: 0, max: 50, noNaN: true, noDefaultInfinity: true }),
    recentOverruns: fc.integer({ min: 0, max: 5 }),
  }),
  identicalLiveToken: fc.option(fc.boolean(), { nil: undefined }),
  freshApproval: fc.option(fc.boolean(), { nil: undefined }),
  depth: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
  overrun: fc.option(
    fc.record({
      grantOverruns: fc.integer({ min: 1, max: 5 }),
      threshold: fc.integer({ min: 1, max: 5 }),
      outsideGrant: fc.boolean(),
    }),
    { nil: undefined },
  ),
});

type Step =
  | { kind: 'decide'; tenant: 'acme' | 'globex'; request: DecisionRequest }
  | { kind: 'push'; tenant: 'acme' | 'globex'; bundle: number };

const tenant = fc.constantFrom('acme' as const, 'globex' as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant('decide' as const), tenant, request }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      tenant,
      bundle: fc.nat(BUNDLES.length - 1),
    }),
  },
);

describe('replay, for every decision of a generated history', () => {
  it('reaches the recorded outcome, risk score and bundle from the stored entry', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 200, maxLength: 200 }), async (history) => {
        const { database, engine, tenants } = await policyWorld(['acme', 'globex']);
        const db = database.owner;
        const seen = new Map<string, number>();
        for (const s of history) {
          const tenantId = tenants[s.tenant] ?? '';
          if (s.kind === 'push') {
            await engine.push(tenantId, BUNDLES[s.bundle] ?? '', 'operator');
            continue;
          }
          const d = await engine.decide(tenantId, s.request);
          seen.set(d.outcome, (seen.get(d.outcome) ?? 0) + 1);
          await db.insert(auditEntries).values({
            tenantId,
            at: new Date(d.inputs.decision_request.at),
            action: 'policy.decided',
            actor: `agent:${s.request.agent}`,
            subject: 'test',
            ...auditFields(d),
            contentHash: 'not-checked-here',
          });
        }

        const fresh = new PolicyEngine({
          db,
          cedar: await loadNodeCedar(),
        });
        // The decisions; each push is in the ledger too, as policy.pushed.
        const rows = await db
          .select()
          .from(auditEntries)
          .where(eq(auditEntries.action, 'policy.decided'))
          .orderBy(asc(auditEntries.id));
        expect(rows.length).toBe(history.filter((s) => s.kind === 'decide').length);
        for (const row of rows) {
          const replay = await replayDecision(fresh, {
            tenantId: row.tenantId,
            outcome: row.decision ?? '',
            policyId: row.policyId,
            policyVersion: row.policyVersion ?? -1,
            policyDigest: row.policyDigest ?? '',
            riskScore: row.riskScore,
            inputs: row.inputs,
          });
          expect({ id: row.id, differences: replay.differences }).toEqual({
            id: row.id,
            differences: [],
          });
          expect(replay.same).toBe(true);
        }
        // The history is worth replaying only if it reached several outcomes.
        expect(seen.size).toBeGreaterThanOrEqual(4);
      }),
      { numRuns: 2 },
    );
  }, 240_000);

  it('says what differs when the record does not match', async () => {
    const { engine, tenants } = await policyWorld();
    const tenantId = tenants.acme ?? '';
    const [sample] = fc.sample(request, { numRuns: 1, seed: 42 });
    if (!sample) throw new Error('no sample');
    const d = await engine.decide(tenantId, sample);
    const recorded = {
      tenantId,
      outcome: d.outcome === 'DENY' ? 'ALLOW' : 'DENY',
      policyVersion: 0,
      policyDigest: d.policy.digest,
      riskScore: d.risk.score + 1,
      inputs: d.inputs,
    };
    const replay = await replayDecision(engine, recorded);
    expect(replay.same).toBe(false);
    expect(replay.differences).toEqual([
      `outcome: recorded ${recorded.outcome}, replayed ${d.outcome}`,
      `risk score: recorded ${d.risk.score + 1}, replayed ${d.risk.score}`,
    ]);
    // A digest that is not the shipped default's, or a version the tenant never had.
    await expect(
      replayDecision(engine, { ...recorded, policyDigest: 'f'.repeat(64) }),
    ).rejects.toMatchObject({
      code: 'ERR_BUNDLE_NOT_FOUND',
    });
    await expect(replayDecision(engine, { ...recorded, policyVersion: 7 })).rejects.toMatchObject({
      code: 'ERR_BUNDLE_NOT_FOUND',
    });
    await engine.push(tenantId, BUNDLES[1] ?? '', 'operator');
    await expect(replayDecision(engine, { ...recorded, policyVersion: 1 })).rejects.toMatchObject({
      code: 'ERR_BUNDLE_DIGEST',
    });
    await expect(
      replayDecision(engine, { ...recorded, inputs: { grant: 'x' } }),
    ).rejects.toMatchObject({
      code: 'ERR_REQUEST_INVALID',
    });
  });
});
