import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeInvite } from '../../src/registry/users.ts';
import { CONTENT_SECURITY_POLICY } from '../../src/ui/csp.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { inlineCode, invite, signedIn } from './fixtures.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const page = async (path: string, cookie?: string) => {
  const res = await t.request(path, cookie ? { headers: { cookie } } : undefined);
  return { res, html: await res.text() };
};

function expectPageHeaders(res: Response): void {
  expect(res.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/i);
  expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
}

describe('page security', () => {
  it('uses exactly the strict policy: nothing inline, nothing from elsewhere, no framing', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
        "require-trusted-types-for 'script'; trusted-types 'none'",
    );
  });

  it('sends the policy, no-store and no-referrer on every page, and no page has inline code', async () => {
    const { secret } = await invite(t);
    const { cookie } = await signedIn(t, 'bob@example.com');
    const pages = [
      await page('/'),
      await page('/', cookie),
      await page(`/invite/${secret}`),
      await page('/invite/not-a-real-link'),
    ];
    for (const { res, html } of pages) {
      expectPageHeaders(res);
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(inlineCode(html)).toEqual([]);
      // Same-origin form POSTs must carry our Origin for the CSRF check (see layout.tsx).
      expect(html).toContain('<meta name="referrer" content="same-origin"/>');
      // Every script and stylesheet comes from our own /assets/.
      for (const [, src] of html.matchAll(/<(?:script|link)[^>]*\s(?:src|href)="([^"]*)"/g)) {
        expect(src).toMatch(/^(\/assets\/[a-z0-9.-]+|data:,)$/);
      }
    }
  });
});

describe('sign-in and dashboard at /', () => {
  it('shows the sign-in page to a person who is not signed in', async () => {
    const { res, html } = await page('/');
    expect(res.status).toBe(200);
    expect(html).toContain('Sign in with passkey');
    expect(html).toContain('data-passkey="signin"');
    expect(html).toContain('<script src="/assets/simplewebauthn.js" defer="">');
    expect(html).toContain('<script src="/assets/passkeys.js" defer="">');
    expect(html).not.toContain('Sign out');
  });

  it('shows the dashboard with the email and a sign-out form carrying the CSRF token', async () => {
    const { cookie, csrf } = await signedIn(t, 'ada@example.com');
    const { res, html } = await page('/', cookie);
    expect(res.status).toBe(200);
    expect(html).toContain('<h1>Dashboard</h1>');
    expect(html).toContain('Signed in as <strong>ada@example.com</strong>');
    expect(html).toMatch(/<form method="post" action="\/signout"/);
    expect(html).toContain(`<input type="hidden" name="csrf" value="${csrf}"/>`);
    expect(html).toContain('Add a passkey');
    expect(html).toContain(`data-passkey="add" data-csrf="${csrf}"`);
  });

  it('shows the sign-in page again once the session has expired', async () => {
    const { cookie } = await signedIn(t);
    t.clock.advance(t.deps.config.sessionTtl + 1);
    const { html } = await page('/', cookie);
    expect(html).toContain('Sign in with passkey');
    expect(html).not.toContain('Dashboard</h1>');
  });

  it('ignores a cookie that names no session', async () => {
    const { html } = await page('/', 'mandate_session=forged');
    expect(html).toContain('Sign in with passkey');
  });
});

describe('invite page', () => {
  it('explains the invitation and offers "Create passkey" without using up the link', async () => {
    const { secret } = await invite(t, 'ada@example.com', 'acme');
    const { res, html } = await page(`/invite/${secret}`);
    expect(res.status).toBe(200);
    expect(html).toContain('You have been invited to approve what AI agents may do for you');
    expect(html).toContain('ada@example.com');
    expect(html).toContain('acme');
    expect(html).toContain('Create passkey');
    expect(html).toContain(`data-passkey="register" data-invite="${secret}"`);
    // Only the passkey ceremony redeems the link; showing the page twice is harmless.
    expect((await page(`/invite/${secret}`)).res.status).toBe(200);
    await expect(consumeInvite(t.owner, secret, t.clock)).resolves.toMatchObject({});
  });

  it('refuses an unknown link with 410 and says what to do', async () => {
    const { res, html } = await page('/invite/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(res.status).toBe(410);
    expect(html).toContain('This invite link cannot be used');
    expect(html).toContain('ask the administrator');
    expect(html).not.toContain('Create passkey');
  });

  it('refuses a link that was already used', async () => {
    const { secret } = await invite(t);
    await consumeInvite(t.owner, secret, t.clock);
    const { res, html } = await page(`/invite/${secret}`);
    expect(res.status).toBe(410);
    expect(html).toContain('already used');
  });

  it('refuses an expired link and one replaced by a newer invite', async () => {
    const first = await invite(t, 'ada@example.com');
    const second = await invite(t, 'ada@example.com');
    expect((await page(`/invite/${first.secret}`)).res.status).toBe(410);
    expect((await page(`/invite/${second.secret}`)).res.status).toBe(200);
    t.clock.advance(t.deps.config.inviteTtl + 1);
    expect((await page(`/invite/${second.secret}`)).res.status).toBe(410);
  });

  it('refuses an over-long link', async () => {
    const { res } = await page(`/invite/${'a'.repeat(4000)}`);
    expect(res.status).toBe(410);
  });
});

describe('assets', () => {
  it('serves the stylesheet and scripts with their types and a short public cache', async () => {
    const cases = [
      ['app.css', 'text/css; charset=utf-8', '.card'],
      ['passkeys.js', 'text/javascript; charset=utf-8', 'data-passkey'],
      ['simplewebauthn.js', 'text/javascript; charset=utf-8', 'SimpleWebAuthnBrowser'],
    ] as const;
    for (const [name, type, marker] of cases) {
      const res = await t.request(`/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toContain(marker);
    }
  });

  it('answers unknown names with a JSON 404', async () => {
    const res = await t.request('/assets/nope.js');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', error_description: 'no such asset' });
  });

  it('never reads outside the assets folder, however the name is spelled', async () => {
    const attempts = [
      '/assets/..%2Fassets.ts',
      '/assets/..%2F..%2F..%2Fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fdeps.ts',
      '/assets/..%5C..%5Cdeps.ts',
      '/assets/.%2Fapp.css',
      '/assets/app.css%00.js',
      '/assets/APP.CSS',
      '/assets/time.ts',
    ];
    for (const path of attempts) {
      const res = await t.request(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
    }
    expect(await t.deps.assets.get('../assets.ts')).toBeUndefined();
    expect(await t.deps.assets.get('../../package.json')).toBeUndefined();
  });
});
