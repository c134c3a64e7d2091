// Bounded parallelism for independent jobs over a list (file moves, deletes, uploads).

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first failure (others still finish their item). */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
