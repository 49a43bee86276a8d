/** Builds the real app in-process on a fresh database, with a clock tests control. */
import { createApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Database } from '../../src/db/database.ts';
import type { Deps } from '../../src/deps.ts';
import { generateKek, parseKek } from '../../src/keys/kek.ts';
import { KeyStore } from '../../src/keys/key-store.ts';
import { nodeAssets } from '../../src/node/assets.ts';
import { loadNodeCedar } from '../../src/policy/cedar.ts';
import { statusEntry, type StatusEntry } from '../../src/revocation/status-claim.ts';
import { TestClock } from './clock.ts';
import { freshDatabase, type TestDatabase } from './db.ts';

export const ISSUER = 'http://localhost:8787';

export interface TestApp extends App {
  deps: Deps;
  /** The tables' owner's view: every tenant's rows, for setting up and inspecting (the app itself acts as mandate_app). */
  owner: Database;
  clock: TestClock;
  kek: Uint8Array;
  request(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** A status position of the tenant's open list, as the token endpoint would allocate it. */
export async function statusFor(t: TestApp, tenantId: string): Promise<StatusEntry> {
  return statusEntry(ISSUER, await t.statusIndex.next(tenantId));
}

/** A well-formed status entry for pure minting tests that never record the token. */
export const FIXED_STATUS: StatusEntry = {
  listId: '00000000-0000-4000-8000-0000000000aa',
  idx: 0,
  uri: `${ISSUER}/status/00000000-0000-4000-8000-0000000000aa`,
};

export async function createTestApp(
  env: Record<string, string> = {},
  database?: TestDatabase,
): Promise<TestApp> {
  const kekText = generateKek();
  const config: Config = loadConfig({ PUBLIC_URL: ISSUER, MANDATE_KEK: kekText, ...env });
  const db = database ?? (await freshDatabase());
  const clock = new TestClock();
  const kek = parseKek(config.kek ?? kekText);
  const keys = new KeyStore(db.db, kek, {
    alg: config.signingAlg,
    maxTokenTtl: config.accessTokenMaxTtl,
    clockSkew: config.clockSkew,
    rotationDays: config.keyRotationDays,
    clock,
    cacheMs: 0,
  });
  await keys.ensure();
  const logs: string[] = [];
  const deps: Deps = {
    config,
    database: db,
    keys,
    cedar: await loadNodeCedar(),
    clock,
    log: (m) => logs.push(m),
    assets: nodeAssets(),
  };
  const app = createApp(deps);
  return {
    ...app,
    deps,
    owner: db.owner,
    clock,
    kek,
    request: async (path, init) => app.hono.request(`${ISSUER}${path}`, init),
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}
