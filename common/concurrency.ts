/** Runs `fn` over `items` with at most `limit` at a time; the first failure rejects. */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Runs `first` and `second` at once; when one fails, the other (if it takes the signal) is
 * stopped, and nothing returns before both have ended, so neither still works on what the
 * caller cleans up after a failure. The first failure is what rejects: the other one's is then
 * often only "aborted".
 */
export async function bothOrNeither(first: () => Promise<void>, second: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
  const failed = new AbortController();
  let cause: { err: unknown } | undefined;
  const stopOnFailure = (p: Promise<void>): Promise<void> =>
    p.catch((err: unknown) => {
      cause ??= { err };
      failed.abort();
    });
  await Promise.all([stopOnFailure(first()), stopOnFailure(second(AbortSignal.any([signal, failed.signal])))]);
  if (cause) throw cause.err;
}
