/**
 * POST backchannel_authentication_endpoint (OpenID CIBA Core §7, poll mode only).
 * An agent names a person of its own tenant, the APIs and scopes it wants, and
 * optionally the task (RFC 9396 `agent_task`); the tenant's policy is asked
 * (RequestGrant), then the person approves or denies on their own device, and the
 * agent polls the token endpoint with `auth_req_id`.
 *
 * Every check runs before the INSERT, so a refused request writes nothing (client
 * authentication's replay record and the rate limits' counters aside) — except a
 * policy's refusal, whose `grant.refused` ledger entry commits before the agent gets
 * `access_denied`.
 */
import { Hono } from 'hono';
import type { Deps } from '../deps.ts';
import type { ClientAuthenticator } from '../oauth/client-auth.ts';
import { clientAuthInput } from '../oauth/client-auth-input.ts';
import { OAuthError } from '../oauth/errors.ts';
import { readForm } from '../oauth/form.ts';
import type { Services } from '../services.ts';
import { parseBackchannelInput } from './backchannel-input.ts';
import { requestGrant } from './create-request.ts';
import { resolvePerson } from './resolve-person.ts';
import { resolveTargets } from './resolve-targets.ts';
import { tenantDb } from '../db/tenancy.ts';

export function backchannelRoutes(
  deps: Pick<Deps, 'config' | 'database' | 'clock'>,
  auth: ClientAuthenticator,
  endpoint: string,
  /** `policy` is undefined only in benchmarks (then nothing is decided). */
  { policy, limits }: Pick<Services, 'policy' | 'limits'>,
): Hono {
  const { config } = deps;
  const app = new Hono();
  app.post('/', async (c) => {
    const form = await readForm(c, ['resource']);
    // Over a limit, CIBA's own word for "too often" (its §11 poll error, RFC 8628 §3.5).
    await limits.byAddress(c, 'ciba', 'slow_down');
    const client = await auth.authenticate(clientAuthInput(c, form), endpoint);
    await limits.byAgent(client.clientId, 'ciba', 'slow_down');
    if (client.kind !== 'agent') {
      throw new OAuthError('unauthorized_client', 'only agents may request a delegation');
    }
    const input = parseBackchannelInput(form, config);
    const db = tenantDb(deps.database.db, client.tenantId);
    const userId = await resolvePerson(db, client.tenantId, input.loginHint);
    const requested = await resolveTargets(db, client.tenantId, input.resources, input.scopes);
    const outcome = await db.transaction((tx) =>
      requestGrant(tx, policy, {
        tenantId: client.tenantId,
        clientId: client.clientId,
        userId,
        requested,
        authorizationDetails: input.authorizationDetails,
        bindingMessage: input.bindingMessage,
        expiresIn: input.requestedExpiry ?? config.cibaRequestTtl,
        interval: config.cibaInterval,
        grantTtl: input.authorizationDetails?.[0]?.duration ?? config.grantTtl,
        grantMaxTtl: config.grantMaxTtl,
        now: deps.clock.now(),
      }),
    );
    // A refusal committed with its ledger entry; only now does the agent hear of it.
    if (outcome.kind === 'refused') throw outcome.error;
    const { auth_req_id, expires_in, interval } = outcome.response;
    return c.json(
      { auth_req_id, expires_in, interval, ...(outcome.note ? { policy: outcome.note } : {}) },
      200,
      { 'cache-control': 'no-store', pragma: 'no-cache' },
    );
  });
  return app;
}
