/**
 * An audit entry's content and its hash. The hash is SHA-256 (base64url) over the
 * RFC 8785 (JCS) canonical JSON of the entry's columns, normalised first to exactly
 * what the database will hand back, so that `audit verify` recomputes the same bytes
 * from the stored row on either driver:
 * - `at` at millisecond precision (timestamptz keeps microseconds; a JS Date has ms);
 * - `risk_score` rounded to float4 (the column is `real`), via Math.fround on both sides;
 * - `inputs` through a JSON round trip (jsonb drops `undefined`, re-orders keys and
 *   keeps numbers as the JSON text JavaScript printed);
 * - tenant ids lower-cased (PostgreSQL prints uuids that way).
 */
import canonicalize from 'canonicalize';
import { sha256Base64url } from './sha256.ts';
import { AuditError } from './errors.ts';

/** Outcomes of a policy decision (DESIGN.md); null for a plain state change. */
export type AuditDecision = 'ALLOW' | 'DENY' | 'ADAPT' | 'ESCALATE' | 'REUSE';
export const AUDIT_DECISIONS: readonly AuditDecision[] = [
  'ALLOW',
  'DENY',
  'ADAPT',
  'ESCALATE',
  'REUSE',
];

/** What a caller records: one decision or state change. */
export interface AuditEntryInput {
  tenantId: string;
  /** When it happened, from the caller's clock. */
  at: Date;
  /** e.g. `token.minted`, `grant.approved`, `overrun.reported`, `policy.pushed`. */
  action: string;
  /** `agent:<client id>`, `user:<id>`, `api:<client id>`, `operator`, `broker`. */
  actor: string;
  /** `grant:<id>`, `token:<jti>`, `key:<kid>`, `policy:<version>`. */
  subject: string;
  decision?: AuditDecision | null;
  policyId?: string | null;
  policyVersion?: number | null;
  policyDigest?: string | null;
  riskScore?: number | null;
  /** Everything the decision was made from, so that it can be replayed. JSON only. */
  inputs?: Record<string, unknown>;
}

/** An entry as stored, normalised: the fields the content hash covers. */
export interface AuditContent {
  tenantId: string;
  at: Date;
  action: string;
  actor: string;
  subject: string;
  decision: string | null;
  policyId: string | null;
  policyVersion: number | null;
  policyDigest: string | null;
  riskScore: number | null;
  inputs: Record<string, unknown>;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const invalid = (message: string) => new AuditError('ERR_AUDIT_INVALID', message);

function text(name: string, value: unknown, optional: boolean): string | null {
  if (value === null || value === undefined) {
    if (optional) return null;
    throw invalid(`audit entry needs ${name}`);
  }
  if (typeof value !== 'string' || (!optional && value === '')) {
    throw invalid(`audit entry ${name} must be a non-empty string`);
  }
  // PostgreSQL text holds neither NUL nor half a surrogate pair (it would store U+FFFD
  // instead, and the stored row would no longer match its hash).
  if (value.includes('\0') || LONE_SURROGATE.test(value)) {
    throw invalid(`audit entry ${name} contains NUL or a lone surrogate`);
  }
  return value;
}

/** Rejects what jsonb cannot hold as given, then returns the value as jsonb will return it. */
function jsonInputs(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('audit entry inputs must be a JSON object');
  }
  const seen = new WeakSet<object>();
  const check = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      if (v.includes('\0') || LONE_SURROGATE.test(v)) {
        throw invalid(`audit entry inputs${path} contains NUL or a lone surrogate`);
      }
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw invalid(`audit entry inputs${path} is not a finite number`);
    } else if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') {
      throw invalid(`audit entry inputs${path} is a ${typeof v}, which JSON cannot hold`);
    } else if (typeof v === 'object' && v !== null && !(v instanceof Date)) {
      if (seen.has(v)) throw invalid(`audit entry inputs${path} refers back to itself`);
      seen.add(v);
      if (Array.isArray(v)) {
        v.forEach((item, i) => check(item, `${path}[${i}]`));
      } else {
        for (const [k, item] of Object.entries(v)) {
          text(`inputs key ${JSON.stringify(k)}`, k, true);
          check(item, `${path}.${k}`);
        }
      }
      seen.delete(v); // shared (not cyclic) references are fine
    }
  };
  check(value, '');
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

/** Validates a caller's entry and normalises it to what the database will store. */
export function normaliseEntry(entry: AuditEntryInput): AuditContent {
  // Years 1 to 9999: what both drivers write and read back as the same ISO 8601 text.
  const year = entry.at instanceof Date ? entry.at.getUTCFullYear() : Number.NaN;
  if (!(year >= 1 && year <= 9999)) {
    throw invalid('audit entry at must be a valid Date between the years 1 and 9999');
  }
  const decision = text('decision', entry.decision, true);
  if (decision !== null && !AUDIT_DECISIONS.includes(decision as AuditDecision)) {
    throw invalid(`audit entry decision must be one of ${AUDIT_DECISIONS.join(', ')}`);
  }
  const version = entry.policyVersion ?? null;
  if (version !== null && !Number.isSafeInteger(version)) {
    throw invalid('audit entry policyVersion must be a safe integer');
  }
  const risk = entry.riskScore ?? null;
  if (risk !== null && !Number.isFinite(Math.fround(risk))) {
    throw invalid('audit entry riskScore must be a finite number within float4 range');
  }
  return {
    tenantId: (text('tenantId', entry.tenantId, false) ?? '').toLowerCase(),
    at: new Date(entry.at.getTime()),
    action: text('action', entry.action, false) ?? '',
    actor: text('actor', entry.actor, false) ?? '',
    subject: text('subject', entry.subject, false) ?? '',
    decision,
    policyId: text('policyId', entry.policyId, true),
    policyVersion: version,
    policyDigest: text('policyDigest', entry.policyDigest, true),
    riskScore: risk === null ? null : Math.fround(risk),
    inputs: jsonInputs(entry.inputs),
  };
}

/**
 * The content hash of a normalised entry, or of a stored row (which is normalised by
 * construction; `Math.fround` maps the float4 the database prints back to the same value).
 */
export function contentHash(c: AuditContent): string {
  const canonical = canonicalize({
    tenant_id: c.tenantId.toLowerCase(),
    at: c.at.toISOString(),
    action: c.action,
    actor: c.actor,
    subject: c.subject,
    decision: c.decision,
    policy_id: c.policyId,
    policy_version: c.policyVersion,
    policy_digest: c.policyDigest,
    risk_score: c.riskScore === null ? null : Math.fround(c.riskScore),
    inputs: c.inputs,
  });
  if (canonical === undefined) throw invalid('audit entry cannot be canonicalised');
  return sha256Base64url(canonical);
}
