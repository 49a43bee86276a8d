/**
 * The signed-in person's home at `/`. A shell for now: who is signed in and a way to
 * add another passkey; pending requests and grants arrive as `children`.
 */
import type { Child, FC } from 'hono/jsx';
import type { Session } from '../../passkeys/session.ts';
import { Layout } from '../layout.tsx';
import { PasskeyAction } from '../passkey-action.tsx';

export interface DashboardProps {
  session: Session;
  /** A digest of what the page shows; dashboard.js reloads when the broker's differs. */
  state?: string;
  /** Sections shown above the passkey panel (pending requests, grants, activity). */
  children?: Child;
}

export const Dashboard: FC<DashboardProps> = ({ session, state, children }) => (
  <Layout
    title="Dashboard"
    session={session}
    scripts={['simplewebauthn.js', 'passkeys.js', 'dashboard.js']}
  >
    <div class="page-head" data-dashboard-state={state}>
      <h1>Dashboard</h1>
      <p class="muted">
        Signed in as <strong>{session.email}</strong> · <a href="/activity">What your agents did</a>
      </p>
    </div>
    {children ?? <NothingYet />}
    <section class="panel" aria-labelledby="passkeys-heading">
      <h2 id="passkeys-heading">Passkeys</h2>
      <p>
        Add a passkey on another device, so that you can still approve requests if you lose this
        one.
      </p>
      <PasskeyAction
        mode="add"
        label="Add a passkey"
        csrf={session.csrfToken}
        emphasis="secondary"
      />
    </section>
  </Layout>
);

/** Until requests and grants are listed here, say what will appear and when. */
const NothingYet: FC = () => (
  <section class="panel panel-empty" aria-labelledby="waiting-heading">
    <h2 id="waiting-heading">Nothing needs your attention</h2>
    <p>
      When an AI agent asks to act for you, its request appears here: which agent, what it wants to
      do and for how long. You approve it with your passkey or deny it.
    </p>
  </section>
);
