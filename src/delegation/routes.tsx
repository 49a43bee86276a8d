/**
 * A person's side of delegation over HTTP: the approval page, the two steps of a
 * passkey approval, denial, and revoking a grant. Thin: the work is in
 * approval.ts, decide.ts and grants.ts.
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { Services } from '../services.ts';
import { OAuthError } from '../oauth/errors.ts';
import { PasskeyError } from '../passkeys/errors.ts';
import { loadSession, requireCsrf, type Session, type SessionEnv } from '../passkeys/session.ts';
import { describeIssues } from '../registry/validate.ts';
import { pageSecurity } from '../ui/csp.ts';
import { ApprovalPage, RequestNotFoundPage } from '../ui/pages/approval.tsx';
import { renderPage } from '../ui/render.ts';
import { completeApproval, durationCeiling, prepareApproval } from './approval.ts';
import { DelegationError, denyRequest } from './decide.ts';
import { revokeGrant } from './grants.ts';
import { loadRequestView } from './request-view.ts';
import { tenantDb } from '../db/tenancy.ts';

const choiceSchema = z.strictObject({
  resources: z
    .array(
      z.strictObject({
        resource: z.string().max(2048),
        scopes: z.array(z.string().max(128)).max(200),
      }),
    )
    .max(50),
  duration: z.number().int(),
});

const verifySchema = z.strictObject({
  response: z.looseObject({
    id: z.string(),
    rawId: z.string(),
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: z.string(),
      authenticatorData: z.string(),
      signature: z.string(),
      userHandle: z.string().optional(),
    }),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  }),
});

/** Domain refusals become 400 JSON with their message; nothing else is caught here. */
function refusal(err: unknown): never {
  if (err instanceof DelegationError || err instanceof PasskeyError) {
    throw new OAuthError('invalid_request', err.message, 400, { cause: err });
  }
  throw err;
}

async function jsonBody<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  const body: unknown = await c.req.json().catch(() => undefined);
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new OAuthError('invalid_request', `invalid body: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

const signedIn = (c: Context<SessionEnv>): Session => {
  const session = c.get('session');
  if (!session) throw new OAuthError('login_required', 'sign in first', 401);
  return session;
};

export function delegationRoutes(deps: Deps, services: Pick<Services, 'policy'>): Hono<SessionEnv> {
  const { config, clock } = deps;
  // Every page and action acts for the signed-in person, in their tenant's scope only.
  const approvalDeps = (who: Session) => ({
    db: tenantDb(deps.database.db, who.tenantId),
    config,
    clock,
    policy: services.policy,
  });
  // Per route, not use('*'): this app is mounted at '/', where a wildcard would run for every endpoint.
  const session = loadSession({ db: deps.database.db, config, clock });
  const csrf = requireCsrf(config);
  const secure = pageSecurity();
  const app = new Hono<SessionEnv>();

  app.get('/requests/:id', secure, session, async (c) => {
    const who = c.get('session');
    // Signing in leads to the dashboard, which lists this request with its Review link.
    if (!who) return c.redirect('/', 303);
    const view = await loadRequestView(
      tenantDb(deps.database.db, who.tenantId),
      who,
      c.req.param('id'),
      clock.now(),
    );
    if (!view) return renderPage(c, <RequestNotFoundPage session={who} />, 404);
    const ceiling = durationCeiling(view, config);
    const maxTokenTtl = Math.min(
      view.task.maxTokenTtl ?? config.accessTokenMaxTtl,
      config.accessTokenMaxTtl,
      ceiling,
    );
    return renderPage(
      c,
      <ApprovalPage session={who} view={view} ceiling={ceiling} maxTokenTtl={maxTokenTtl} />,
    );
  });

  app.post('/requests/:id/approval/options', session, csrf, async (c) => {
    const choice = await jsonBody(c, choiceSchema);
    const who = signedIn(c);
    const options = await prepareApproval(approvalDeps(who), who, c.req.param('id'), choice).catch(
      refusal,
    );
    return c.json(options, 200, { 'cache-control': 'no-store' });
  });

  app.post('/requests/:id/approval/verify', session, csrf, async (c) => {
    const { response } = await jsonBody(c, verifySchema);
    const id = c.req.param('id');
    const who = signedIn(c);
    const result = await completeApproval(
      approvalDeps(who),
      who,
      id,
      response as AuthenticationResponseJSON,
    ).catch(refusal);
    if (result.kind === 'refused') {
      // The request is now denied (the agent's poll answers access_denied); the challenge is used.
      throw new OAuthError('access_denied', `refused by policy: ${result.explanation}`, 403);
    }
    return c.json(
      {
        status: 'approved',
        grant_id: result.grantId,
        redirect: `/requests/${id}`,
        ...(result.note ? { policy: result.note } : {}),
      },
      200,
      { 'cache-control': 'no-store' },
    );
  });

  app.post('/requests/:id/deny', session, csrf, async (c) => {
    const id = c.req.param('id');
    const session = signedIn(c);
    await denyRequest(tenantDb(deps.database.db, session.tenantId), {
      ...session,
      requestId: id,
      now: clock.now(),
    }).catch(refusal);
    return c.redirect(`/requests/${id}`, 303);
  });

  app.post('/grants/:id/revoke', session, csrf, async (c) => {
    const who = signedIn(c);
    await revokeGrant(
      tenantDb(deps.database.db, who.tenantId),
      who,
      c.req.param('id'),
      'revoked by the person',
      clock.now(),
    );
    return c.redirect('/', 303);
  });

  return app;
}
