/**
 * What createApp builds once from the dependencies and the routes share: state
 * that lives as long as the app (caches, allocators, the revocation feed), unlike
 * Deps, which the entry supplies.
 */
import type { ClientAuthenticator } from './oauth/client-auth.ts';
import type { PolicyEngine } from './policy/engine.ts';
import type { RequestLimits } from './ratelimit/guard.ts';
import type { RevocationFeed } from './revocation/feed.ts';
import type { StatusIndexAllocator } from './revocation/status-index.ts';

export interface Services {
  clientAuth: ClientAuthenticator;
  statusIndex: StatusIndexAllocator;
  revocations: RevocationFeed;
  /**
   * Every decision point asks it (docs/POLICY.md). Undefined only when the app was
   * built with `policy: false`, which benchmarks use to measure what deciding costs.
   */
  policy: PolicyEngine | undefined;
  /** Rate limits of the CIBA backchannel and token endpoints (src/ratelimit/guard.ts). */
  limits: RequestLimits;
}
