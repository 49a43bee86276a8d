/**
 * The broker as a Cloudflare Worker, under workerd, from the repository's own
 * wrangler.toml (wrangler's `unstable_startWorker`, the engine of `wrangler dev`),
 * against a fresh PostgreSQL database reached through a local Hyperdrive binding.
 *
 * Workers cannot run PGlite, so this always uses PostgreSQL: the server of
 * TEST_DATABASE_URL, else the local one (127.0.0.1:5432, as CI has it).
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database } from '../../src/db/database.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import * as schema from '../../src/db/schema.ts';
import { generateKek } from '../../src/keys/kek.ts';
import { adminUrl, brokerUrl, createBrokerLogin, databaseUrl } from './pg-url.ts';

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Wrangler offline and out of the home folder: no metrics, no error reports, no
 * request for Cloudflare's location data, and its config and logs under .wrangler/.
 */
function quietWrangler(): void {
  process.env.WRANGLER_SEND_METRICS = 'false';
  process.env.WRANGLER_SEND_ERROR_REPORTS = 'false';
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  process.env.WRANGLER_HIDE_BANNER = 'true';
  process.env.XDG_CONFIG_HOME ??= join(process.cwd(), '.wrangler', 'config');
}

export interface WorkerDatabase {
  /** The tables' owner's view, for setting up and inspecting. */
  owner: Database;
  /** What the Worker's Hyperdrive binding connects to: the broker's non-owner login. */
  brokerUrl: string;
  close(): Promise<void>;
}

export interface PlannedDatabase extends WorkerDatabase {
  /** Creates and migrates it: until then, connections to it are refused (FATAL 3D000). */
  create(): Promise<void>;
}

/**
 * A database on the PostgreSQL server the tests may use, named but not created yet: a
 * Worker can be pointed at it to see how it fares while the database is away.
 */
export function plannedPostgresDatabase(): PlannedDatabase {
  const base = process.env.TEST_DATABASE_URL ?? LOCAL_POSTGRES;
  const name = `mandate_w_${process.pid}_${crypto.randomUUID().replaceAll('-', '')}`;
  const ownerUrl = databaseUrl(base, name);
  // postgres.js connects on the first statement, so the owner's pool can exist before the database.
  const ownerClient = postgres(ownerUrl, { max: 2, onnotice: () => {} });
  // Miniflare insists on a password in a Hyperdrive string; trust auth ignores it.
  const login = new URL(brokerUrl(ownerUrl));
  login.password = 'local';
  const admin = () => postgres(adminUrl(base), { max: 1, onnotice: () => {} });
  return {
    owner: drizzle(ownerClient, { schema }),
    brokerUrl: login.href,
    async create() {
      const sql = admin();
      try {
        await sql.unsafe(`create database "${name}"`);
        await (await openPostgres({ url: ownerUrl, max: 1 })).close();
        await createBrokerLogin(sql);
      } finally {
        await sql.end();
      }
    },
    async close() {
      await ownerClient.end({ timeout: 5 });
      const sql = admin();
      try {
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}

/** A fresh, migrated database on the PostgreSQL server the tests may use. */
export async function freshPostgresDatabase(): Promise<WorkerDatabase> {
  const database = plannedPostgresDatabase();
  try {
    await database.create();
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  return database;
}

/** A port free on localhost now; the Worker's PUBLIC_URL must name it before it starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, 'localhost', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface TestWorker {
  /** http://localhost:<port>, also its PUBLIC_URL (issuer, WebAuthn origin). */
  url: string;
  database: WorkerDatabase;
  /** Runs the cron trigger's handler once, as Cloudflare would every minute. */
  scheduled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The Worker on a free port of localhost, with vars `env` on top of wrangler.toml's, on
 * `database` (default: a fresh one), which it closes with itself.
 */
export async function startTestWorker(
  env: Record<string, string> = {},
  given?: WorkerDatabase,
): Promise<TestWorker> {
  quietWrangler();
  const { unstable_startWorker } = await import('wrangler');
  const database = given ?? (await freshPostgresDatabase());
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const vars = { PUBLIC_URL: url, ...env };
  try {
    const worker = await unstable_startWorker({
      config: join(process.cwd(), 'wrangler.toml'),
      sendMetrics: false,
      bindings: {
        ...Object.fromEntries(
          Object.entries(vars).map(([k, value]) => [k, { type: 'plain_text', value }]),
        ),
        MANDATE_KEK: { type: 'secret_text', value: generateKek() },
        HYPERDRIVE: {
          type: 'hyperdrive',
          id: 'local',
          localConnectionString: database.brokerUrl,
        },
      },
      build: { nodejsCompatMode: 'v2' },
      dev: {
        server: { hostname: 'localhost', port },
        inspector: false,
        watch: false,
        persist: false,
        logLevel: 'warn',
      },
    });
    await worker.ready;
    return {
      url,
      database,
      async scheduled() {
        const res = await fetch(`${url}/cdn-cgi/handler/scheduled`);
        if (!res.ok) throw new Error(`the scheduled run failed: ${res.status} ${await res.text()}`);
      },
      async close() {
        await worker.dispose();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}
