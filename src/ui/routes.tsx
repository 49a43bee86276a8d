/**
 * The pages people open: `/` (sign-in, or the dashboard when signed in), the invite
 * page, and their static assets. Middleware is attached per route rather than with
 * `use('*')`, because this app is mounted at `/` and a wildcard would run it for
 * every endpoint of the broker.
 */
import { Hono, type Context } from 'hono';
import {
  agentSummaries,
  SUMMARY_WINDOWS,
  windowEnding,
  type SummaryWindowName,
} from '../audit/summary-query.ts';
import { ActivityPage } from './pages/activity.tsx';
import type { Deps } from '../deps.ts';
import { loadSession, type SessionEnv } from '../passkeys/session.ts';
import { assetRoutes } from './assets.ts';
import { pageSecurity } from './csp.ts';
import { findOpenInvite } from '../registry/open-invite.ts';
import {
  activeGrants,
  dashboardState,
  pendingRequests,
  recentActivity,
} from '../delegation/grants.ts';
import { OAuthError } from '../oauth/errors.ts';
import { Dashboard } from './pages/dashboard.tsx';
import { ActiveGrants, PendingRequests, RecentActivity } from './pages/delegations.tsx';
import { InvitePage, InviteRefusedPage } from './pages/invite.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { renderPage } from './render.ts';
import { tenantDb } from '../db/tenancy.ts';

export function pageRoutes(deps: Deps): Hono<SessionEnv> {
  const { config, clock } = deps;
  const db = deps.database.db;
  const session = loadSession({ db, config, clock });
  const secure = pageSecurity();
  const pages = new Hono<SessionEnv>();

  pages.route('/', assetRoutes(deps.assets));

  pages.get('/', secure, session, async (c) => {
    const who = c.get('session');
    if (!who) return renderPage(c, <SignInPage />);
    const now = clock.now();
    const scoped = tenantDb(db, who.tenantId);
    const [pending, active, recent] = await Promise.all([
      pendingRequests(scoped, who, now),
      activeGrants(scoped, who, now),
      recentActivity(scoped, who, now),
    ]);
    return renderPage(
      c,
      <Dashboard session={who} state={await dashboardState(pending, active)}>
        <PendingRequests requests={pending} />
        <ActiveGrants grants={active} csrf={who.csrfToken} />
        <RecentActivity events={recent} />
      </Dashboard>,
    );
  });

  // What the person's agents did, as a page and as JSON (the same summaries).
  const activity = async (c: Context<SessionEnv>) => {
    const who = c.get('session');
    if (!who) throw new OAuthError('login_required', 'sign in first', 401);
    const raw = c.req.query('window') ?? '24h';
    if (!(raw in SUMMARY_WINDOWS)) {
      throw new OAuthError(
        'invalid_request',
        `window must be one of ${Object.keys(SUMMARY_WINDOWS).join(', ')}`,
      );
    }
    const window = raw as SummaryWindowName;
    const agents = await agentSummaries(
      tenantDb(db, who.tenantId),
      { tenantId: who.tenantId, personId: who.userId },
      windowEnding(clock.now(), window),
    );
    return { who, window, agents };
  };
  pages.get('/activity', secure, session, async (c) => {
    if (!c.get('session')) return c.redirect('/', 303);
    const { who, window, agents } = await activity(c);
    return renderPage(c, <ActivityPage session={who} window={window} agents={agents} />);
  });
  pages.get('/activity.json', session, async (c) => {
    const { window, agents } = await activity(c);
    return c.json({ window, agents }, 200, { 'cache-control': 'no-store' });
  });

  // What the dashboard's script polls: a digest of the pending requests and live grants.
  pages.get('/dashboard/state', session, async (c) => {
    const who = c.get('session');
    if (!who) throw new OAuthError('login_required', 'sign in first', 401);
    const now = clock.now();
    const scoped = tenantDb(db, who.tenantId);
    const state = await dashboardState(
      await pendingRequests(scoped, who, now),
      await activeGrants(scoped, who, now),
    );
    return c.json({ state }, 200, { 'cache-control': 'no-store' });
  });

  pages.get('/invite/:secret', secure, session, async (c) => {
    const secret = c.req.param('secret');
    const invite = await findOpenInvite(db, secret, clock);
    const who = c.get('session');
    // 410 Gone for every refusal: unknown, used and expired links look alike on purpose,
    // as in consumeInvite, and none of them will work again.
    if (!invite) return renderPage(c, <InviteRefusedPage session={who} />, 410);
    return renderPage(c, <InvitePage invite={invite} secret={secret} session={who} />);
  });

  return pages;
}
