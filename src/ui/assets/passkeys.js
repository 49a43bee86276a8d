// The passkey buttons of the invite page, the sign-in page and the dashboard. Each
// button carries `data-passkey` (register, signin or add); the page loads the
// @simplewebauthn/browser bundle first, which defines the global SimpleWebAuthnBrowser.
// The broker checks everything; this script only carries the ceremony between the
// browser's authenticator and the broker's JSON endpoints, and says in words what happened.
/* global SimpleWebAuthnBrowser */
(() => {
  const ceremonies = {
    // An invite link becomes a person's first passkey and a session.
    register: {
      optionsPath: '/passkeys/register/options',
      verifyPath: '/passkeys/register/verify',
      body: (button) => ({ invite: button.dataset.invite }),
      start: (optionsJSON) => SimpleWebAuthnBrowser.startRegistration({ optionsJSON }),
      waiting: 'Follow your browser’s prompt to create the passkey…',
      failed: 'No passkey was created',
      alreadyHere: 'this device already holds a passkey for this account. Sign in with it instead.',
    },
    signin: {
      optionsPath: '/passkeys/signin/options',
      verifyPath: '/passkeys/signin/verify',
      body: () => ({}),
      start: (optionsJSON) => SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }),
      waiting: 'Follow your browser’s prompt to use your passkey…',
      failed: 'You are not signed in',
    },
    // A signed-in person adds another device; the session's CSRF token goes along.
    add: {
      optionsPath: '/passkeys/add/options',
      verifyPath: '/passkeys/add/verify',
      body: () => ({}),
      start: (optionsJSON) => SimpleWebAuthnBrowser.startRegistration({ optionsJSON }),
      waiting: 'Follow your browser’s prompt to create the new passkey…',
      failed: 'No passkey was added',
      alreadyHere: 'this device already holds one of your passkeys. Add one on another device.',
      done: 'Passkey added. You can now sign in with it as well.',
    },
  };

  // Errors the browser raises during a ceremony, in words a person can act on.
  const browserErrors = {
    NotAllowedError: 'the passkey prompt was closed or timed out. Try again when you are ready.',
    AbortError: 'the passkey prompt was closed. Try again when you are ready.',
    SecurityError: 'this browser does not allow passkeys on this address.',
    NotSupportedError: 'this device has no authenticator that can create a passkey here.',
  };

  class BrokerError extends Error {}

  const post = async (path, body, csrf) => {
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (csrf) headers['x-csrf-token'] = csrf;
    let res;
    try {
      res = await fetch(path, {
        method: 'POST',
        credentials: 'same-origin',
        headers,
        body: JSON.stringify(body),
      });
    } catch {
      throw new BrokerError('Mandate could not be reached. Check your connection and try again.');
    }
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new BrokerError(json.error_description || `the broker answered ${res.status}.`);
    }
    return json;
  };

  // Only ever follow a redirect within this site.
  const go = (redirect) => {
    const target = new URL(typeof redirect === 'string' ? redirect : '/', window.location.href);
    window.location.assign(target.origin === window.location.origin ? target.href : '/');
  };

  const describe = (err, ceremony) => {
    if (err instanceof BrokerError) return err.message;
    // Registration only: the authenticator already holds a credential the broker excluded.
    if (err && err.name === 'InvalidStateError' && ceremony.alreadyHere)
      return ceremony.alreadyHere;
    const known = err && browserErrors[err.name];
    if (known) return known;
    return `something went wrong (${(err && err.message) || 'unknown error'}).`;
  };

  const attach = (button) => {
    const ceremony = ceremonies[button.dataset.passkey];
    if (!ceremony) return;
    const panel = button.closest('[data-passkey-panel]') || document.body;
    const status = panel.querySelector('[data-passkey-status]');
    const alert = panel.querySelector('[data-passkey-error]');

    const say = (text) => {
      if (status) status.textContent = text;
    };
    const fail = (text) => {
      say('');
      if (!alert) return;
      alert.textContent = text;
      alert.hidden = false;
    };

    if (typeof SimpleWebAuthnBrowser === 'undefined') {
      button.disabled = true;
      fail('The passkey script did not load. Reload the page to try again.');
      return;
    }
    if (!SimpleWebAuthnBrowser.browserSupportsWebAuthn()) {
      button.disabled = true;
      fail('This browser does not support passkeys. Open this page in an up-to-date browser.');
      return;
    }

    button.addEventListener('click', async () => {
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      if (alert) alert.hidden = true;
      const csrf = button.dataset.csrf;
      try {
        say('Preparing…');
        const optionsJSON = await post(ceremony.optionsPath, ceremony.body(button), csrf);
        say(ceremony.waiting);
        const response = await ceremony.start(optionsJSON);
        say('Checking with Mandate…');
        const result = await post(
          ceremony.verifyPath,
          { ...ceremony.body(button), response },
          csrf,
        );
        if (ceremony.done) {
          say(ceremony.done);
        } else {
          say('Done. Opening your dashboard…');
          go(result.redirect);
          return;
        }
      } catch (err) {
        fail(`${ceremony.failed}: ${describe(err, ceremony)}`);
      }
      button.disabled = false;
      button.removeAttribute('aria-busy');
    });
  };

  document.querySelectorAll('button[data-passkey]').forEach(attach);
})();
