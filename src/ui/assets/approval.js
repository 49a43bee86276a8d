// The approval page's script. It sends the scopes the person left ticked and the
// duration they chose; the broker answers with a passkey challenge derived from
// exactly that approval, which the passkey then signs. Nothing here is trusted:
// the broker re-checks every choice against the agent's request.
/* global SimpleWebAuthnBrowser */
(() => {
  const form = document.getElementById('approval-form');
  if (!form) return;
  const status = document.getElementById('approval-status');
  const button = form.querySelector('button[type="submit"]');
  const { csrf, requestId } = form.dataset;

  const say = (text) => {
    status.textContent = text;
  };

  const post = async (path, body) => {
    const res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.error_description || `the broker answered ${res.status}`);
    return json;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const resources = [...form.querySelectorAll('fieldset[data-resource]')].map((set) => ({
      resource: set.dataset.resource,
      scopes: [...set.querySelectorAll('input[type="checkbox"]:checked')].map((box) => box.value),
    }));
    if (resources.every((r) => r.scopes.length === 0)) {
      say('Tick at least one permission, or deny the request.');
      return;
    }
    const duration = Number(form.elements.namedItem('duration').value);
    button.disabled = true;
    try {
      say('Confirm with your passkey…');
      const optionsJSON = await post(`/requests/${requestId}/approval/options`, {
        resources,
        duration,
      });
      const response = await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON });
      say('Checking your approval…');
      const result = await post(`/requests/${requestId}/approval/verify`, { response });
      window.location.assign(result.redirect);
    } catch (err) {
      const cancelled = err && err.name === 'NotAllowedError';
      say(
        cancelled
          ? 'Not approved: the passkey prompt was cancelled.'
          : `Not approved: ${err.message}`,
      );
      button.disabled = false;
    }
  });
})();
