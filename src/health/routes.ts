/** Liveness and readiness: /readyz checks the database answers and a signing key loads. */
import { Hono } from 'hono';
import type { DatabaseHandle } from '../db/database.ts';
import type { KeyStore } from '../keys/key-store.ts';

/**
 * `setUp` (Deps.ready, the Worker's first-request set-up) is tried first by /readyz, so
 * that a fresh deployment probed only there becomes ready; its failure shows in the checks.
 * /healthz needs nothing: the process answers.
 */
export function healthRoutes(
  database: DatabaseHandle,
  keys: KeyStore,
  setUp?: () => Promise<void>,
): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    await setUp?.().catch(() => {});
    const checks: Record<string, 'ok' | 'failing'> = {};
    checks.database = await database.ping().then(
      () => 'ok' as const,
      () => 'failing' as const,
    );
    checks.keys = await keys.signer().then(
      () => 'ok' as const,
      () => 'failing' as const,
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503, {
      'cache-control': 'no-store',
    });
  });
  return app;
}
