// Coalesces concurrent work by key: the first caller runs it, later callers share its promise — and, with
// runWith(), a companion value made with the run (e.g. a download the callers can follow as it arrives).

interface Flight<T, C> {
  readonly promise: Promise<T>;
  readonly companion: C;
}

export class SingleFlight<T, C = undefined> {
  private readonly inflight = new Map<string, Flight<T, C>>();

  /** Runs `fn` unless a run for `key` is already in flight; `shared` tells the caller which happened. */
  run(key: string, fn: () => Promise<T>): { promise: Promise<T>; shared: boolean } {
    const { promise, shared } = this.runWith(key, () => undefined as C, fn);
    return { promise, shared };
  }

  /**
   * Like run(); `make` creates the companion when a new run starts (synchronously, so every caller of
   * this run — the first included — gets it at once), and `fn` receives it.
   */
  runWith(key: string, make: () => C, fn: (companion: C) => Promise<T>): { promise: Promise<T>; shared: boolean; companion: C } {
    const existing = this.inflight.get(key);
    if (existing) return { promise: existing.promise, shared: true, companion: existing.companion };
    const companion = make();
    // fn starts on a later microtask, after the flight is registered, so even a synchronous throw
    // clears the key.
    const promise: Promise<T> = Promise.resolve()
      .then(() => fn(companion))
      .finally(() => {
        if (this.inflight.get(key)?.promise === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, { promise, companion });
    return { promise, shared: false, companion };
  }

  /** The run in flight for `key`, if any. */
  inFlight(key: string): Promise<T> | undefined {
    return this.inflight.get(key)?.promise;
  }

  get size(): number {
    return this.inflight.size;
  }

  /** Resolves when every run in flight now has settled (used by graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()].map((f) => f.promise));
  }
}
