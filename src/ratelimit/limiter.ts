/**
 * The rate-limit capability: count one request against a bucket and say whether
 * it stays within the rule. Behind an interface so that the app asks one thing and
 * the store can change (database-limiter.ts keeps the counters in the shared
 * database, so that every broker process counts against the same limits).
 */

/** At most `limit` requests per fixed window of `windowSeconds`. */
export interface RateRule {
  limit: number;
  windowSeconds: number;
}

export interface RateVerdict {
  /** False once this request made the window's count exceed the limit. */
  allowed: boolean;
  /** Requests counted in the current window, this one included. */
  count: number;
  /** Whole seconds until the current window ends (at least 1): RFC 6585 §4's Retry-After. */
  retryAfter: number;
}

export interface RateLimiter {
  /** Counts one request against `bucket` under `rule`, atomically across processes. */
  hit(bucket: string, rule: RateRule): Promise<RateVerdict>;
}
