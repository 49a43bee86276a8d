/**
 * POST token_endpoint: authenticates the client, then hands the request to the
 * handler of its grant_type. Each grant lives in its own file; this one only
 * dispatches. Metadata's grant_types_supported lists exactly these keys.
 *
 * The backchannel authentication endpoint is mounted beside it here, so that
 * the app wires the endpoints agents POST to in one place.
 */
import { Hono } from 'hono';
import { backchannelRoutes } from '../delegation/backchannel-route.ts';
import type { Deps } from '../deps.ts';
import { CIBA_GRANT_TYPE, cibaGrant } from './ciba-grant.ts';
import type { ClientAuthenticator } from './client-auth.ts';
import { clientAuthInput } from './client-auth-input.ts';
import { DPOP_NONCE_HEADER, verifyDpopProof, type DpopVerifier } from './dpop.ts';
import { DpopNonces } from './dpop-nonce.ts';
import { OAuthError } from './errors.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE, exchangeGrant } from './exchange-grant.ts';
import { readForm } from './form.ts';
import type { GrantHandler } from './grant-handler.ts';
import { introspectionEndpoint } from './introspection-route.ts';
import { parseKek } from '../keys/kek.ts';
import { paths } from './metadata.ts';
import { REFRESH_GRANT_TYPE, refreshGrant } from './refresh-grant.ts';
import { revocationEndpoint } from './revocation-route.ts';
import type { RequestLimits } from '../ratelimit/guard.ts';
import type { Services } from '../services.ts';

/** The grant types the token endpoint accepts, by grant_type value. */
export function grantHandlers(
  deps: Pick<Deps, 'config' | 'database' | 'keys' | 'clock'>,
  services: Pick<Services, 'statusIndex' | 'policy'>,
): Map<string, GrantHandler> {
  return new Map([
    [CIBA_GRANT_TYPE, cibaGrant(deps, services.statusIndex)],
    [REFRESH_GRANT_TYPE, refreshGrant(deps, services)],
    [TOKEN_EXCHANGE_GRANT_TYPE, exchangeGrant(deps, services)],
  ]);
}

export function tokenEndpoint(
  auth: ClientAuthenticator,
  endpoint: string,
  grants: Map<string, GrantHandler>,
  dpop: DpopVerifier,
  limits: RequestLimits,
): Hono {
  const app = new Hono();
  const nonces = dpop.nonces;
  if (nonces) {
    // RFC 9449 §8.2: a fresh nonce may ride on any answer, errors included: a polling
    // CIBA client sees mostly authorization_pending, and this keeps its nonce current.
    app.use(async (c, next) => {
      await next();
      c.res.headers.set(DPOP_NONCE_HEADER, await nonces.issue());
    });
  }
  app.post('/', async (c) => {
    const form = await readForm(c, ['resource']);
    // A CIBA poll is told to slow down (CIBA Core §11, RFC 8628 §3.5); other grants get 429.
    const refusal = form.get('grant_type') === CIBA_GRANT_TYPE ? 'slow_down' : 'rate_limited';
    await limits.byAddress(c, 'token', refusal);
    const client = await auth.authenticate(clientAuthInput(c, form), endpoint);
    await limits.byAgent(client.clientId, 'token', refusal);
    const grantType = form.get('grant_type');
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    const handler = grants.get(grantType);
    if (!handler) {
      throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
    }
    // After client authentication, so that an anonymous caller cannot fill the proof-jti
    // store; once per request, and every grant gets the result (RFC 9449 §5).
    const proof = await verifyDpopProof(dpop, {
      header: c.req.header('dpop'),
      method: 'POST',
      url: endpoint,
    });
    // RFC 6749 §5.1: token responses are never cached.
    return c.json(await handler(form, client, proof), 200, {
      'cache-control': 'no-store',
      pragma: 'no-cache',
    });
  });
  return app;
}

/**
 * The token, backchannel authentication, introspection and revocation endpoints,
 * mounted at their metadata paths.
 */
export function tokenRoutes(deps: Deps, services: Services): Hono {
  const auth = services.clientAuth;
  const issuer = deps.config.publicUrl;
  const app = new Hono();
  const { config, clock } = deps;
  const dpop: DpopVerifier = {
    db: deps.database.db,
    clock,
    maxAge: config.dpopProofMaxAge,
    clockSkew: config.clockSkew,
    // A nonce stays acceptable for one to two proof lifetimes (src/oauth/dpop-nonce.ts).
    nonces: config.dpopRequireNonce
      ? new DpopNonces({
          secret: config.kek === undefined ? undefined : parseKek(config.kek),
          window: config.dpopProofMaxAge,
          clock,
        })
      : undefined,
  };
  app.route(
    paths.token,
    tokenEndpoint(
      auth,
      `${issuer}${paths.token}`,
      grantHandlers(deps, services),
      dpop,
      services.limits,
    ),
  );
  app.route(
    paths.backchannel,
    backchannelRoutes(deps, auth, `${issuer}${paths.backchannel}`, services),
  );
  app.route(
    paths.introspection,
    introspectionEndpoint(deps, auth, `${issuer}${paths.introspection}`),
  );
  app.route(paths.revocation, revocationEndpoint(deps, auth, `${issuer}${paths.revocation}`));
  return app;
}
