/**
 * The chainer's timer, one per broker process: chains pending entries every
 * `auditChainIntervalMs`, and every `auditCheckpointInterval` seconds sweeps further
 * back for late entries and signs a checkpoint of each chain that grew. Any number of
 * processes may run one on the same database (chain writes take a per-tenant lock).
 * Passes never overlap: the next one is scheduled when the last has finished.
 */
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import type { KeyStore } from '../keys/key-store.ts';
import { chainPending } from './chain.ts';
import { signCheckpoints } from './checkpoint.ts';

export interface AuditChainerDeps {
  database: Pick<DatabaseHandle, 'db'>;
  keys: Pick<KeyStore, 'signer'>;
  clock: Clock;
  config: Pick<Config, 'auditChainIntervalMs' | 'auditCheckpointInterval'>;
  log: (message: string) => void;
}

export interface AuditChainer {
  /** Stops the timer, waits for a running pass, then chains and checkpoints once more. */
  stop(): Promise<void>;
}

/**
 * How far back the periodic sweep looks for entries that committed late (see
 * ChainOptions): routine passes look back 10 s, enough for any sane transaction; this
 * catches the odd one that stayed open up to two minutes, at the cost of scanning two
 * minutes of entries once per checkpoint interval. Anything slower, verify reports.
 */
const SWEEP_LOOKBACK_MS = 2 * 60_000;
/** The same failure (database down) is logged at most once a minute. */
const LOG_REPEAT_MS = 60_000;

/**
 * One sweeping pass, for a runtime without a long-lived timer (the Worker's cron trigger):
 * chains what is pending, late entries included, and signs a checkpoint of each chain
 * that grew. Failures are thrown.
 */
export async function chainAndCheckpoint(
  deps: Pick<AuditChainerDeps, 'database' | 'keys' | 'clock'>,
): Promise<void> {
  await chainPending(deps.database.db, { lookbackMs: SWEEP_LOOKBACK_MS });
  await signCheckpoints(deps.database.db, deps.keys, deps.clock);
}

export function startAuditChainer(deps: AuditChainerDeps): AuditChainer {
  const { db } = deps.database;
  const checkpointMs = deps.config.auditCheckpointInterval * 1000;
  let nextSweep = 0; // the first pass sweeps and checkpoints: whatever a stopped broker left
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let lastFailure = { message: '', at: 0 };

  const fail = (what: string, err: unknown) => {
    const message = `audit ${what} failed: ${err instanceof Error ? err.message : String(err)}`;
    const now = Date.now();
    if (message !== lastFailure.message || now - lastFailure.at >= LOG_REPEAT_MS) {
      deps.log(message);
      lastFailure = { message, at: now };
    }
  };

  const pass = async (final: boolean) => {
    const sweep = final || Date.now() >= nextSweep;
    try {
      await chainPending(db, sweep ? { lookbackMs: SWEEP_LOOKBACK_MS } : {});
    } catch (err) {
      fail('chaining', err);
      return;
    }
    if (!sweep) return;
    nextSweep = Date.now() + checkpointMs;
    try {
      await signCheckpoints(db, deps.keys, deps.clock);
    } catch (err) {
      fail('checkpoint', err);
    }
  };

  const schedule = (delay: number) => {
    timer = setTimeout(() => {
      running = pass(false).finally(() => {
        running = undefined;
        if (!stopped) schedule(deps.config.auditChainIntervalMs);
      });
    }, delay);
    timer.unref();
  };
  schedule(0);

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await running;
      // Chain and sign what this process wrote last, so a clean shutdown leaves no tail
      // that only a later checkpoint would cover.
      await pass(true);
    },
  };
}
