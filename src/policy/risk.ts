/**
 * The risk score: a deterministic, pure function of a request, 0 (routine) to 100
 * (alarming), fed to policies as `context.risk` and recorded with every decision
 * together with the factors that made it up, so that anyone can recompute it.
 *
 * Points, added up and capped at 100 (docs/POLICY.md has the same table):
 *
 * | factor        | points                                                                        |
 * | ------------- | ----------------------------------------------------------------------------- |
 * | `sensitivity` | the most sensitive scope asked for: read 0, write 20, admin 40                |
 * | `breadth`     | 5 for each write or admin scope beyond the first, at most 10                  |
 * | `lifetime`    | 1 per started minute beyond 5 minutes of requested lifetime, at most 15       |
 * | `first_use`   | 15 when the agent has never had a token for (one of) the API(s) before        |
 * | `rate`        | recent hour against the agent's own hourly baseline (floored at 5 an hour):   |
 * |               | 0 up to twice the baseline, then 5 per baseline beyond that (rounded up),     |
 * |               | at most 15                                                                    |
 * | `overruns`    | 10 per overrun by this agent in the last 24 hours, at most 30                 |
 *
 * Every factor is non-decreasing in its input, so the score is monotone: a more
 * sensitive scope, a longer lifetime, a faster rate or another overrun never
 * lowers it. Inputs that are negative or not finite count as 0.
 */
export type Sensitivity = 'read' | 'write' | 'admin';

export const SENSITIVITIES: readonly Sensitivity[] = ['read', 'write', 'admin'];

export interface RiskInput {
  /** The sensitivity of each scope asked for. */
  sensitivities: readonly Sensitivity[];
  /** Seconds of lifetime asked for. */
  requestedTtl: number;
  /** The agent has never had a token for (one of) the requested API(s). */
  firstUse: boolean;
  /** Tokens minted for this agent in the last hour. */
  recentCount: number;
  /** The agent's own average tokens per hour (e.g. over the previous 7 days). */
  baselinePerHour: number;
  /** Overruns recorded against this agent in the last 24 hours. */
  recentOverruns: number;
}

export type RiskFactorName =
  'sensitivity' | 'breadth' | 'lifetime' | 'first_use' | 'rate' | 'overruns';

export interface RiskFactor {
  name: RiskFactorName;
  points: number;
  /** What the points were computed from, in words. */
  detail: string;
}

export interface RiskAssessment {
  /** 0..100, an integer. */
  score: number;
  /** Every factor, in the table's order, including those worth 0 points. */
  factors: RiskFactor[];
}

const SENSITIVITY_POINTS: Record<Sensitivity, number> = { read: 0, write: 20, admin: 40 };
/** Below this many tokens an hour, a burst is not a spike. */
export const RATE_FLOOR_PER_HOUR = 5;

const count = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);

/** Rate factor: the points per baseline beyond twice the baseline, and the most it gives. */
const RATE_POINTS_PER_BASELINE = 5;
const RATE_MAX = 15;

/**
 * The recent count from which the rate factor is at its maximum for this baseline:
 * counting the recent hour beyond it changes no score, so the facts query stops there.
 */
export function rateSaturation(baselinePerHour: number): number {
  const baseline = Math.max(count(baselinePerHour), RATE_FLOOR_PER_HOUR);
  return Math.ceil((2 + RATE_MAX / RATE_POINTS_PER_BASELINE) * baseline);
}

export function riskScore(input: RiskInput): RiskAssessment {
  const ranked = input.sensitivities.map((s) => SENSITIVITY_POINTS[s] ?? 0);
  const top = Math.max(0, ...ranked);
  const writes = ranked.filter((p) => p >= SENSITIVITY_POINTS.write).length;
  const ttl = count(input.requestedTtl);
  const beyond = Math.max(0, ttl - 300);
  const baseline = Math.max(count(input.baselinePerHour), RATE_FLOOR_PER_HOUR);
  const ratio = count(input.recentCount) / baseline;
  const overruns = Math.floor(count(input.recentOverruns));

  const factors: RiskFactor[] = [
    {
      name: 'sensitivity',
      points: top,
      detail: `most sensitive scope: ${SENSITIVITIES.find((s) => SENSITIVITY_POINTS[s] === top) ?? 'none'}`,
    },
    {
      name: 'breadth',
      points: Math.min(10, 5 * Math.max(0, writes - 1)),
      detail: `${writes} write or admin scope(s)`,
    },
    {
      name: 'lifetime',
      points: Math.min(15, Math.ceil(beyond / 60)),
      detail: `${ttl} s requested`,
    },
    {
      name: 'first_use',
      points: input.firstUse ? 15 : 0,
      detail: input.firstUse ? 'first token for this API' : 'API used before',
    },
    {
      name: 'rate',
      // Rounded to a millionth first, so that 11 against 5 is 1 point, not 2 by a float's hair.
      points:
        ratio <= 2
          ? 0
          : Math.min(
              RATE_MAX,
              // The same product as ever (replay): 5 × 1e6 is exactly 5e6.
              Math.ceil(Math.round((ratio - 2) * (RATE_POINTS_PER_BASELINE * 1e6)) / 1e6),
            ),
      detail: `${count(input.recentCount)} in the last hour against a baseline of ${baseline}/h`,
    },
    {
      name: 'overruns',
      points: Math.min(30, 10 * overruns),
      detail: `${overruns} overrun(s) in 24 h`,
    },
  ];
  const total = factors.reduce((sum, f) => sum + f.points, 0);
  return { score: Math.min(100, Math.max(0, Math.round(total))), factors };
}
