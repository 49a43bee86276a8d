/**
 * grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693 §2.1): reads
 * the form and hands it to exchangeToken (src/tokens/exchange.ts), which decides,
 * mints and records. The signer and the JWKS are read before its transaction.
 */
import type { Deps } from '../deps.ts';
import { exchangeToken, type ExchangeResponse } from '../tokens/exchange.ts';
import type { GrantHandler } from './grant-handler.ts';
import type { Services } from '../services.ts';
import { statusEntry } from '../revocation/status-claim.ts';
import { tenantDb } from '../db/tenancy.ts';

export { TOKEN_EXCHANGE_GRANT_TYPE } from '../tokens/exchange.ts';

export function exchangeGrant(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  services: Pick<Services, 'statusIndex' | 'policy'>,
): GrantHandler {
  const { config } = deps;
  return async (form, client, dpop): Promise<ExchangeResponse & Record<string, unknown>> => {
    const scope = form.get('scope');
    const signer = await deps.keys.signer();
    const jwks = await deps.keys.jwks();
    return services.statusIndex.withPosition(client.tenantId, async (pos) => ({
      ...(await exchangeToken(
        {
          db: tenantDb(deps.database.db, client.tenantId),
          client,
          issuer: config.publicUrl,
          now: deps.clock.now(),
          signer,
          jwks,
          status: statusEntry(config.publicUrl, pos),
          accessTokenTtl: config.accessTokenTtl,
          maxDepth: config.tokenExchangeMaxDepth,
          clockSkew: config.clockSkew,
          maxAssertionTtl: config.clientAssertionMaxTtl,
          policy: services.policy,
          escalation: { expiresIn: config.cibaRequestTtl, interval: config.cibaInterval },
        },
        {
          subjectToken: form.get('subject_token'),
          subjectTokenType: form.get('subject_token_type'),
          actorToken: form.get('actor_token'),
          actorTokenType: form.get('actor_token_type'),
          requestedTokenType: form.get('requested_token_type'),
          scopes: scope === undefined ? undefined : scope.split(' ').filter((s) => s.length > 0),
          // RFC 8693 §2.1: both name where the token will be used; either may repeat.
          targets: [...form.getAll('resource'), ...form.getAll('audience')],
          dpopJkt: dpop?.jkt,
        },
      )),
    }));
  };
}
