/**
 * How long an access token may live: the configured default, never beyond the
 * grant's own per-token ceiling, and never past the grant's end (DESIGN.md, The
 * access token: "never beyond the grant's maximum or the grant's end").
 */
export interface LifetimeLimits {
  /** The broker's default access-token lifetime, seconds (config accessTokenTtl). */
  defaultTtl: number;
  /** The grant's max_token_ttl, seconds. */
  grantMaxTokenTtl: number;
  grantExpiresAt: Date;
  now: Date;
}

export class TokenLifetimeError extends Error {
  override readonly name = 'TokenLifetimeError';
  readonly code = 'ERR_GRANT_ENDED';
}

/** Whole seconds from `now`; throws ERR_GRANT_ENDED when the grant leaves no time at all. */
export function tokenLifetime(l: LifetimeLimits): number {
  const untilGrantEnd = Math.floor((l.grantExpiresAt.getTime() - l.now.getTime()) / 1000);
  const seconds = Math.min(l.defaultTtl, l.grantMaxTokenTtl, untilGrantEnd);
  if (seconds <= 0) throw new TokenLifetimeError('the grant has ended; no token can be minted');
  return seconds;
}
