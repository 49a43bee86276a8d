/** What every benchmark here measures with: operations per second with many in flight, and medians. */

export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export interface Throughput {
  /** How long to run, milliseconds. */
  ms: number;
  /** Operations in flight at once, as a busy server would have. */
  inFlight: number;
  /**
   * Yield to the event loop after each operation. Requests reach a server through I/O;
   * without this, PGlite (which answers within microtasks) runs the workers back to back
   * and starves every timer (a background chainer's included).
   */
  yieldEach?: boolean;
}

export async function opsPerSecond(op: () => Promise<unknown>, t: Throughput): Promise<number> {
  let done = 0;
  const end = performance.now() + t.ms;
  const worker = async () => {
    while (performance.now() < end) {
      await op();
      done++;
      if (t.yieldEach) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: t.inFlight }, worker));
  return (done * 1000) / (performance.now() - started);
}
