/**
 * Node entry: `npm start`. Embedded PGlite under MANDATE_DATA_DIR unless
 * DATABASE_URL names a PostgreSQL server.
 */
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { acquireLock, updateLock } from './node/data-dir.ts';
import { openNodeDeps } from './node/open-deps.ts';
import { startOperatorServer, type OperatorServer } from './operator/server.ts';
import { startAuditChainer } from './audit/chainer.ts';
import { pruneExpired } from './housekeeping.ts';

const HOUR = 3_600_000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = (m: string) => console.error(m);
  // PGlite is single-process: take the data dir before opening it.
  const releaseLock = config.databaseUrl ? () => {} : acquireLock(config.dataDir);
  const deps = await openNodeDeps(config, log);
  await deps.keys.ensure();
  await deps.keys.rotateIfDue();
  const app = createApp(deps);
  const { hono, clientAuth } = app;
  // Links new audit entries into their tenant's hash chain and signs checkpoints.
  const chainer = startAuditChainer(deps);
  // The CLI cannot open embedded PGlite while we hold it, so it reaches us here instead;
  // on PostgreSQL it connects to the database itself and needs no endpoint.
  let operator: OperatorServer | undefined;
  if (!config.databaseUrl) {
    operator = await startOperatorServer(
      { db: deps.database.db, keys: deps.keys, config, clock: deps.clock },
      log,
    );
    updateLock(config.dataDir, { operatorUrl: operator.url, operatorToken: operator.token });
  }

  const server = serve({ fetch: hono.fetch, port: config.port, hostname: config.host });
  server.once('listening', () => {
    log(
      `mandate listening on ${config.host}:${config.port}, issuer ${config.publicUrl}, ` +
        `database ${deps.database.driver}${config.databaseUrl ? '' : ` (${config.dataDir})`}`,
    );
  });

  const timers = [
    setInterval(
      () =>
        void deps.keys
          .rotateIfDue()
          .catch((e: unknown) => log(`key rotation failed: ${String(e)}`)),
      HOUR,
    ),
    setInterval(
      () =>
        void pruneExpired(deps, clientAuth).catch((e: unknown) =>
          log(`pruning failed: ${String(e)}`),
        ),
      HOUR / 6,
    ),
  ];
  timers.forEach((t) => t.unref());

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    timers.forEach((t) => clearInterval(t));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Event streams never end by themselves; without this, close would wait for them.
    if ('closeAllConnections' in server) server.closeAllConnections();
    await closed;
    await operator?.close();
    await chainer.stop();
    await app.close();
    await deps.close();
    releaseLock();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void stop(s));
  process.once('SIGTERM', (s) => void stop(s));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  console.error(`mandate: ${message}`);
  process.exit(1);
});
