/** What the app is built from: every runtime difference lives behind these. */
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { DatabaseHandle } from './db/database.ts';
import type { KeyStore } from './keys/key-store.ts';
import type { Authorizer } from './policy/authorizer.ts';
import type { CedarApi } from './policy/cedar.ts';
import type { ClientAddressResolver } from './ratelimit/client-address.ts';
import type { RateLimiter } from './ratelimit/limiter.ts';
import type { AssetStore } from './ui/assets.ts';

export interface Deps {
  config: Config;
  database: DatabaseHandle;
  keys: KeyStore;
  /** The Cedar build that loads on this runtime (loadNodeCedar on Node, cedarFromWasm on Workers). */
  cedar: CedarApi;
  /** Where policy decisions' Cedar calls run; absent: on the event loop (decision-workers.ts on Node). */
  authorizer?: Authorizer;
  clock: Clock;
  /** The pages' stylesheet and browser scripts (src/node/assets.ts on Node). */
  assets: AssetStore;
  /**
   * Where a request came from, for the per-address rate limits (src/node/client-address.ts
   * on Node); absent: nobody can tell, and all requests share one address bucket.
   */
  clientAddress?: ClientAddressResolver;
  /** Where rate-limit counters live; absent: the database (DatabaseRateLimiter). */
  rateLimiter?: RateLimiter;
  /**
   * Work that must have succeeded before a request is served, awaited by every request
   * (Workers: the signing keys exist; the Node entry does that before it listens). It
   * should remember its success; a failure is answered like any other, and the next
   * request tries again.
   */
  ready?: () => Promise<void>;
  /** Where operational messages go; defaults to console.error in the Node entry. */
  log: (message: string) => void;
}
