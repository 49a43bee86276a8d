/**
 * Real-browser tests: Debian's Chromium driven by playwright-core, a CDP virtual
 * authenticator standing in for the person's passkey, and the real app on a real port.
 * WebAuthn needs a secure context and a valid RP ID, so the server is reached as
 * http://localhost:<port> (127.0.0.1 is refused as an RP ID; STANDARDS.md).
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';
import type { TestDatabase } from './db.ts';
import { createTestApp, type TestApp } from './app.ts';

/** Flags that work as root, offline, in a container (STANDARDS.md). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

export interface VirtualAuthenticator {
  cdp: CDPSession;
  authenticatorId: string;
  /** The credentials it holds, as Chromium reports them. */
  credentials(): Promise<{ credentialId: string; isResidentCredential: boolean }[]>;
  /** Whether it answers prompts at all; off, a prompt waits as if the person walked away. */
  setPresence(present: boolean): Promise<void>;
}

/**
 * A platform authenticator with user verification and resident keys (a passkey),
 * that answers every prompt at once as if the person touched it.
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    credentials: async () =>
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    setPresence: async (enabled) => {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    },
  };
}

/**
 * What went wrong on the page as it ran: console errors (a failed load, a CSP
 * violation) and uncaught script errors. Tests expect it to stay empty.
 */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}

export interface TestServer {
  /** http://localhost:<port>, also the app's PUBLIC_URL (issuer, WebAuthn origin). */
  url: string;
  app: TestApp;
  close(): Promise<void>;
}

/**
 * The real app on a free port of localhost, with a fresh database (or the one given).
 * The port is known only once the socket listens, and PUBLIC_URL must name it, so the
 * socket listens first and forwards to the app built right after.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  database?: TestDatabase,
): Promise<TestServer> {
  let handle: ((request: Request) => Response | Promise<Response>) | undefined;
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: (request) => (handle ? handle(request) : new Response('starting', { status: 503 })),
        port: 0,
        hostname: 'localhost',
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://localhost:${port}`;
  try {
    const app = await createTestApp({ PUBLIC_URL: url, ...env }, database);
    handle = (request) => app.hono.fetch(request);
    return {
      url,
      app,
      close: async () => {
        await closeServer(server);
        await app.close();
      },
    };
  } catch (err) {
    await closeServer(server);
    throw err;
  }
}

function closeServer(server: ServerType): Promise<void> {
  // Keep-alive connections from the browser would hold close() open; drop them.
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

/** Where screenshots go: .test-results/screenshots/ (gitignored; CI keeps it). */
export const SCREENSHOT_DIR = join(process.cwd(), '.test-results', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
