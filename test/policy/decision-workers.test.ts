/**
 * Policy decisions with Cedar on worker threads (src/policy/decision-workers.ts): the
 * same decisions as on the event loop, and a pool that survives a worker's death and
 * a policy set Cedar refuses.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { CedarCall } from '../../src/policy/authorizer.ts';
import { DecisionWorkers } from '../../src/policy/decision-workers.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { DecisionRequest } from '../../src/policy/request.ts';
import { SENSITIVITIES } from '../../src/policy/risk.ts';
import { closeDatabasesAfterEach, MAIL, mintRequest, policyWorld, REPOS } from './world.ts';

closeDatabasesAfterEach();

const pools: DecisionWorkers[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

function pool(size: number): DecisionWorkers {
  const p = new DecisionWorkers(size);
  pools.push(p);
  return p;
}

const request: fc.Arbitrary<DecisionRequest> = fc
  .record({
    action: fc.constantFrom('RequestGrant', 'MintTaskToken', 'ExchangeToken', 'HandleOverrun'),
    scopes: fc.array(
      fc.record({
        name: fc.constantFrom('mail:read', 'mail:send', 'repo:read', 'repo:admin'),
        sensitivity: fc.constantFrom(...SENSITIVITIES),
      }),
      { maxLength: 3 },
    ),
    audience: fc.constantFrom(MAIL, REPOS),
    requestedTtl: fc.integer({ min: 1, max: 3600 }),
    recentCount: fc.integer({ min: 0, max: 200 }),
    recentOverruns: fc.integer({ min: 0, max: 5 }),
    firstUse: fc.boolean(),
    identicalLiveToken: fc.boolean(),
    freshApproval: fc.boolean(),
    grantOverruns: fc.integer({ min: 0, max: 5 }),
    outsideGrant: fc.boolean(),
  })
  .map((r) =>
    mintRequest({
      action: r.action as DecisionRequest['action'],
      targets: [{ audience: r.audience, scopes: r.scopes }],
      requestedTtl: r.requestedTtl,
      ttlCeiling: 3600,
      signals: {
        firstUse: r.firstUse,
        recentCount: r.recentCount,
        baselinePerHour: 3,
        recentOverruns: r.recentOverruns,
      },
      identicalLiveToken: r.identicalLiveToken,
      freshApproval: r.freshApproval,
      ...(r.action === 'HandleOverrun'
        ? {
            overrun: {
              grantOverruns: r.grantOverruns,
              threshold: 3,
              outsideGrant: r.outsideGrant,
            },
          }
        : {}),
    }),
  );

/** One bare call: an agent minting for the mail API, no context, no entities. */
const call: CedarCall = {
  principal: { type: 'Mandate::Agent', id: 'agent_planner' },
  action: { type: 'Mandate::Action', id: 'MintTaskToken' },
  resource: { type: 'Mandate::Api', id: MAIL },
  context: {},
  entities: [],
};

const PUSHED = `
@id("mail-send-denied")
forbid (principal, action, resource is Mandate::Scope) when { resource.name == "mail:send" };
@id("allow-rest")
permit (principal, action, resource);
`;

describe('policy decisions on worker threads', () => {
  it('are the decisions made on the event loop, under the default bundle and a pushed one', async () => {
    const w = await policyWorld(['acme', 'globex'], { validateRequests: false });
    const onWorkers = new PolicyEngine({
      db: w.database.owner,
      cedar: w.cedar,
      refreshMs: 0,
      authorizer: pool(2),
    });
    await w.engine.push(w.tenants.globex ?? '', PUSHED, 'operator');
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(request, fc.constantFrom('acme', 'globex'), async (r, slug) => {
        const tenant = w.tenants[slug] ?? '';
        const here = await w.engine.decide(tenant, r);
        const there = await onWorkers.decide(tenant, r);
        expect(there).toEqual(here);
        outcomes.add(`${slug} ${here.outcome}`);
      }),
      { numRuns: 120 },
    );
    // The run met the bundles' different answers, not one outcome over and over.
    expect(outcomes.size).toBeGreaterThanOrEqual(5);
  });

  it('fails what a dying worker held with ERR_CEDAR, and answers the next call on a new worker', async () => {
    const w = await policyWorld(['acme'], { validateRequests: false });
    const workers = pool(1);
    const engine = new PolicyEngine({
      db: w.database.owner,
      cedar: w.cedar,
      refreshMs: 0,
      authorizer: workers,
    });
    const tenant = w.tenants.acme ?? '';
    const before = await engine.decide(tenant, mintRequest());
    const [thread] = workers.threads;
    if (!thread) throw new Error('no worker started');
    // Enough calls that the worker is still busy with them when it is stopped.
    const busy = workers.authorize('any', { p: 'permit (principal, action, resource);' }, [
      ...Array.from({ length: 5000 }, () => call),
    ]);
    await thread.terminate();
    await expect(busy).rejects.toMatchObject({ code: 'ERR_CEDAR' });
    const after = await engine.decide(tenant, mintRequest());
    expect(after).toEqual(before);
    expect(workers.threads[0]).not.toBe(thread);
  });

  it('fails a call that outlasts its timeout, replaces the worker, and refuses calls after close', async () => {
    // Long enough for a new worker to load Cedar, far too short for 20,000 calls.
    const workers = new DecisionWorkers(1, 256, 2000);
    pools.push(workers);
    const policies = { p: 'permit (principal, action, resource);' };
    await expect(
      workers.authorize(
        'slow',
        policies,
        Array.from({ length: 100_000 }, () => call),
      ),
    ).rejects.toMatchObject({ code: 'ERR_CEDAR', message: /no answer within 2000 ms/ });
    const [answer] = await workers.authorize('slow', policies, [call]);
    expect(answer).toMatchObject({ type: 'success', response: { decision: 'allow' } });
    await workers.close();
    await expect(workers.authorize('slow', policies, [call])).rejects.toMatchObject({
      code: 'ERR_CEDAR',
      message: /closed/,
    });
  });

  it('refuses a policy set Cedar cannot parse with ERR_CEDAR, and goes on deciding', async () => {
    const workers = pool(1);
    await expect(
      workers.authorize('bad', { p: 'permit (principal, action, resource) when {' }, [call]),
    ).rejects.toMatchObject({ code: 'ERR_CEDAR', message: /could not parse/ });
    const [answer] = await workers.authorize(
      'good',
      { p: 'permit (principal, action, resource);' },
      [call],
    );
    expect(answer).toMatchObject({ type: 'success', response: { decision: 'allow' } });
  });
});
