/**
 * Builds the app's dependencies on Node: PostgreSQL when DATABASE_URL is set,
 * otherwise PGlite under the data dir. Shared by the server and the CLI.
 */
import { systemClock, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { openPglite } from '../db/pglite.ts';
import { openPostgres } from '../db/postgres.ts';
import type { Deps } from '../deps.ts';
import { parseKek } from '../keys/kek.ts';
import { KeyStore } from '../keys/key-store.ts';
import { loadNodeCedar } from '../policy/cedar.ts';
import { DecisionWorkers } from '../policy/decision-workers.ts';
import { nodeAssets } from './assets.ts';
import { nodeClientAddress } from './client-address.ts';
import { dataPaths, ensureDataDir, loadOrCreateKek } from './data-dir.ts';

export interface NodeDeps extends Deps {
  close(): Promise<void>;
}

export async function openNodeDeps(
  config: Config,
  log: (m: string) => void,
  clock: Clock = systemClock,
): Promise<NodeDeps> {
  if (!config.kek && config.databaseUrl) {
    throw new Error('MANDATE_KEK is required with DATABASE_URL (32 random bytes, base64url)');
  }
  if (!config.databaseUrl) ensureDataDir(config.dataDir);
  // Parsed before the database opens, so a bad KEK fails fast and leaves nothing open.
  const kek = parseKek(config.kek ?? loadOrCreateKek(config.dataDir, log));
  const database: DatabaseHandle = config.databaseUrl
    ? await openPostgres({
        url: config.databaseUrl,
        connectTimeout: config.dbConnectTimeout,
        ...(config.databaseOwnerUrl ? { ownerUrl: config.databaseOwnerUrl } : {}),
      })
    : await openPglite({ dataDir: dataPaths(config.dataDir).pgdata });
  const keys = new KeyStore(database.db, kek, {
    alg: config.signingAlg,
    maxTokenTtl: config.accessTokenMaxTtl,
    clockSkew: config.clockSkew,
    rotationDays: config.keyRotationDays,
    clock,
  });
  const workers = config.policyWorkers > 0 ? new DecisionWorkers(config.policyWorkers) : undefined;
  return {
    config,
    database,
    keys,
    cedar: await loadNodeCedar(),
    ...(workers ? { authorizer: workers } : {}),
    clock,
    log,
    assets: nodeAssets(),
    clientAddress: nodeClientAddress(config.trustedProxies),
    close: async () => {
      await workers?.close();
      await database.close();
    },
  };
}
