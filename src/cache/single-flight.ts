// Coalesces concurrent work by key: the first caller runs it, later callers share its promise.

export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Runs `fn` unless a run for `key` is already in flight; `shared` tells the caller which happened. */
  run(key: string, fn: () => Promise<T>): { promise: Promise<T>; shared: boolean } {
    const existing = this.inflight.get(key);
    if (existing) return { promise: existing, shared: true };
    // fn starts on a later microtask, after the promise is registered, so even a synchronous throw
    // clears the key.
    const promise: Promise<T> = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.inflight.get(key) === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, promise);
    return { promise, shared: false };
  }

  get size(): number {
    return this.inflight.size;
  }

  /** Resolves when every run in flight now has settled (used by graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }
}
