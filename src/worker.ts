/**
 * Cloudflare Workers entry (wrangler.toml `main`): the same app as `npm start`, built
 * from the Worker's bindings (src/workers/deps.ts), once per isolate. Each request, and
 * each cron run, gets its own database client through Hyperdrive.
 *
 * The cron trigger does what the Node entry does on timers: it chains new audit
 * entries and signs checkpoints, deletes what has expired and rotates keys when due.
 * LISTEN/NOTIFY has no equivalent here (README, "Cloudflare Workers").
 */
import type { ExecutionContext } from 'hono';
import { createApp, type App } from './app.ts';
import { chainAndCheckpoint } from './audit/chainer.ts';
import { pruneExpired } from './housekeeping.ts';
import { openWorkerDeps, type WorkerDeps, type WorkerEnv } from './workers/deps.ts';
import { untilSucceeded } from './workers/until-succeeded.ts';

interface Broker {
  deps: WorkerDeps;
  app: App;
}

/**
 * The isolate's broker, built by its first request (or cron run). An isolate's env does
 * not change: new vars or secrets are a new deployment, with new isolates.
 */
let broker: (() => Promise<Broker>) | undefined;

function brokerFor(env: WorkerEnv): Promise<Broker> {
  broker ??= untilSucceeded(async () => {
    const deps = await openWorkerDeps(env);
    return { deps, app: createApp(deps) };
  });
  return broker();
}

/** Without its configuration the broker cannot even shape an OAuth error; say why in the log. */
function misconfigured(err: unknown): Response {
  console.error(`mandate: cannot start: ${err instanceof Error ? err.message : String(err)}`);
  return Response.json(
    { error: 'server_error', error_description: 'the broker is not configured' },
    { status: 500, headers: { 'cache-control': 'no-store' } },
  );
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let built: Broker;
    try {
      built = await brokerFor(env);
    } catch (err) {
      return misconfigured(err);
    }
    const { deps, app } = built;
    return deps.database.run(env.HYPERDRIVE.connectionString, () =>
      app.hono.fetch(request, env, ctx),
    );
  },

  async scheduled(_controller: unknown, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
    const { deps, app } = await brokerFor(env);
    await deps.database.run(env.HYPERDRIVE.connectionString, async () => {
      await deps.ready?.();
      const results = await Promise.allSettled([
        chainAndCheckpoint(deps),
        pruneExpired(deps, app.clientAuth),
        deps.keys.rotateIfDue(),
      ]);
      const failed = results.filter((r) => r.status === 'rejected');
      for (const { reason } of failed) deps.log(`scheduled run: ${String(reason)}`);
      // A failed run shows as failed in the Workers dashboard.
      if (failed.length > 0) throw new Error(`${failed.length} of the scheduled tasks failed`);
    });
  },
};
