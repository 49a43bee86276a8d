/**
 * The person's part of the demo, played by headless Chromium with a virtual passkey
 * (the CDP virtual authenticator the browser tests use): register a passkey from the
 * invite link, then review the agent's request on the dashboard and approve it —
 * clicking exactly what a person would, by the controls' accessible names.
 */
import type { Browser, Page } from 'playwright-core';
import { addVirtualAuthenticator, launchBrowser } from '../test/helpers/browser.ts';

export interface HeadlessPerson {
  registerPasskey(inviteUrl: string): Promise<void>;
  /** Approves the one pending request, after checking the page shows the agent's binding message. */
  approve(agentName: string, bindingMessage: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHeadlessPerson(): Promise<HeadlessPerson> {
  const browser: Browser = await launchBrowser();
  try {
    const page: Page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(20_000);
    await addVirtualAuthenticator(page);
    const button = (name: string) => page.getByRole('button', { name, exact: true });
    const heading = (name: string) => page.getByRole('heading', { name, exact: true });
    return {
      async registerPasskey(inviteUrl) {
        await page.goto(inviteUrl);
        await button('Create passkey').click();
        // A person who registered from an invite is signed in, on their dashboard.
        await heading('Dashboard').waitFor();
      },
      async approve(agentName, bindingMessage) {
        // The dashboard updates itself when a request arrives; no reload needed.
        await page.getByRole('link', { name: 'Review' }).first().click();
        await heading(`${agentName} asks to act for you`).waitFor();
        await page.getByText(bindingMessage, { exact: true }).waitFor();
        await button('Approve with passkey').click();
        await page.getByText(/You approved this request/).waitFor();
      },
      close: () => browser.close(),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
