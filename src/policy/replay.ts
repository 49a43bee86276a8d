/**
 * Replay: re-decide a recorded decision under the bundle version it recorded
 * (its digest must still match) from the inputs it recorded, and say whether the
 * outcome, the risk score and the bundle are the same. Decisions take their time
 * and every signal from the inputs, never from the clock or the database's
 * present state, so a replay reaches the same outcome years later.
 *
 * The audit ledger stores a decision in audit_entries: `decision` (the outcome),
 * `policy_id`, `policy_version`, `policy_digest`, `risk_score` and `inputs`
 * ({@link PolicyInputs}); {@link auditFields} gives exactly those columns.
 */
import { z } from 'zod';
import type { DbOrTx } from '../db/database.ts';
import type { Decision, PolicyEngine, PolicyInputs } from './engine.ts';
import { PolicyError } from './errors.ts';
import { OUTCOMES, type Outcome } from './outcome.ts';

export type { PolicyInputs };

/** A decision as the ledger holds it. */
export interface RecordedDecision {
  tenantId: string;
  /** The outcome recorded (audit_entries.decision). */
  outcome: string;
  policyVersion: number;
  policyDigest: string;
  policyId?: string | null | undefined;
  riskScore?: number | null | undefined;
  /** audit_entries.inputs: a {@link PolicyInputs}, possibly with other keys beside it. */
  inputs: unknown;
}

export interface ReplayResult {
  same: boolean;
  /** What differs, in words; empty when `same`. */
  differences: string[];
  recorded: { outcome: string; riskScore: number | null };
  replayed: Decision;
}

/** The audit_entries columns of a decision, ready to spread into the entry. */
export function auditFields(d: Decision): {
  decision: Outcome;
  policyId: string;
  policyVersion: number;
  policyDigest: string;
  riskScore: number;
  inputs: PolicyInputs & Record<string, unknown>;
} {
  return {
    decision: d.outcome,
    policyId: d.policy.id,
    policyVersion: d.policy.version,
    policyDigest: d.policy.digest,
    riskScore: d.risk.score,
    inputs: { ...d.inputs },
  };
}

const inputsSchema = z.looseObject({ v: z.literal(1), decision_request: z.unknown() });

/** Whether an entry's inputs are a policy decision's (state changes carry other inputs). */
export function isPolicyInputs(inputs: unknown): inputs is PolicyInputs {
  return inputsSchema.safeParse(inputs).success;
}

export async function replayDecision(
  engine: PolicyEngine,
  recorded: RecordedDecision,
  options: { db?: DbOrTx } = {},
): Promise<ReplayResult> {
  const inputs = inputsSchema.safeParse(recorded.inputs);
  if (!inputs.success) {
    throw new PolicyError(
      'ERR_REQUEST_INVALID',
      'the recorded inputs are not a policy decision’s (no `v: 1` and `decision_request`)',
    );
  }
  const replayed = await engine.decideUnder(
    recorded.tenantId,
    { version: recorded.policyVersion, digest: recorded.policyDigest },
    inputs.data.decision_request as PolicyInputs['decision_request'],
    options,
  );
  const differences: string[] = [];
  if (!(OUTCOMES as readonly string[]).includes(recorded.outcome)) {
    differences.push(`recorded outcome "${recorded.outcome}" is not an outcome`);
  } else if (replayed.outcome !== recorded.outcome) {
    differences.push(`outcome: recorded ${recorded.outcome}, replayed ${replayed.outcome}`);
  }
  const riskScore = recorded.riskScore ?? null;
  if (riskScore !== null && riskScore !== replayed.risk.score) {
    differences.push(`risk score: recorded ${riskScore}, replayed ${replayed.risk.score}`);
  }
  if (recorded.policyId != null && recorded.policyId !== replayed.policy.id) {
    differences.push(`policy id: recorded ${recorded.policyId}, replayed ${replayed.policy.id}`);
  }
  return {
    same: differences.length === 0,
    differences,
    recorded: { outcome: recorded.outcome, riskScore },
    replayed,
  };
}
