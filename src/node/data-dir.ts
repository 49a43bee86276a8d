/**
 * The embedded data directory (Node only): PGlite's files, the generated KEK and
 * the lock that keeps a second process from opening the same PGlite files.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateKek } from '../keys/kek.ts';

export const dataPaths = (dataDir: string) => {
  const root = resolve(dataDir);
  return {
    root,
    pgdata: join(root, 'pgdata'),
    kek: join(root, 'kek'),
    lock: join(root, 'broker.lock'),
  };
};

/** What the lock file holds: who owns the data dir, and how to reach its operator endpoint. */
export interface LockInfo {
  pid: number;
  /** Set by a running server; absent while the CLI holds the directory itself. */
  operatorUrl?: string;
  operatorToken?: string;
}

export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataPaths(dataDir).root, { recursive: true, mode: 0o700 });
}

/** Reads MANDATE_KEK's stand-in from the data dir, creating it on first start. */
export function loadOrCreateKek(dataDir: string, warn: (m: string) => void): string {
  const file = dataPaths(dataDir).kek;
  if (!existsSync(file)) {
    writeFileSync(file, `${generateKek()}\n`, { mode: 0o600, flag: 'wx' });
    warn(
      `WARNING: generated a key-encryption key at ${file}. It protects the signing keys; ` +
        'set MANDATE_KEK from a secret store for anything beyond local use.',
    );
  }
  return readFileSync(file, 'utf8').trim();
}

export function readLock(dataDir: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(dataPaths(dataDir).lock, 'utf8')) as LockInfo;
  } catch {
    return undefined; // no lock file, or one being written: treated as absent
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live owner of the data dir, if any (a stale lock from a dead process is ignored). */
export function lockOwner(dataDir: string): LockInfo | undefined {
  const info = readLock(dataDir);
  return info && info.pid !== process.pid && alive(info.pid) ? info : undefined;
}

export class DataDirBusyError extends Error {
  readonly code = 'ERR_DATA_DIR_BUSY';
}

/** Takes the data dir for this process; throws if another live process has it. */
export function acquireLock(dataDir: string, info: Omit<LockInfo, 'pid'> = {}): () => void {
  ensureDataDir(dataDir);
  const owner = lockOwner(dataDir);
  if (owner) {
    throw new DataDirBusyError(
      `${dataPaths(dataDir).root} is in use by process ${owner.pid}` +
        (owner.operatorUrl ? ' (a running broker)' : ''),
    );
  }
  const file = dataPaths(dataDir).lock;
  rmSync(file, { force: true });
  writeFileSync(file, JSON.stringify({ pid: process.pid, ...info }), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return () => {
    if (readLock(dataDir)?.pid === process.pid) rmSync(file, { force: true });
  };
}

/** Rewrites our own lock, e.g. once the operator endpoint's port is known. */
export function updateLock(dataDir: string, info: Omit<LockInfo, 'pid'>): void {
  writeFileSync(dataPaths(dataDir).lock, JSON.stringify({ pid: process.pid, ...info }), {
    mode: 0o600,
  });
}
