/**
 * One connection to the revocation event stream: a POST with a fresh client
 * assertion (form-encoded, docs/REVOCATION.md) and Last-Event-ID when resuming,
 * Server-Sent Events back, parsed with eventsource-parser. Ends when the broker
 * ends the stream, when the caller cancels, or when a heartbeat is overdue.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { BrokerError, refused } from './broker-error.ts';
import { clientAuthParams, type AssertionSigner } from './client-assertion.ts';

/**
 * The broker sends `: keep-alive` every 15 s. A connection silent for longer is
 * taken for dead (a half-open TCP connection never says so), so that status lists
 * take over within 20 s instead of trusting a stream that hears nothing.
 */
const SILENCE_MS = 20_000;

export interface StreamTarget {
  endpoint: string;
  fetch: typeof fetch;
  sign: AssertionSigner;
}

export interface StreamHandlers {
  lastEventId: string | undefined;
  onEvent: (event: EventSourceMessage) => void;
  onRetry: (ms: number) => void;
  /** Receives the way to end this connection once it is open, and undefined once it is over. */
  onCancel: (cancel: (() => void) | undefined) => void;
}

/** Resolves when the stream ends; rejects when it cannot be opened or breaks. */
export async function followStream(target: StreamTarget, h: StreamHandlers): Promise<void> {
  const controller = new AbortController();
  const headers: Record<string, string> = {
    accept: 'text/event-stream',
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (h.lastEventId !== undefined) headers['last-event-id'] = h.lastEventId;
  const body = new URLSearchParams(await clientAuthParams(target.sign)).toString();
  const res = await target.fetch(target.endpoint, {
    method: 'POST',
    headers,
    body,
    signal: controller.signal,
  });
  if (res.status !== 200) throw await refused('the revocation event stream', res);
  if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    throw new BrokerError('ERR_BROKER_REFUSED', 'the revocation event stream is not SSE');
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  // Aborting alone does not reach an in-process body; cancelling the reader does.
  const cancel = () => {
    controller.abort();
    reader.cancel().catch(() => undefined);
  };
  h.onCancel(cancel);
  const parser = createParser({ onEvent: h.onEvent, onRetry: h.onRetry });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (;;) {
      clearTimeout(timer);
      timer = setTimeout(cancel, SILENCE_MS);
      // Node: a watchdog alone must not keep the process alive.
      (timer as { unref?: () => void }).unref?.();
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  } finally {
    clearTimeout(timer);
    h.onCancel(undefined);
    cancel();
  }
}
