/**
 * The demo's processes: the broker (`npm start`'s entry) on a free port, the operator
 * CLI run once per command, and a listening socket whose port is known before the
 * handler behind it exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';

const ROOT = resolve(import.meta.dirname, '..');

export interface Broker {
  url: string;
  /** What it printed so far (it logs to stderr). */
  log: () => string;
  stop: () => Promise<void>;
}

/** `npm start`'s entry on a free port, with this demo's data dir, until /readyz answers. */
export async function startBroker(dataDir: string): Promise<Broker> {
  const probe = await listen();
  const port = probe.port;
  await probe.close();
  const url = `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), MANDATE_DATA_DIR: dataDir };
  // The embedded database, whatever the calling shell has set.
  for (const name of ['DATABASE_URL', 'MANDATE_KEK', 'PUBLIC_URL', 'HOST']) delete env[name];
  env.MANDATE_CIBA_INTERVAL = '2';
  const child = spawnTsx('src/node.ts', [], env);
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the broker exited ${child.exitCode}:\n${log}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, log: () => log, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`the broker was not ready within 60 s:\n${log}`);
}

/**
 * One operator command through the CLI, `--json`, against the running broker's data dir;
 * returns the named fields of its answer.
 */
export async function runCli<K extends string>(
  dataDir: string,
  args: string[],
  fields: K[] = [],
): Promise<Record<K, string>> {
  const env: NodeJS.ProcessEnv = { ...process.env, MANDATE_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  const child = spawnTsx('src/cli.ts', [...args, '--json'], env);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  if (code !== 0) throw new Error(`mandate ${args.join(' ')} exited ${code}: ${err.trim()}`);
  const answer = JSON.parse(out) as Record<string, unknown>;
  const picked = {} as Record<K, string>;
  for (const field of fields) {
    const value = answer[field];
    if (typeof value !== 'string') throw new Error(`mandate ${args.join(' ')} printed no ${field}`);
    picked[field] = value;
  }
  return picked;
}

function spawnTsx(script: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface Listener {
  port: number;
  /** Starts answering with this handler (503 until then). */
  handle(fetch: (request: Request) => Response | Promise<Response>): void;
  close(): Promise<void>;
}

/**
 * A socket on a free localhost port: the API's audience names its port, and must be
 * registered before the API (which needs its client id) can be built.
 */
export async function listen(): Promise<Listener> {
  let handler: ((request: Request) => Response | Promise<Response>) | undefined;
  const server: ServerType = await new Promise((done, fail) => {
    const s = serve(
      {
        fetch: (req) => (handler ? handler(req) : new Response('starting', { status: 503 })),
        port: 0,
        hostname: 'localhost',
      },
      () => done(s),
    );
    s.once('error', fail);
  });
  return {
    port: (server.address() as AddressInfo).port,
    handle: (f) => {
      handler = f;
    },
    close: () =>
      new Promise<void>((done) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
