/**
 * Where an operator command runs (Node only):
 * - with DATABASE_URL, directly against PostgreSQL, which any number of processes share;
 * - on the embedded database, through the running broker's loopback operator
 *   endpoint when a broker holds the data dir (PGlite admits one process);
 * - otherwise directly on the embedded database, holding the data dir's lock meanwhile.
 */
import type { Config } from '../config.ts';
import { acquireLock, lockOwner, type LockInfo } from '../node/data-dir.ts';
import { openNodeDeps } from '../node/open-deps.ts';
import { RegistryError } from '../registry/errors.ts';
import { runCommand } from './commands.ts';
import type { OperatorError } from './routes.ts';

export class OperatorFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type Via = 'postgres' | 'broker' | 'embedded';

export async function execute(
  config: Config,
  command: string,
  args: unknown,
  log: (message: string) => void,
): Promise<{ result: Record<string, unknown>; via: Via }> {
  if (config.databaseUrl)
    return { result: await direct(config, command, args, log), via: 'postgres' };
  const owner = lockOwner(config.dataDir);
  if (owner?.operatorUrl && owner.operatorToken) {
    return { result: await viaBroker(owner, command, args), via: 'broker' };
  }
  if (owner) {
    throw new OperatorFailure(
      'ERR_BUSY',
      `the data dir ${config.dataDir} is in use by process ${owner.pid}, which is starting up or ` +
        'running another command; try again in a moment',
    );
  }
  const release = acquireLock(config.dataDir);
  try {
    return { result: await direct(config, command, args, log), via: 'embedded' };
  } finally {
    release();
  }
}

async function direct(
  config: Config,
  command: string,
  args: unknown,
  log: (message: string) => void,
): Promise<Record<string, unknown>> {
  const deps = await openNodeDeps(config, log);
  try {
    return await runCommand(
      { db: deps.database.db, keys: deps.keys, config, clock: deps.clock },
      command,
      args,
    );
  } catch (err) {
    if (err instanceof RegistryError) throw new OperatorFailure(err.code, err.message);
    throw err;
  } finally {
    await deps.close();
  }
}

async function viaBroker(
  owner: LockInfo,
  command: string,
  args: unknown,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(`${owner.operatorUrl}/v1/commands`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${owner.operatorToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ command, args }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (cause) {
    throw new OperatorFailure(
      'ERR_UNREACHABLE',
      `cannot reach the running broker (process ${owner.pid}) at ${owner.operatorUrl}: ${String(cause)}`,
      { cause },
    );
  }
  const body = (await response.json().catch(() => undefined)) as
    Record<string, unknown> | OperatorError | undefined;
  if (!response.ok || body === undefined) {
    const error = body as OperatorError | undefined;
    throw new OperatorFailure(
      error?.error ?? 'ERR_INTERNAL',
      error?.message ?? `the broker answered HTTP ${response.status}`,
    );
  }
  return body as Record<string, unknown>;
}
