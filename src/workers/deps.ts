/**
 * Builds the app's dependencies from a Worker's bindings: PostgreSQL through Hyperdrive,
 * the key-encryption key from a secret, the rest of the configuration from vars
 * (wrangler.toml documents each one). One set per isolate; only database connections
 * are per request (src/db/hyperdrive.ts).
 */
import { systemClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { openHyperdrive, type RequestDatabase } from '../db/hyperdrive.ts';
import type { Deps } from '../deps.ts';
import { parseKek } from '../keys/kek.ts';
import { KeyStore } from '../keys/key-store.ts';
import { cedarFromWasm } from '../policy/cedar-web.ts';
import { bundledAssets } from './assets.ts';
import { assetTexts, cedarWasm } from './bundled.js';
import { cloudflareClientAddress } from './client-address.ts';
import { untilSucceeded } from './until-succeeded.ts';

/** The part of Cloudflare's Hyperdrive binding the broker reads. */
export interface HyperdriveBinding {
  /** A connection string to Hyperdrive's pool (locally: to the database itself). */
  connectionString: string;
}

/** The Worker's `env`: bindings, vars and secrets (wrangler.toml). */
export interface WorkerEnv {
  HYPERDRIVE: HyperdriveBinding;
  /** Secret: the key-encryption key, 32 bytes, base64url (`wrangler secret put MANDATE_KEK`). */
  MANDATE_KEK: string;
  /** Var: the issuer URL, exactly as clients see it. */
  PUBLIC_URL: string;
  /** Any other MANDATE_* setting of src/config.ts, as a var. */
  [setting: string]: unknown;
}

export interface WorkerDeps extends Deps {
  database: RequestDatabase;
}

/** The env's string entries: vars and secrets, the configuration src/config.ts parses. */
function settingsOf(env: WorkerEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

export async function openWorkerDeps(env: WorkerEnv): Promise<WorkerDeps> {
  if (typeof env.HYPERDRIVE?.connectionString !== 'string') {
    throw new Error('the HYPERDRIVE binding is missing (wrangler.toml [[hyperdrive]])');
  }
  if (!env.MANDATE_KEK) {
    throw new Error('the MANDATE_KEK secret is missing (wrangler secret put MANDATE_KEK)');
  }
  const config = loadConfig(settingsOf(env));
  const database = openHyperdrive({ connectTimeout: config.dbConnectTimeout });
  const clock = systemClock;
  const keys = new KeyStore(database.db, parseKek(env.MANDATE_KEK), {
    alg: config.signingAlg,
    maxTokenTtl: config.accessTokenMaxTtl,
    clockSkew: config.clockSkew,
    rotationDays: config.keyRotationDays,
    clock,
  });
  return {
    config,
    database,
    keys,
    cedar: await cedarFromWasm(cedarWasm),
    clock,
    assets: bundledAssets(assetTexts),
    clientAddress: cloudflareClientAddress,
    // The Node entry creates the keys before it listens; here the first request does.
    ready: untilSucceeded(() => keys.ensure()),
    log: (message) => console.error(message),
  };
}
