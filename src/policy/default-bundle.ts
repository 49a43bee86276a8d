/**
 * The shipped default bundle: what every tenant runs until an operator pushes one
 * of its own (`mandate policy push`). Decisions under it are recorded as version 0
 * with its digest. docs/POLICY.md explains each policy.
 *
 * The broker's own checks run before the policy is asked (scopes within the
 * grant, one audience, lifetimes within the grant's ceiling), so "allow" here
 * means "allow what the grant already allows".
 */

export const DEFAULT_BUNDLE = `// Mandate's shipped default policy bundle (version 0).

// What the grant allows is allowed.
@id("allow-within-grant")
permit (principal, action, resource);

// Tokens carrying an admin scope live at most five minutes.
@id("admin-tokens-short")
@outcome("adapt")
@max_ttl("300")
permit (
  principal,
  action in [Mandate::Action::"MintTaskToken", Mandate::Action::"ExchangeToken"],
  resource is Mandate::Scope
)
when { resource.sensitivity == "admin" };

// An admin scope at high risk needs the person's fresh passkey approval for this task.
@id("admin-high-risk-escalates")
@outcome("escalate")
permit (
  principal,
  action in [Mandate::Action::"MintTaskToken", Mandate::Action::"ExchangeToken"],
  resource is Mandate::Scope
)
when { resource.sensitivity == "admin" && context.risk >= 60 && !context.fresh_approval };

// An identical, still-valid token for the same task comes back instead of a new one.
@id("reuse-identical-token")
@outcome("reuse")
permit (
  principal,
  action in [Mandate::Action::"MintTaskToken", Mandate::Action::"ExchangeToken"],
  resource
)
when { context.identical_live_token && context.task.id != "" };

// An agent that overran three times in 24 hours gets nothing more until it calms down.
@id("deny-after-repeated-overruns")
forbid (
  principal,
  action in [
    Mandate::Action::"RequestGrant",
    Mandate::Action::"MintTaskToken",
    Mandate::Action::"ExchangeToken"
  ],
  resource
)
when { context.recent_overruns >= 3 };

// An overrun always costs the token. It costs the grant too (DENY) when the attempt
// lay outside what the person granted, or the grant reached its overrun threshold.
@id("overrun-revokes-grant")
forbid (principal, action == Mandate::Action::"HandleOverrun", resource)
when { context.outside_grant || context.grant_overruns >= context.overrun_threshold };
`;

/**
 * Earlier shipped defaults, newest first. When DEFAULT_BUNDLE changes, its old text
 * moves here, so that decisions recorded under it (version 0, its digest) can still
 * be replayed.
 */
export const PAST_DEFAULT_BUNDLES: readonly string[] = [];
