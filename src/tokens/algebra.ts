/**
 * The scope and expiry algebra every token decision rests on: what a request may
 * take from what was granted, and how long the result may live. Pure functions
 * over plain values (no database, no clock, no HTTP), so that every grant — the
 * per-task mint, token exchange — shares one definition of "never wider, never
 * longer", and property tests can throw arbitrary grants and requests at it.
 *
 * Failures are AlgebraErrors with a stable code and the offending names; callers
 * map them to OAuth errors (`invalid_scope`, `invalid_target`, `invalid_grant`).
 */

export type AlgebraErrorCode =
  /** The request names scopes the ceiling does not hold. */
  | 'ERR_SCOPE_BEYOND'
  /** The request names no scope at all: a token with no scope is useless. */
  | 'ERR_SCOPE_EMPTY'
  /** The request names a resource the ceiling does not hold. */
  | 'ERR_RESOURCE_BEYOND'
  /** Not exactly one resource, and the ceiling has no single one to default to. */
  | 'ERR_RESOURCE_AMBIGUOUS'
  /** The bounds leave no whole second of life. */
  | 'ERR_NO_LIFETIME';

export class AlgebraError extends Error {
  override readonly name = 'AlgebraError';
  constructor(
    readonly code: AlgebraErrorCode,
    message: string,
    /** The names that went beyond the ceiling (ERR_SCOPE_BEYOND, ERR_RESOURCE_BEYOND). */
    readonly beyond: readonly string[] = [],
  ) {
    super(message);
  }
}

/** `items` once each, first occurrence kept: repeated names never change a decision. */
export function distinct(items: readonly string[]): string[] {
  return [...new Set(items)];
}

/** The members of `requested` that `ceiling` lacks, once each, in request order. */
export function beyond(requested: readonly string[], ceiling: readonly string[]): string[] {
  const allowed = new Set(ceiling);
  return distinct(requested.filter((s) => !allowed.has(s)));
}

/** True when every member of `inner` is in `outer` (the empty set is inside everything). */
export function isSubset(inner: readonly string[], outer: readonly string[]): boolean {
  return beyond(inner, outer).length === 0;
}

/**
 * The scopes a token gets: `requested` if it is inside `ceiling`, all of `ceiling`
 * when nothing was requested (RFC 6749 §6: an omitted scope means the original
 * one). Returned in the ceiling's order, so equal requests give equal `scope` strings.
 */
export function narrowScopes(
  ceiling: readonly string[],
  requested: readonly string[] | undefined,
): string[] {
  if (requested === undefined) return distinct(ceiling);
  if (requested.length === 0) throw new AlgebraError('ERR_SCOPE_EMPTY', 'no scope was requested');
  const extra = beyond(requested, ceiling);
  if (extra.length > 0) {
    throw new AlgebraError(
      'ERR_SCOPE_BEYOND',
      `scope ${extra.join(' ')} is beyond what was granted`,
      extra,
    );
  }
  const wanted = new Set(requested);
  return distinct(ceiling.filter((s) => wanted.has(s)));
}

/** One granted API and its scopes (structurally a ResourceScopes row). */
export interface ResourceCeiling {
  resource: string;
  scopes: readonly string[];
}

/**
 * The one resource a token is for (RFC 8707: `aud` narrowed to one API). Any
 * requested resource outside the ceiling is an overrun (ERR_RESOURCE_BEYOND);
 * otherwise exactly one distinct resource must be named, or none when the
 * ceiling holds a single one to default to (ERR_RESOURCE_AMBIGUOUS).
 */
export function chooseResource<T extends ResourceCeiling>(
  ceiling: readonly T[],
  requested: readonly string[],
): T {
  const extra = beyond(
    requested,
    ceiling.map((c) => c.resource),
  );
  if (extra.length > 0) {
    throw new AlgebraError(
      'ERR_RESOURCE_BEYOND',
      `resource ${extra.join(' ')} is beyond what was granted`,
      extra,
    );
  }
  const names = distinct(requested);
  if (names.length > 1) {
    throw new AlgebraError('ERR_RESOURCE_AMBIGUOUS', 'a token is for exactly one resource');
  }
  const [only] = ceiling;
  const chosen = names.length === 1 ? ceiling.find((c) => c.resource === names[0]) : undefined;
  if (chosen) return chosen;
  if (names.length === 0 && only && ceiling.length === 1) return only;
  throw new AlgebraError(
    'ERR_RESOURCE_AMBIGUOUS',
    'resource is required: the grant covers several resources',
  );
}

export interface LifetimeBounds {
  /** When the token is issued; `iat` is its whole second. */
  now: Date;
  /** Longest lifetimes allowed, seconds (defaults, per-grant ceilings, what the task asked). */
  ceilings: readonly number[];
  /** Instants the token must not outlive (the grant's end, a parent token's `exp`). */
  notAfter: readonly Date[];
}

/** `iat` for a token issued at `now`: JWT NumericDate, whole seconds (RFC 7519 §2). */
export const issuedAtSeconds = (now: Date): number => Math.floor(now.getTime() / 1000);

/**
 * The longest whole-second lifetime inside every bound: `iat + lifetime` is never
 * past any `notAfter` (in whole seconds) and the lifetime never exceeds any ceiling.
 * Throws ERR_NO_LIFETIME when the bounds leave nothing, since a token that is born
 * expired must not be minted.
 */
export function boundedLifetime(b: LifetimeBounds): number {
  const iat = issuedAtSeconds(b.now);
  const candidates = [
    ...b.ceilings.map((c) => Math.floor(c)),
    ...b.notAfter.map((d) => Math.floor(d.getTime() / 1000) - iat),
  ];
  if (candidates.length === 0) {
    // No bound at all would mean an immortal token; refuse rather than pick a default here.
    throw new AlgebraError('ERR_NO_LIFETIME', 'a token lifetime needs at least one bound');
  }
  const seconds = Math.min(...candidates);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new AlgebraError('ERR_NO_LIFETIME', 'the bounds leave no time for a token');
  }
  return seconds;
}

/** True when a token with this `exp` (seconds) respects `notAfter` (a parent's `exp`, a grant's end). */
export function expiresWithin(exp: number, notAfter: Date): boolean {
  return exp * 1000 <= notAfter.getTime();
}
