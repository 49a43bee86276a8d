/**
 * The frame of every page: head, header with the product name and, for a signed-in
 * person, their email and a "Sign out" button. No inline scripts or styles anywhere
 * (src/ui/csp.ts forbids them); scripts are our own files from /assets/.
 */
import type { Child, FC } from 'hono/jsx';
import type { Session } from '../passkeys/session.ts';

export interface LayoutProps {
  /** The page's own title; the product name is appended. */
  title: string;
  /** The signed-in person, when there is one. */
  session?: Session | undefined;
  /** Asset names of scripts this page needs, in order, e.g. ['simplewebauthn.js', 'passkeys.js']. */
  scripts?: string[];
  /** `narrow` centres a single card (invite, sign-in); `wide` is for dashboards and lists. */
  width?: 'narrow' | 'wide';
  children?: Child;
}

export const Layout: FC<LayoutProps> = ({
  title,
  session,
  scripts = [],
  width = 'wide',
  children,
}) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      {/*
        The header says no-referrer, but under it browsers send `Origin: null` with a form
        POST (Fetch, "serializing a request origin"), and requireCsrf rightly refuses that,
        so "Sign out" would fail. same-origin still sends nothing to any other site, which
        is what keeps an invite secret in the URL private.
      */}
      <meta name="referrer" content="same-origin" />
      <title>{`${title} · Mandate`}</title>
      {/* An empty icon, so browsers do not ask for /favicon.ico and log a 404. */}
      <link rel="icon" href="data:," />
      <link rel="stylesheet" href="/assets/app.css" />
      {/* defer keeps the order and runs after parsing, so scripts find their buttons. */}
      {scripts.map((name) => (
        <script src={`/assets/${name}`} defer></script>
      ))}
    </head>
    <body>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <div class="bar">
          <a class="brand" href="/">
            <Mark />
            <span>Mandate</span>
          </a>
          {session ? <Account session={session} /> : null}
        </div>
      </header>
      <main id="main" class={`page page-${width}`}>
        {children}
      </main>
      <footer class="site-footer">
        <p>Mandate: AI agents act for you only with what you approved, and only for a while.</p>
      </footer>
    </body>
  </html>
);

/** Who is signed in, and a plain form to sign out: it works without JavaScript. */
const Account: FC<{ session: Session }> = ({ session }) => (
  <div class="account">
    <span class="account-email" title="Signed in">
      {session.email}
    </span>
    <form method="post" action="/signout" class="inline-form">
      <input type="hidden" name="csrf" value={session.csrfToken} />
      <button type="submit" class="button button-quiet">
        Sign out
      </button>
    </form>
  </div>
);

/** The product mark: a shield with a check, drawn inline so it needs no request. */
const Mark: FC = () => (
  <svg class="brand-mark" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
    <path
      d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5l-8-3Z"
      fill="currentColor"
      opacity="0.16"
    />
    <path
      d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5l-8-3Z"
      fill="none"
      stroke="currentColor"
      stroke-width="1.6"
      stroke-linejoin="round"
    />
    <path
      d="m8.5 12 2.5 2.5 4.5-5"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
      stroke-linejoin="round"
    />
  </svg>
);
