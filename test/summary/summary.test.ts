/** Agent behaviour summaries from ledger entries: counts, first uses, spikes, flags in words. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { summarize, type ActivityEntry, type SummaryWindow } from '../../src/audit/summary.ts';

const T0 = Date.parse('2026-11-23T00:00:00Z');
const at = (hours: number) => new Date(T0 + hours * 3_600_000);
/** The last hour of a day, against the 23 hours before it. */
const W: SummaryWindow = { from: at(23), to: at(24), baselineFrom: at(0), buckets: 6 };

const mint = (hour: number, agent = 'bot', audience = 'https://repos/', scope = 'repo:read') =>
  ({
    at: at(hour),
    action: 'token.minted',
    actor: `agent:${agent}`,
    decision: 'ALLOW',
    inputs: { audience, scope },
  }) satisfies ActivityEntry;

describe('summarize', () => {
  it('counts mints, denials, escalations and overruns in the window only', () => {
    const entries: ActivityEntry[] = [
      mint(1),
      mint(23.1),
      mint(23.2),
      { ...mint(23.3), decision: 'DENY', action: 'token.refused' },
      { ...mint(23.4), decision: 'ESCALATE', action: 'token.refused' },
      { ...mint(23.5), action: 'overrun.reported', decision: null },
      { ...mint(2), action: 'overrun.reported', decision: null },
    ];
    const [s] = summarize(entries, W);
    expect(s).toMatchObject({ agent: 'bot', minted: 2, denials: 1, escalations: 1, overruns: 1 });
    // Ten-minute bars: 23:06 and 23:12 fall in the first two.
    expect(s?.series).toEqual([1, 1, 0, 0, 0, 0]);
    expect(s?.flags).toEqual([
      '1 scope overrun',
      '1 request denied by policy',
      '1 escalated to the person',
    ]);
  });

  it('counts no denial for an overrun whose decision is DENY: that revokes a grant', () => {
    const entries: ActivityEntry[] = [
      { ...mint(23.1), action: 'overrun.reported', decision: 'DENY' },
      { ...mint(23.2), action: 'overrun.refused', decision: 'DENY' },
      { ...mint(23.3), action: 'overrun.judged', decision: 'DENY' },
      { ...mint(23.4), action: 'token.refused', decision: 'DENY' },
      { ...mint(23.5), action: 'grant.requested', decision: 'DENY' },
    ];
    const [s] = summarize(entries, W);
    expect(s).toMatchObject({ minted: 0, denials: 2, overruns: 2 });
    expect(s?.flags).toEqual(['2 scope overruns', '2 requests denied by policy']);
    // An agent whose only DENY entries are overruns shows no denial at all.
    const [o] = summarize([{ ...mint(23.1), action: 'overrun.reported', decision: 'DENY' }], W);
    expect(o).toMatchObject({ denials: 0, overruns: 1 });
    expect(o?.flags).toEqual(['1 scope overrun']);
  });

  it('flags the first use of an API or scope by an agent with a history', () => {
    const entries = [mint(3), mint(23.5, 'bot', 'https://mail/', 'mail:send')];
    const [s] = summarize(entries, W);
    expect(s?.firstTime).toEqual({ apis: ['https://mail/'], scopes: ['mail:send'] });
    expect(s?.flags).toEqual(['first use of https://mail/', 'first use of scope mail:send']);
    // A newcomer's first day is all first uses: not flagged.
    expect(summarize([mint(23.5, 'new')], W)[0]?.flags).toEqual([]);
  });

  it('flags a rate spike against the agent’s own baseline, and not a steady rate', () => {
    const steady = Array.from({ length: 24 }, (_, h) => [mint(h + 0.1), mint(h + 0.6)]).flat();
    expect(summarize(steady, W)[0]?.rate).toEqual({ window: 2, baseline: 2, spike: false });
    const burst = [...steady, ...Array.from({ length: 10 }, (_, i) => mint(23.7 + i * 0.01))];
    const [s] = summarize(burst, W);
    expect(s?.rate).toMatchObject({ window: 12, spike: true });
    expect(s?.flags).toEqual(['12 tokens/hour against its usual 2']);
  });

  it('keeps agents apart and puts the unusual first', () => {
    const entries = [mint(23.1, 'calm'), { ...mint(23.2, 'wild'), action: 'overrun.reported' }];
    expect(summarize(entries, W).map((s) => s.agent)).toEqual(['wild', 'calm']);
  });

  it('is deterministic and counts every mint of the window exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            hour: fc.double({ min: 0, max: 23.999, noNaN: true }),
            agent: fc.constantFrom('a', 'b'),
          }),
        ),
        (xs) => {
          const entries = xs.map((x) => mint(x.hour, x.agent));
          const one = summarize(entries, W);
          expect(summarize([...entries].reverse(), W)).toEqual(one);
          const inWindow = xs.filter((x) => x.hour >= 23).length;
          expect(one.reduce((n, s) => n + s.minted, 0)).toBe(inWindow);
          for (const s of one) expect(s.series.reduce((a, b) => a + b, 0)).toBe(s.minted);
        },
      ),
    );
  });
});
