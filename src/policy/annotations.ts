/**
 * Reads a policy's annotations into what it means for the outcome, by the
 * convention documented in outcome.ts (and docs/POLICY.md).
 */
import type { Outcome } from './outcome.ts';

export interface PolicyMeta {
  id: string;
  /** Position in the bundle, for a stable order of reasons. */
  index: number;
  effect: 'permit' | 'forbid';
  outcome: Outcome;
  maxTtl?: number;
  /** `@drop_scope`: drop the Scope this permit matched. */
  dropResource?: boolean;
  /** `@drop_scopes("…")`: drop these scope names. */
  dropScopes?: string[];
}

const PERMIT_OUTCOMES: Record<string, Outcome> = {
  allow: 'ALLOW',
  adapt: 'ADAPT',
  escalate: 'ESCALATE',
  reuse: 'REUSE',
};

const ADAPT_KEYS = ['max_ttl', 'drop_scope', 'drop_scopes'] as const;

/**
 * Reads a policy's annotations into its meaning; returns the problems instead
 * when they break the convention, so that a bundle is refused as a whole.
 */
export function readAnnotations(
  id: string,
  index: number,
  effect: 'permit' | 'forbid',
  annotations: Record<string, string | null>,
): PolicyMeta | string[] {
  const problems: string[] = [];
  const value = (key: string) => annotations[key] ?? undefined;
  const said = value('outcome');
  let outcome: Outcome;
  if (effect === 'forbid') {
    if (said !== undefined && said !== 'deny') {
      problems.push(`forbid policy \`${id}\` has @outcome("${said}"); a forbid always denies`);
    }
    outcome = 'DENY';
  } else {
    const known = said === undefined ? 'ALLOW' : PERMIT_OUTCOMES[said];
    if (known === undefined) {
      problems.push(
        `permit policy \`${id}\` has @outcome("${said}"); expected allow, adapt, escalate or reuse` +
          (said === 'deny' ? ' (write a forbid to deny)' : ''),
      );
    }
    outcome = known ?? 'ALLOW';
  }

  const meta: PolicyMeta = { id, index, effect, outcome };
  const adaptKeys = ADAPT_KEYS.filter((k) => Object.hasOwn(annotations, k));
  if (outcome !== 'ADAPT') {
    for (const k of adaptKeys) {
      problems.push(`policy \`${id}\` has @${k} but is not @outcome("adapt")`);
    }
  } else {
    if (adaptKeys.length === 0) {
      problems.push(
        `adapt policy \`${id}\` narrows nothing: give @max_ttl, @drop_scope or @drop_scopes`,
      );
    }
    const ttl = value('max_ttl');
    if (ttl !== undefined) {
      if (!/^[1-9][0-9]{0,8}$/.test(ttl)) {
        problems.push(`policy \`${id}\`: @max_ttl("${ttl}") is not a whole number of seconds ≥ 1`);
      } else {
        meta.maxTtl = Number(ttl);
      }
    } else if (Object.hasOwn(annotations, 'max_ttl')) {
      problems.push(`policy \`${id}\`: @max_ttl needs a value in seconds`);
    }
    if (Object.hasOwn(annotations, 'drop_scope')) meta.dropResource = true;
    if (Object.hasOwn(annotations, 'drop_scopes')) {
      const names = (value('drop_scopes') ?? '').split(/\s+/).filter(Boolean);
      if (names.length === 0) {
        problems.push(`policy \`${id}\`: @drop_scopes needs the space-separated scope names`);
      }
      meta.dropScopes = names;
    }
  }
  return problems.length > 0 ? problems : meta;
}
