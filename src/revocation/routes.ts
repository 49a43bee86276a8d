/** The revocation room's endpoints: status lists, overrun reports and the event stream. */
import { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import { paths } from '../oauth/metadata.ts';
import type { Services } from '../services.ts';
import { revocationEventsEndpoint } from './events-route.ts';
import { overrunEndpoint } from './overrun-route.ts';
import { statusListRoutes } from './status-list-route.ts';

export function revocationRoutes(deps: Deps, services: Services): Hono {
  const issuer = deps.config.publicUrl;
  const app = new Hono();
  app.route('/', statusListRoutes(deps));
  app.route(
    paths.overrun,
    overrunEndpoint(deps, services.clientAuth, `${issuer}${paths.overrun}`, services.policy),
  );
  app.route(
    paths.revocationEvents,
    revocationEventsEndpoint(deps, services, `${issuer}${paths.revocationEvents}`),
  );
  return app;
}
