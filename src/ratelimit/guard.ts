/**
 * The limits on the endpoints agents POST to (CIBA backchannel authentication and
 * the token endpoint), each with its own buckets:
 *
 * - per client address, checked before client authentication, so that a flood of
 *   anonymous or badly signed requests is throttled before it costs key lookups
 *   and signature checks;
 * - per agent (client_id), checked right after client authentication: keyed by an
 *   identity nobody else can claim, so that one agent cannot starve the others, and
 *   nobody can exhaust an agent's budget by naming it in forged assertions.
 *
 * Both run before anything else is written (the grant's handler, DPoP's proof
 * record, the CIBA poll's bookkeeping): a refused request changes no state except
 * the counters (and client authentication's record of the assertion's jti, which is
 * single-use anyway).
 */
import type { Context } from 'hono';
import { OAuthError } from '../oauth/errors.ts';
import { UNKNOWN_ADDRESS, type ClientAddressResolver } from './client-address.ts';
import type { RateLimiter, RateRule } from './limiter.ts';

export type LimitedEndpoint = 'token' | 'ciba';

/**
 * How a refusal is worded: `slow_down` (HTTP 400) where OpenID CIBA and RFC 8628
 * give polling clients that code; elsewhere HTTP 429 (RFC 6585 §4).
 */
export type Refusal = 'slow_down' | 'rate_limited';

export interface RequestRules {
  /** Undefined: no limit by address. */
  address: RateRule | undefined;
  /** Undefined: no limit by agent. */
  agent: RateRule | undefined;
}

export class RequestLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly rules: RequestRules,
    private readonly resolveAddress: ClientAddressResolver,
  ) {}

  /** Before client authentication: the caller's address. */
  async byAddress(c: Context, endpoint: LimitedEndpoint, refusal: Refusal): Promise<void> {
    if (!this.rules.address) return;
    // Bounded: with fewer hops than trusted proxies the leftmost entry is the client's to write.
    const address = (this.resolveAddress(c) ?? UNKNOWN_ADDRESS).slice(0, 64);
    await this.check(`${endpoint}:addr:${address}`, this.rules.address, refusal);
  }

  /** After client authentication: the authenticated client. */
  async byAgent(clientId: string, endpoint: LimitedEndpoint, refusal: Refusal): Promise<void> {
    if (!this.rules.agent) return;
    await this.check(`${endpoint}:agent:${clientId}`, this.rules.agent, refusal);
  }

  private async check(bucket: string, rule: RateRule, refusal: Refusal): Promise<void> {
    const verdict = await this.limiter.hit(bucket, rule);
    if (verdict.allowed) return;
    throw rateLimited(refusal, verdict.retryAfter);
  }
}

/** The refusal, with Retry-After in seconds either way (a hint to a CIBA poller too). */
export function rateLimited(refusal: Refusal, retryAfter: number): OAuthError {
  const headers = { 'retry-after': String(retryAfter) };
  if (refusal === 'slow_down') {
    return new OAuthError(
      'slow_down',
      `too many requests; wait ${retryAfter} s before the next one`,
      400,
      { headers },
    );
  }
  return new OAuthError('rate_limited', `too many requests; retry after ${retryAfter} s`, 429, {
    headers,
  });
}
