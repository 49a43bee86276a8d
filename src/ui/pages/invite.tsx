/**
 * The page an invite link opens: what Mandate is, whose access this sets up, and the
 * "Create passkey" button. Creating the passkey redeems the link and signs the person in.
 */
import type { FC } from 'hono/jsx';
import type { Session } from '../../passkeys/session.ts';
import type { OpenInvite } from '../../registry/open-invite.ts';
import { Layout } from '../layout.tsx';
import { PasskeyAction } from '../passkey-action.tsx';
import { formatTime } from '../time.ts';

export interface InvitePageProps {
  invite: OpenInvite;
  secret: string;
  session?: Session | undefined;
}

export const InvitePage: FC<InvitePageProps> = ({ invite, secret, session }) => (
  <Layout
    title="Accept your invite"
    session={session}
    width="narrow"
    scripts={['simplewebauthn.js', 'passkeys.js']}
  >
    <section class="card" aria-labelledby="invite-heading">
      <p class="eyebrow">Invitation · {invite.tenant}</p>
      <h1 id="invite-heading">Set up your passkey</h1>
      <p class="lead">
        You have been invited to approve what AI agents may do for you. Before an agent gets access
        to anything on your behalf, Mandate shows you which agent is asking, what it wants to do and
        for how long, and you decide.
      </p>
      <dl class="facts">
        <div>
          <dt>Account</dt>
          <dd>{invite.email}</dd>
        </div>
        <div>
          <dt>Organisation</dt>
          <dd>{invite.tenant}</dd>
        </div>
      </dl>
      <ol class="steps">
        <li>
          <strong>Create a passkey</strong> on this device: your fingerprint, face, screen lock or
          security key. There is no password.
        </li>
        <li>
          <strong>You are signed in</strong> and see your dashboard.
        </li>
        <li>
          <strong>When an agent asks</strong>, review the request and approve it with the same
          passkey, or deny it.
        </li>
      </ol>
      <PasskeyAction mode="register" label="Create passkey" invite={secret} />
      <p class="fine-print">
        The passkey stays on your device and works only on this site, so it cannot be phished. This
        link works once and expires {formatTime(invite.expiresAt)}.
      </p>
    </section>
  </Layout>
);

/** For a link that is unknown, used, expired or revoked: one page, one message, a way on. */
export const InviteRefusedPage: FC<{ session?: Session | undefined }> = ({ session }) => (
  <Layout title="Invite link not valid" session={session} width="narrow">
    <section class="card" aria-labelledby="refused-heading">
      <p class="eyebrow">Invitation</p>
      <h1 id="refused-heading">This invite link cannot be used</h1>
      <p class="lead">
        The link is not valid any more: it was already used to create a passkey, it has expired, or
        a newer invite replaced it.
      </p>
      <h2>What you can do</h2>
      <ul class="options">
        <li>
          If you already created a passkey with this link, <a href="/">sign in with it</a>.
        </li>
        <li>
          Otherwise, ask the administrator of Mandate in your organisation to send you a new invite
          link. Each link works once.
        </li>
      </ul>
      <p>
        <a class="button button-secondary" href="/">
          Go to sign in
        </a>
      </p>
    </section>
  </Layout>
);
