/** What `/` shows a person who is not signed in: passkey sign-in, and what Mandate is for. */
import type { FC } from 'hono/jsx';
import { Layout } from '../layout.tsx';
import { PasskeyAction } from '../passkey-action.tsx';

export const SignInPage: FC = () => (
  <Layout title="Sign in" width="narrow" scripts={['simplewebauthn.js', 'passkeys.js']}>
    <section class="card" aria-labelledby="sign-in-heading">
      <p class="eyebrow">Welcome back</p>
      <h1 id="sign-in-heading">Sign in to Mandate</h1>
      <p class="lead">
        Use the passkey you created from your invite link. Mandate has no passwords.
      </p>
      <PasskeyAction mode="signin" label="Sign in with passkey" />
      <p class="fine-print">
        No passkey yet? Open the invite link you received on this device, or ask your administrator
        for a new one.
      </p>
    </section>
    <section class="aside" aria-labelledby="about-heading">
      <h2 id="about-heading">What you do here</h2>
      <ul class="features">
        <li>
          <strong>Approve or deny</strong> what an AI agent asks to do for you, scope by scope.
        </li>
        <li>
          <strong>See and revoke</strong> every grant an agent holds, at any time.
        </li>
        <li>
          <strong>Stay accountable</strong>: every agent action carries your name, the agent's and
          the task.
        </li>
      </ul>
    </section>
  </Layout>
);
