/**
 * What every request needs and no request changes: the broker's metadata, its
 * keys (jose's remote JWKS: fetched once, refreshed on an unknown kid or after
 * ten minutes), and the status-list cache. Built once per verifier.
 */
import { createRemoteJWKSet, customFetch } from 'jose';
import type { AccessTokenCheck } from './access-token.ts';
import { discover, type BrokerMetadata } from './discovery.ts';
import type { ResolvedOptions } from './options.ts';
import { StatusLists } from './status-list.ts';

export interface Core {
  metadata: BrokerMetadata;
  check: AccessTokenCheck;
  lists: StatusLists;
}

export async function connectCore(o: ResolvedOptions): Promise<Core> {
  const metadata = await discover(o.issuer, o.fetch);
  const getKey = createRemoteJWKSet(new URL(metadata.jwks_uri), { [customFetch]: o.fetch });
  return {
    metadata,
    check: { issuer: o.issuer, audience: o.audience, leeway: o.leeway, getKey },
    lists: new StatusLists({
      issuer: o.issuer,
      fetch: o.fetch,
      getKey,
      now: o.now,
      leeway: o.leeway,
    }),
  };
}
