/**
 * The risk score's promises (src/policy/risk.ts), for any input: deterministic,
 * within 0..100, monotone in overruns and in scope sensitivity (and in the other
 * factors), with factors that add up to the score below the cap.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  rateSaturation,
  riskScore,
  SENSITIVITIES,
  type RiskInput,
  type Sensitivity,
} from '../../src/policy/risk.ts';

const sensitivity = fc.constantFrom(...SENSITIVITIES);
const input: fc.Arbitrary<RiskInput> = fc.record({
  sensitivities: fc.array(sensitivity, { maxLength: 8 }),
  requestedTtl: fc.integer({ min: 0, max: 86_400 }),
  firstUse: fc.boolean(),
  recentCount: fc.integer({ min: 0, max: 10_000 }),
  baselinePerHour: fc.double({ min: 0, max: 1000, noNaN: true }),
  recentOverruns: fc.integer({ min: 0, max: 1000 }),
});
const RANK: Record<Sensitivity, number> = { read: 0, write: 1, admin: 2 };

describe('the risk score, for any request', () => {
  it('is deterministic: the same input, the same score and factors', () => {
    fc.assert(
      fc.property(input, (i) => {
        const copy = structuredClone(i);
        expect(riskScore(copy)).toEqual(riskScore(i));
      }),
    );
  });

  it('lies within 0..100, an integer, and is the capped sum of its factors', () => {
    fc.assert(
      fc.property(input, (i) => {
        const { score, factors } = riskScore(i);
        expect(Number.isInteger(score)).toBe(true);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(100);
        const sum = factors.reduce((s, f) => s + f.points, 0);
        expect(score).toBe(Math.min(100, sum));
        expect(factors.map((f) => f.name)).toEqual([
          'sensitivity',
          'breadth',
          'lifetime',
          'first_use',
          'rate',
          'overruns',
        ]);
      }),
    );
  });

  it('never falls with more overruns', () => {
    fc.assert(
      fc.property(input, fc.integer({ min: 0, max: 100 }), (i, more) => {
        const after = riskScore({ ...i, recentOverruns: i.recentOverruns + more });
        expect(after.score).toBeGreaterThanOrEqual(riskScore(i).score);
      }),
    );
  });

  it('never falls when a scope becomes more sensitive, or another scope is added', () => {
    fc.assert(
      fc.property(
        input.filter((i) => i.sensitivities.length > 0),
        fc.nat(),
        sensitivity,
        sensitivity,
        (i, at, raised, added) => {
          const k = at % i.sensitivities.length;
          const current = i.sensitivities[k] ?? 'read';
          const higher = RANK[raised] >= RANK[current] ? raised : current;
          const sensitivities = i.sensitivities.map((s, j) => (j === k ? higher : s));
          const before = riskScore(i).score;
          expect(riskScore({ ...i, sensitivities }).score).toBeGreaterThanOrEqual(before);
          expect(
            riskScore({ ...i, sensitivities: [...i.sensitivities, added] }).score,
          ).toBeGreaterThanOrEqual(before);
        },
      ),
    );
  });

  it('never falls with a longer lifetime, a faster rate, or a first use', () => {
    fc.assert(
      fc.property(
        input,
        fc.integer({ min: 0, max: 3600 }),
        fc.integer({ min: 0, max: 500 }),
        (i, ttl, burst) => {
          const before = riskScore(i).score;
          expect(
            riskScore({ ...i, requestedTtl: i.requestedTtl + ttl }).score,
          ).toBeGreaterThanOrEqual(before);
          expect(
            riskScore({ ...i, recentCount: i.recentCount + burst }).score,
          ).toBeGreaterThanOrEqual(before);
          expect(riskScore({ ...i, firstUse: true }).score).toBeGreaterThanOrEqual(before);
        },
      ),
    );
  });

  it('scores a count cut at rateSaturation like the whole count (the facts query stops there)', () => {
    fc.assert(
      fc.property(input, (i) => {
        const cut = {
          ...i,
          recentCount: Math.min(i.recentCount, rateSaturation(i.baselinePerHour)),
        };
        const rate = (r: RiskInput) => riskScore(r).factors.find((f) => f.name === 'rate')?.points;
        expect(riskScore(cut).score).toBe(riskScore(i).score);
        expect(rate(cut)).toBe(rate(i));
        // And the factor is at its maximum there, so counting further could change nothing.
        expect(rate({ ...i, recentCount: rateSaturation(i.baselinePerHour) })).toBe(15);
      }),
    );
  });

  it('scores the table’s examples', () => {
    const calm: RiskInput = {
      sensitivities: ['read'],
      requestedTtl: 300,
      firstUse: false,
      recentCount: 3,
      baselinePerHour: 4,
      recentOverruns: 0,
    };
    expect(riskScore(calm).score).toBe(0);
    expect(riskScore({ ...calm, sensitivities: ['write', 'admin', 'admin'] }).score).toBe(50);
    expect(riskScore({ ...calm, requestedTtl: 301 }).score).toBe(1);
    expect(riskScore({ ...calm, requestedTtl: 3600 }).score).toBe(15);
    expect(riskScore({ ...calm, recentCount: 11 }).score).toBe(1); // 11/5 = 2.2 baselines
    expect(riskScore({ ...calm, recentCount: 1000 }).score).toBe(15);
    expect(riskScore({ ...calm, recentOverruns: 2 }).score).toBe(20);
    expect(
      riskScore({
        sensitivities: ['admin', 'admin', 'admin', 'write'],
        requestedTtl: 86_400,
        firstUse: true,
        recentCount: 1000,
        baselinePerHour: 1,
        recentOverruns: 9,
      }).score,
    ).toBe(100);
    // Nonsense counts as nothing rather than as negative risk.
    expect(
      riskScore({ ...calm, requestedTtl: -5, recentCount: Number.NaN, recentOverruns: -1 }).score,
    ).toBe(0);
  });
});
