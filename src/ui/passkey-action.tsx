/**
 * A passkey ceremony's button with the two places its script writes to: progress
 * (role=status) and failure in words (role=alert). The script (assets/passkeys.js)
 * finds the button by `data-passkey`; without JavaScript the noscript note explains.
 */
import type { FC } from 'hono/jsx';

export type PasskeyMode = 'register' | 'signin' | 'add';

export interface PasskeyActionProps {
  mode: PasskeyMode;
  /** The button's accessible name, e.g. "Create passkey" (DESIGN.md, Pages). */
  label: string;
  /** register: the invite secret the ceremony redeems. */
  invite?: string;
  /** add: the session's CSRF token, sent as x-csrf-token. */
  csrf?: string;
  /** Style: the main action of a page, or a secondary one. */
  emphasis?: 'primary' | 'secondary';
}

export const PasskeyAction: FC<PasskeyActionProps> = ({
  mode,
  label,
  invite,
  csrf,
  emphasis = 'primary',
}) => (
  <div class="passkey-action" data-passkey-panel="">
    <button
      type="button"
      class={`button button-${emphasis}`}
      data-passkey={mode}
      data-invite={invite}
      data-csrf={csrf}
    >
      <KeyIcon />
      <span>{label}</span>
    </button>
    <p class="status" role="status" data-passkey-status=""></p>
    <p class="alert" role="alert" data-passkey-error="" hidden></p>
    <noscript>
      <p class="alert">Passkeys need JavaScript. Turn it on for this site, then reload the page.</p>
    </noscript>
  </div>
);

const KeyIcon: FC = () => (
  <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
    <circle cx="8" cy="15" r="4" fill="none" stroke="currentColor" stroke-width="1.8" />
    <path
      d="m11 12 8-8m-3 3 2.5 2.5M14 9l2 2"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
    />
  </svg>
);
