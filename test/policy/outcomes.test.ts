/**
 * The five outcomes through the engine under the shipped default bundle, each
 * with the bundle that decided (version 0 and its digest), the determining policy
 * and the risk score that fed it.
 */
import { describe, expect, it } from 'vitest';
import { defaultBundleRef } from '../../src/policy/bundles.ts';
import { ADMIN, closeDatabasesAfterEach, MAIL, mintRequest, policyWorld } from './world.ts';

closeDatabasesAfterEach();

describe('the default bundle', () => {
  it('allows a routine mint within the grant, decided by version 0', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(tenants.acme ?? '', mintRequest());
    expect(d.outcome).toBe('ALLOW');
    expect(d.adapt).toBeUndefined();
    expect(d.reasons).toEqual(['allow-within-grant']);
    expect(d.policy).toEqual(await defaultBundleRef());
    expect(d.policy).toMatchObject({ id: 'default', version: 0 });
    expect(d.policy.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(d.risk.score).toBe(0);
  });

  it('adapts an admin-scope token to five minutes and says what it narrowed', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(
      tenants.acme ?? '',
      mintRequest({ targets: [{ audience: MAIL, scopes: [ADMIN] }], requestedTtl: 600 }),
    );
    expect(d.outcome).toBe('ADAPT');
    expect(d.adapt).toEqual({ maxTtl: 300 });
    expect(d.reasons).toEqual(['admin-tokens-short']);
    expect(d.explanation).toContain('lifetime capped at 300 s (was 600 s)');
    // Risk 40 (admin) + 5 (lifetime): below the escalation threshold.
    expect(d.risk.score).toBe(45);
  });

  it('allows an admin-scope token that already lives five minutes or less: nothing to narrow', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(
      tenants.acme ?? '',
      mintRequest({ targets: [{ audience: MAIL, scopes: [ADMIN] }], requestedTtl: 120 }),
    );
    expect(d.outcome).toBe('ALLOW');
  });

  it('escalates an admin scope at high risk, until the person approved the task afresh', async () => {
    const { engine, tenants } = await policyWorld();
    const risky = mintRequest({
      targets: [{ audience: MAIL, scopes: [ADMIN] }],
      requestedTtl: 900,
      signals: { firstUse: true, recentCount: 0, baselinePerHour: 0, recentOverruns: 0 },
    });
    const d = await engine.decide(tenants.acme ?? '', risky);
    expect(d.outcome).toBe('ESCALATE');
    expect(d.reasons).toEqual(['admin-high-risk-escalates']);
    expect(d.risk.score).toBeGreaterThanOrEqual(60);
    expect(d.risk.factors.find((f) => f.name === 'first_use')?.points).toBe(15);

    const approved = await engine.decide(tenants.acme ?? '', { ...risky, freshApproval: true });
    expect(approved.outcome).toBe('ADAPT');
    expect(approved.adapt).toEqual({ maxTtl: 300 });
  });

  it('reuses an identical live token for the same task', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(tenants.acme ?? '', mintRequest({ identicalLiveToken: true }));
    expect(d.outcome).toBe('REUSE');
    expect(d.reasons).toEqual(['reuse-identical-token']);
  });

  it('denies an agent with repeated overruns, whatever else holds', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(
      tenants.acme ?? '',
      mintRequest({
        identicalLiveToken: true,
        signals: { firstUse: false, recentCount: 2, baselinePerHour: 3, recentOverruns: 3 },
      }),
    );
    expect(d.outcome).toBe('DENY');
    expect(d.reasons).toEqual(['deny-after-repeated-overruns']);
    expect(d.explanation).toBe('DENY: forbidden by deny-after-repeated-overruns');
  });

  it('decides overrun handling: the grant survives below its threshold, not at it', async () => {
    const { engine, tenants } = await policyWorld();
    const overrun = (grantOverruns: number, outsideGrant = false) =>
      engine.decide(
        tenants.acme ?? '',
        mintRequest({
          action: 'HandleOverrun',
          overrun: { grantOverruns, threshold: 2, outsideGrant },
        }),
      );
    expect((await overrun(1)).outcome).toBe('ALLOW');
    expect((await overrun(2)).outcome).toBe('DENY');
    expect((await overrun(1, true)).reasons).toEqual(['overrun-revokes-grant']);
  });

  it('evaluates each scope: one admin scope among read scopes adapts the whole token', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(
      tenants.acme ?? '',
      mintRequest({
        targets: [{ audience: MAIL, scopes: [{ name: 'mail:read', sensitivity: 'read' }, ADMIN] }],
        requestedTtl: 900,
      }),
    );
    expect(d.outcome).toBe('ADAPT');
    expect(d.adapt).toEqual({ maxTtl: 300 });
  });

  it('records the inputs it decided from, with the time as an ISO string', async () => {
    const { engine, tenants } = await policyWorld();
    const d = await engine.decide(
      tenants.acme ?? '',
      mintRequest({ at: new Date('2026-03-02T10:00:00Z') }),
    );
    expect(d.inputs).toEqual({
      v: 1,
      decision_request: { ...mintRequest(), at: '2026-03-02T10:00:00.000Z' },
    });
    expect(JSON.parse(JSON.stringify(d.inputs))).toEqual(d.inputs);
  });

  it('refuses a malformed request with what is wrong, before asking Cedar', async () => {
    const { engine, tenants } = await policyWorld();
    const bad = mintRequest({
      targets: [{ audience: MAIL, scopes: [{ name: 'x', sensitivity: 'secret' as 'read' }] }],
    });
    await expect(engine.decide(tenants.acme ?? '', bad)).rejects.toMatchObject({
      code: 'ERR_REQUEST_INVALID',
      message: expect.stringContaining('targets.0.scopes.0.sensitivity') as string,
    });
  });
});
