/**
 * Cedar on Node worker threads (decision-worker.mjs): a decision's calls run beside
 * the event loop instead of on it. Under load the broker's event loop is its limit,
 * and one Cedar call costs it about 0.5 ms there (bench/mint.ts measures the mint
 * with and without the policy); posting the calls to a worker and taking the answers
 * back costs it a small part of that. Measured on 2 vCPUs with everything else on them
 * (docs/BENCHMARKS.md), that gained nothing measurable with PostgreSQL and lost about
 * a tenth with PGlite, so the broker starts none by default (MANDATE_POLICY_WORKERS).
 *
 * The Node entry (open-deps.ts) starts one pool and stops it on close. A worker
 * that fails fails the decisions it held with ERR_CEDAR and is replaced at the next
 * call; the pool keeps the process alive only while a call is out.
 */
import { Worker } from 'node:worker_threads';
import type { Authorizer, CedarCall } from './authorizer.ts';
import type { AuthorizationAnswer } from './cedar.ts';
import { PolicyError } from './errors.ts';

interface Pending {
  resolve(answers: AuthorizationAnswer[]): void;
  reject(err: Error): void;
}

interface Reply {
  id: number;
  answers?: AuthorizationAnswer[];
  error?: string;
}

class DecisionWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  alive = true;

  constructor(capacity: number) {
    this.worker = new Worker(new URL('./decision-worker.mjs', import.meta.url), {
      workerData: { capacity },
    });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.answers) waiting.resolve(reply.answers);
      else waiting.reject(new PolicyError('ERR_CEDAR', reply.error ?? 'no answer'));
    });
    this.worker.on('error', (err) => this.#fail(`the decision worker failed: ${err.message}`));
    this.worker.on('exit', (code) => this.#fail(`the decision worker exited (code ${code})`));
  }

  send(
    id: number,
    key: string,
    policies: Record<string, string>,
    calls: CedarCall[],
    timeoutMs: number,
  ) {
    return new Promise<AuthorizationAnswer[]>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      // A wedged worker must not hold a mint (its grant lock, its connection) forever:
      // past the timeout the call fails and the worker is replaced.
      const timer = setTimeout(() => {
        this.#fail(`the decision worker gave no answer within ${timeoutMs} ms`);
        void this.worker.terminate();
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (answers) => {
          clearTimeout(timer);
          resolve(answers);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.worker.postMessage({ id, key, policies, calls });
    });
  }

  #fail(message: string): void {
    this.alive = false;
    for (const waiting of this.pending.values())
      waiting.reject(new PolicyError('ERR_CEDAR', message));
    this.pending.clear();
  }
}

export class DecisionWorkers implements Authorizer {
  readonly #workers: DecisionWorker[] = [];
  #seq = 0;

  #closed = false;

  constructor(
    readonly size: number,
    private readonly capacity = 256,
    /** How long a call may take before it fails with ERR_CEDAR and its worker is replaced. */
    private readonly timeoutMs = 5000,
  ) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`a pool needs at least one worker, got ${size}`);
    }
  }

  authorize(
    key: string,
    policies: Record<string, string>,
    calls: CedarCall[],
  ): Promise<AuthorizationAnswer[]> {
    if (this.#closed) {
      return Promise.reject(new PolicyError('ERR_CEDAR', 'the decision workers are closed'));
    }
    return this.#pick().send(++this.#seq, key, policies, calls, this.timeoutMs);
  }

  /** The live worker with the fewest calls out, starting (or replacing) one if need be. */
  #pick(): DecisionWorker {
    for (let i = 0; i < this.size; i++) {
      const w = this.#workers[i];
      if (!w || !w.alive) this.#workers[i] = new DecisionWorker(this.capacity);
    }
    let best = this.#workers[0] as DecisionWorker;
    for (const w of this.#workers) if (w.pending.size < best.pending.size) best = w;
    return best;
  }

  /** Stops every worker; calls still out, and any later, fail with ERR_CEDAR. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  /** For tests: the threads, to stop one and see the pool recover. */
  get threads(): readonly Worker[] {
    return this.#workers.map((w) => w.worker);
  }
}
