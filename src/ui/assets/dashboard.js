// Keeps the dashboard current: a new request from an agent, or a grant that ended,
// shows up without the person reloading. It asks the broker every few seconds for
// the ids on the page and reloads only when they changed, and never while the
// person is in the middle of adding a passkey.
(() => {
  const main = document.querySelector('[data-dashboard-state]');
  if (!main) return;
  const shown = main.getAttribute('data-dashboard-state');
  const every = 3000;

  const busy = () => document.querySelector('[data-passkey]:disabled') !== null;

  const check = async () => {
    try {
      const res = await fetch('/dashboard/state', {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      });
      if (res.status === 401) {
        window.location.assign('/');
        return;
      }
      if (res.ok) {
        const { state } = await res.json();
        if (state !== shown && !busy()) {
          window.location.reload();
          return;
        }
      }
    } catch {
      // Offline for a moment: try again at the next tick.
    }
    window.setTimeout(check, every);
  };
  window.setTimeout(check, every);
})();
