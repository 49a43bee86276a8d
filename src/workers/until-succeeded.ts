/**
 * A Worker has no start-up to do its set-up in, so its first request does it. This runs
 * `work` once and hands every caller the same promise until it has succeeded; a failure
 * (the database unreachable for a moment) is forgotten, so the next caller tries again
 * instead of the isolate failing for good.
 */
export function untilSucceeded<T>(work: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= work().catch((err: unknown) => {
      pending = undefined;
      throw err;
    }));
}
