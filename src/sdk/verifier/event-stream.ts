/**
 * Follows the broker's revocation event stream (docs/REVOCATION.md), one
 * connection after another (event-connection.ts): `revocation` events feed the
 * RevocationState; `ready` (after the replay) makes the stream live. On any end,
 * error or long silence the stream is not live any more, and it reconnects with
 * backoff and Last-Event-ID, so nothing committed meanwhile is missed.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { BrokerError } from './broker-error.ts';
import { followStream, type StreamTarget } from './event-connection.ts';
import type { RevocationState } from './revocations.ts';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export class RevocationStream {
  /** Connected and past `ready`: the in-memory sets are complete. */
  live = false;
  /** Settles on the first `ready`, or fails with the first connection's error. */
  readonly firstReady: Promise<void>;
  private settleFirst!: (error?: unknown) => void;
  private lastEventId: string | undefined;
  private retryMs = FIRST_RETRY_MS;
  private closed = false;
  private cancel: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly target: StreamTarget,
    private readonly state: RevocationState,
    private readonly onError: (error: unknown) => void,
  ) {
    this.firstReady = new Promise<void>((resolve, reject) => {
      let settled = false;
      this.settleFirst = (error?: unknown) => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else
          reject(
            error instanceof Error ? error : new Error('the event stream failed', { cause: error }),
          );
      };
    });
    // Whoever never asks for ready() must not see an unhandled rejection.
    this.firstReady.catch(() => undefined);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    this.cancel?.();
    this.wake?.();
    this.settleFirst(new BrokerError('ERR_CLOSED', 'the verifier was closed'));
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      let wentLive = false;
      try {
        wentLive = await this.connect();
        if (!this.closed) {
          throw new BrokerError('ERR_BROKER_UNAVAILABLE', 'the revocation event stream ended');
        }
      } catch (err) {
        if (!this.closed) {
          this.settleFirst(err);
          this.onError(err);
        }
      }
      this.live = false;
      if (this.closed) return;
      attempt = wentLive ? 0 : attempt + 1;
      await this.sleep(
        Math.min(MAX_RETRY_MS, this.retryMs * 2 ** attempt) * (0.5 + Math.random() / 2),
      );
    }
  }

  /** One connection, until it ends; true when it went live. */
  private async connect(): Promise<boolean> {
    let wentLive = false;
    await followStream(this.target, {
      lastEventId: this.lastEventId,
      onEvent: (e) => {
        if (this.onEvent(e)) wentLive = true;
      },
      onRetry: (ms) => {
        this.retryMs = Math.max(FIRST_RETRY_MS, ms);
      },
      onCancel: (cancel) => {
        this.cancel = cancel;
        if (cancel && this.closed) cancel();
      },
    });
    return wentLive;
  }

  /** Applies one event; true when it was `ready`. */
  private onEvent(e: EventSourceMessage): boolean {
    if (e.event === 'revocation') {
      if (!this.state.apply(parse(e.data))) {
        this.onError(new BrokerError('ERR_BROKER_REFUSED', `unusable revocation event ${e.data}`));
      }
      if (e.id) this.lastEventId = e.id;
      return false;
    }
    if (e.event === 'ready') {
      const last = (parse(e.data) as { last_event_id?: unknown } | undefined)?.last_event_id;
      // 0 means nothing was ever sent: resuming "after 0" would replay expired history too.
      if (typeof last === 'number' && Number.isSafeInteger(last) && last > 0) {
        this.lastEventId = String(last);
      }
      this.live = true;
      this.settleFirst();
      return true;
    }
    if (e.event === 'error') {
      this.onError(new BrokerError('ERR_BROKER_UNAVAILABLE', `event stream error: ${e.data}`));
    }
    return false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}
