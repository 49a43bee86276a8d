/**
 * People's sessions as seen by routes: `loadSession` puts the signed-in person
 * (or undefined) on the context; `requireCsrf` guards every state-changing
 * request from a page. The cookie holds a random secret; the database keeps only
 * its SHA-256, so a leaked table signs nobody in.
 */
import { and, eq, gt, lte } from 'drizzle-orm';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { timingSafeEqual } from 'hono/utils/buffer';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Database, DbOrTx } from '../db/database.ts';
import { sessions, users } from '../db/schema.ts';
import { OAuthError } from '../oauth/errors.ts';
import { randomToken, sha256base64url } from '../random.ts';
import { forEachTenant, inTenant } from '../db/tenancy.ts';
import { sessionTenant } from '../db/lookups.ts';

export interface Session {
  idHash: string;
  tenantId: string;
  userId: string;
  email: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface SessionEnv {
  Variables: { session: Session | undefined };
}

/** Secure cookies everywhere but plain-http localhost, where browsers would drop them. */
export function cookieSettings(config: Pick<Config, 'publicUrl'>) {
  const url = new URL(config.publicUrl);
  const secure = url.protocol === 'https:';
  // The __Host- prefix makes the browser refuse a cookie set without Secure, Path=/ or with Domain.
  return { name: secure ? '__Host-mandate_session' : 'mandate_session', secure };
}

export interface SessionDeps {
  db: DbOrTx;
  config: Pick<Config, 'publicUrl' | 'sessionTtl'>;
  clock: Clock;
}

/** Creates a session row and sets its cookie: HttpOnly, SameSite=Strict, Secure unless localhost. */
export async function startSession(
  c: Context,
  deps: SessionDeps,
  who: { tenantId: string; userId: string; passkeyId: string | null },
): Promise<void> {
  const secret = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + deps.config.sessionTtl * 1000);
  const idHash = await sha256base64url(secret);
  await inTenant(deps.db, who.tenantId, (tx) =>
    tx.insert(sessions).values({
      idHash,
      tenantId: who.tenantId,
      userId: who.userId,
      passkeyId: who.passkeyId,
      csrfToken: randomToken(32),
      createdAt: now,
      expiresAt,
    }),
  );
  const { name, secure } = cookieSettings(deps.config);
  setCookie(c, name, secret, {
    httpOnly: true,
    secure,
    sameSite: 'Strict',
    path: '/',
    maxAge: deps.config.sessionTtl,
  });
}

/** Deletes the session row and clears the cookie. */
export async function endSession(c: Context<SessionEnv>, deps: SessionDeps): Promise<void> {
  const session = c.get('session');
  if (session) {
    await inTenant(deps.db, session.tenantId, (tx) =>
      tx.delete(sessions).where(eq(sessions.idHash, session.idHash)),
    );
  }
  const { name, secure } = cookieSettings(deps.config);
  deleteCookie(c, name, { path: '/', secure });
}

export function loadSession(deps: SessionDeps): MiddlewareHandler<SessionEnv> {
  const { name } = cookieSettings(deps.config);
  return async (c, next) => {
    c.set('session', undefined);
    const secret = getCookie(c, name);
    const idHash = secret && secret.length <= 128 ? await sha256base64url(secret) : undefined;
    // The cookie names the session, the session its tenant: read in that tenant's scope.
    const tenantId = idHash === undefined ? undefined : await sessionTenant(deps.db, idHash);
    if (idHash !== undefined && tenantId !== undefined) {
      const [row] = await inTenant(deps.db, tenantId, (tx) =>
        tx
          .select({
            idHash: sessions.idHash,
            tenantId: sessions.tenantId,
            userId: sessions.userId,
            csrfToken: sessions.csrfToken,
            expiresAt: sessions.expiresAt,
            email: users.email,
            status: users.status,
          })
          .from(sessions)
          .innerJoin(users, eq(users.id, sessions.userId))
          .where(and(eq(sessions.idHash, idHash), gt(sessions.expiresAt, deps.clock.now()))),
      );
      if (row && row.status === 'active') {
        const { idHash, tenantId, userId, csrfToken, expiresAt, email } = row;
        c.set('session', { idHash, tenantId, userId, csrfToken, expiresAt, email });
      }
    }
    await next();
  };
}

/**
 * Refuses a request a browser says came from elsewhere: an Origin other than ours, or
 * (when a browser sends Fetch Metadata but no Origin) a Sec-Fetch-Site other than
 * same-origin or none (a person's own navigation). Clients that are not browsers send
 * neither and are judged by what else the endpoint requires.
 */
export function refuseCrossSite(c: Context, publicUrl: string): void {
  const sentOrigin = c.req.header('origin');
  const site = c.req.header('sec-fetch-site');
  if (
    (sentOrigin !== undefined && sentOrigin !== new URL(publicUrl).origin) ||
    (site !== undefined && site !== 'same-origin' && site !== 'none')
  ) {
    throw new OAuthError('invalid_request', 'cross-origin request refused', 403);
  }
}

/**
 * For POSTs from pages: a live session, a request from our own origin (refuseCrossSite),
 * and the session's CSRF token in the `x-csrf-token` header or a `csrf` form field.
 * SameSite=Strict already stops cross-site cookies; this is the second lock.
 */
export function requireCsrf(config: Pick<Config, 'publicUrl'>): MiddlewareHandler<SessionEnv> {
  return async (c, next) => {
    const session = c.get('session');
    if (!session) throw new OAuthError('login_required', 'sign in first', 401);
    refuseCrossSite(c, config.publicUrl);
    let token = c.req.header('x-csrf-token');
    if (
      token === undefined &&
      c.req.header('content-type')?.startsWith('application/x-www-form-urlencoded')
    ) {
      const form = await c.req.parseBody();
      token = typeof form.csrf === 'string' ? form.csrf : undefined;
    }
    if (token === undefined || !(await timingSafeEqual(token, session.csrfToken))) {
      throw new OAuthError('invalid_request', 'missing or wrong CSRF token', 403);
    }
    await next();
  };
}

/** Deletes sessions past their expiry; they already open nothing, this only keeps the table small. */
export async function pruneSessions(db: Database, now: Date): Promise<void> {
  await forEachTenant(db, async (scoped) => {
    await scoped.delete(sessions).where(lte(sessions.expiresAt, now));
  });
}
