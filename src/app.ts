/**
 * The Hono app, assembled from its dependencies. Runtime-agnostic: the Node and
 * Workers entries build the dependencies and call createApp.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Deps } from './deps.ts';
import { didRoutes } from './did/routes.ts';
import { healthRoutes } from './health/routes.ts';
import { jwksRoutes } from './keys/routes.ts';
import { ClientAuthenticator } from './oauth/client-auth.ts';
import { OAuthError } from './oauth/errors.ts';
import { authorizationServerMetadata, paths } from './oauth/metadata.ts';
import { errorResponse } from './oauth/respond.ts';
import { tokenRoutes } from './oauth/token-route.ts';
import { securityHeaders } from './ui/csp.ts';
import { pageRoutes } from './ui/routes.tsx';
import { passkeyRoutes } from './passkeys/passkey-routes.ts';
import { delegationRoutes } from './delegation/routes.tsx';
import { PolicyEngine } from './policy/engine.ts';
import { DatabaseRateLimiter } from './ratelimit/database-limiter.ts';
import { RequestLimits } from './ratelimit/guard.ts';
import { RevocationFeed } from './revocation/feed.ts';
import { revocationRoutes } from './revocation/routes.ts';
import { StatusIndexAllocator } from './revocation/status-index.ts';
import type { Services } from './services.ts';

export interface App extends Services {
  hono: Hono;
  /** Stops what the app keeps running (the revocation feed's listener); the deps stay open. */
  close(): Promise<void>;
}

export interface AppOptions {
  /** false: decide nothing (every decision point goes ahead as the grant allows); benchmarks only. */
  policy?: boolean;
}

export function createApp(deps: Deps, options: AppOptions = {}): App {
  const { config } = deps;
  const clientAuth = new ClientAuthenticator({
    db: deps.database.db,
    clock: deps.clock,
    issuer: config.publicUrl,
    maxAssertionTtl: config.clientAssertionMaxTtl,
    clockSkew: config.clockSkew,
  });

  const services: Services = {
    clientAuth,
    statusIndex: new StatusIndexAllocator(deps.database.db, config.statusListSize),
    revocations: new RevocationFeed(deps.database, deps.log, config.revocationPollInterval * 1000),
    policy:
      options.policy === false
        ? undefined
        : new PolicyEngine({
            db: deps.database.db,
            cedar: deps.cedar,
            clock: deps.clock,
            ...(deps.authorizer ? { authorizer: deps.authorizer } : {}),
          }),
    limits: requestLimits(deps),
  };

  const app = new Hono();
  app.use(securityHeaders(config.publicUrl));
  app.use(
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        throw new OAuthError('invalid_request', 'request body too large', 413);
      },
    }),
  );

  // Before `ready`: health answers in its own shape whatever state the set-up is in.
  app.route('/', healthRoutes(deps.database, deps.keys, deps.ready));
  const { ready } = deps;
  if (ready) {
    app.use(async (_c, next) => {
      await ready();
      await next();
    });
  }

  app.get(paths.metadata, (c) =>
    c.json(authorizationServerMetadata(config), 200, { 'cache-control': 'public, max-age=300' }),
  );
  app.route(paths.jwks, jwksRoutes(deps.keys));
  app.route('/', didRoutes(config.publicUrl, deps.keys));
  app.route('/', tokenRoutes(deps, services));
  app.route('/', revocationRoutes(deps, services));
  app.route('/', pageRoutes(deps));
  app.route('/', passkeyRoutes(deps));
  app.route('/', delegationRoutes(deps, services));

  app.notFound((c) =>
    errorResponse(new OAuthError('not_found', 'no such endpoint', 404), c, deps.log),
  );
  app.onError((err, c) => errorResponse(err, c, deps.log));
  return { hono: app, ...services, close: () => services.revocations.close() };
}

/** The configured limits on the endpoints agents POST to; a limit of 0 is off. */
function requestLimits(deps: Deps): RequestLimits {
  const { config } = deps;
  const rule = (limit: number) =>
    limit > 0 ? { limit, windowSeconds: config.rateLimitWindow } : undefined;
  return new RequestLimits(
    deps.rateLimiter ?? new DatabaseRateLimiter(deps.database.db, deps.clock),
    { address: rule(config.rateLimitAddress), agent: rule(config.rateLimitAgent) },
    deps.clientAddress ?? (() => undefined),
  );
}
