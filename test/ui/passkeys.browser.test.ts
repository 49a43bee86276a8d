/**
 * A person's whole passkey journey in real Chromium with a virtual authenticator:
 * invite link → "Create passkey" → dashboard → sign out → "Sign in with passkey" →
 * dashboard; the used link is refused afterwards. Screenshots land in
 * .test-results/screenshots/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  addVirtualAuthenticator,
  launchBrowser,
  screenshot,
  startTestServer,
  type TestServer,
  pageProblems,
} from '../helpers/browser.ts';
import { passkeys } from '../../src/db/schema.ts';
import { invite } from './fixtures.ts';

let browser: Browser;
let server: TestServer;
let context: BrowserContext;
let page: Page;
/** Anything the browser complains about: CSP violations, script errors, failed loads. */
let problems: string[];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  server = await startTestServer();
  context = await browser.newContext();
  page = await context.newPage();
  // Fail a step in seconds rather than at the test's timeout, with the page's own words.
  page.setDefaultTimeout(10_000);
  problems = pageProblems(page);
});
afterEach(async () => {
  await context?.close();
  await server?.close();
});

const button = (name: string) => page.getByRole('button', { name, exact: true });

/** Clicks and waits for the dashboard; if the page shows an error instead, fails with it. */
async function clickThroughToDashboard(name: string): Promise<void> {
  await button(name).click();
  const alert = page.getByRole('alert');
  await Promise.race([
    heading('Dashboard').waitFor(),
    alert.waitFor().then(async () => {
      throw new Error(`the page says: ${await alert.textContent()}`);
    }),
  ]);
}
const heading = (name: string) => page.getByRole('heading', { name, exact: true });

describe('passkeys in a real browser', () => {
  it(
    'registers from an invite, signs out, signs back in, and refuses the used link',
    {
      timeout: 60_000,
    },
    async () => {
      const authenticator = await addVirtualAuthenticator(page);
      const { url: inviteUrl } = await invite(server.app, 'ada@example.com', 'acme');
      expect(inviteUrl.startsWith(`${server.url}/invite/`)).toBe(true);

      await page.goto(inviteUrl);
      await heading('Set up your passkey').waitFor();
      await screenshot(page, 'invite');

      await clickThroughToDashboard('Create passkey');
      expect(page.url()).toBe(`${server.url}/`);
      expect(await page.getByText('Signed in as ada@example.com').count()).toBe(1);
      const credentials = await authenticator.credentials();
      expect(credentials).toHaveLength(1);
      expect(credentials[0]?.isResidentCredential).toBe(true);
      await screenshot(page, 'dashboard');

      await button('Sign out').click();
      await button('Sign in with passkey').waitFor();
      expect(page.url()).toBe(`${server.url}/`);
      expect(await heading('Dashboard').count()).toBe(0);
      await screenshot(page, 'sign-in');

      await clickThroughToDashboard('Sign in with passkey');
      expect(await page.getByText('Signed in as ada@example.com').count()).toBe(1);

      const second = await page.goto(inviteUrl);
      expect(second?.status()).toBe(410);
      await heading('This invite link cannot be used').waitFor();
      expect(await button('Create passkey').count()).toBe(0);
      await screenshot(page, 'invite-refused');

      expect(problems.filter((p) => !isExpected410(p))).toEqual([]);
    },
  );

  it('adds a second passkey from the dashboard, which then signs in on its own', async () => {
    const first = await addVirtualAuthenticator(page);
    const { url: inviteUrl } = await invite(server.app, 'ada@example.com', 'acme');
    await page.goto(inviteUrl);
    await clickThroughToDashboard('Create passkey');

    // The first device is gone; a second one is added while still signed in.
    await first.cdp.send('WebAuthn.removeVirtualAuthenticator', {
      authenticatorId: first.authenticatorId,
    });
    const second = await addVirtualAuthenticator(page);
    await button('Add a passkey').click();
    await page.getByText('Passkey added.').waitFor();
    expect(await second.credentials()).toHaveLength(1);
    const stored = await server.app.owner.select().from(passkeys);
    expect(stored).toHaveLength(2);
    expect(new Set(stored.map((p) => p.userId)).size).toBe(1);

    await button('Sign out').click();
    await clickThroughToDashboard('Sign in with passkey');
    expect(await page.getByText('Signed in as ada@example.com').count()).toBe(1);
    expect(problems).toEqual([]);
  });

  it('says in words why sign-in failed when this device has no passkey', async () => {
    // An authenticator with no credential: Chromium answers the prompt with NotAllowedError,
    // as it does when a person cancels.
    await addVirtualAuthenticator(page);
    await page.goto(`${server.url}/`);
    await button('Sign in with passkey').click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^You are not signed in: the passkey prompt was/);
    expect(await button('Sign in with passkey').isEnabled()).toBe(true);
    await screenshot(page, 'sign-in-failed');
    expect(problems).toEqual([]);
  });
});

/** Chromium logs the 410 of the refused invite page as a failed resource load. */
const isExpected410 = (message: string): boolean => message.includes('410');
