/**
 * Mandate's Cedar schema: what a policy may talk about. Every bundle is validated
 * against it (strict mode) before it is stored, so a policy that names an
 * unknown attribute or compares a string with a number never reaches a decision.
 *
 * Entities (ids in parentheses):
 * - `Mandate::Tenant` (tenant uuid), the outermost group;
 * - `Mandate::Agent` (OAuth client id), in its tenant: the principal of every decision;
 * - `Mandate::Api` (audience URI), in its tenant;
 * - `Mandate::Scope` (`<audience>#<name>`), in its API, with its name and sensitivity.
 *
 * Actions, one per decision point: `RequestGrant` (CIBA request), `Approve` (the
 * person approves it), `MintTaskToken`, `ExchangeToken`, `HandleOverrun`. Each
 * applies to an Agent on an Api or a Scope, with one context shape for all of
 * them (fields that do not apply to an action hold their neutral value), so that
 * `context.risk` means the same in every policy. docs/POLICY.md describes each field.
 */

/** Part of every bundle's digest: a bundle is only known to validate against this schema. */
export const SCHEMA_VERSION = 'mandate-policy-schema/1';

export const NAMESPACE = 'Mandate';

export const ENTITY = {
  tenant: `${NAMESPACE}::Tenant`,
  agent: `${NAMESPACE}::Agent`,
  api: `${NAMESPACE}::Api`,
  scope: `${NAMESPACE}::Scope`,
  action: `${NAMESPACE}::Action`,
} as const;

export const CEDAR_SCHEMA = `namespace ${NAMESPACE} {
  entity Tenant;
  entity Agent in [Tenant];
  entity Api in [Tenant] { audience: String };
  entity Scope in [Api] { name: String, sensitivity: String, api: Api };

  type Task = { id: String, purpose: String };

  type DecisionContext = {
    person: String,
    task: Task,
    scopes: Set<String>,
    requested_ttl: Long,
    ttl_ceiling: Long,
    risk: Long,
    recent_overruns: Long,
    grant_overruns: Long,
    overrun_threshold: Long,
    outside_grant: Bool,
    now: Long,
    hour: Long,
    weekday: Long,
    first_use: Bool,
    identical_live_token: Bool,
    fresh_approval: Bool,
    depth: Long,
  };

  action RequestGrant, Approve, MintTaskToken, ExchangeToken, HandleOverrun appliesTo {
    principal: [Agent],
    resource: [Api, Scope],
    context: DecisionContext,
  };
}
`;
