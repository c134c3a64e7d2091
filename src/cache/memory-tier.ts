// The memory tier: ONE least-recently-used budget in bytes (--memory-cache-mb) shared by everything the
// proxy keeps in memory to answer hits — metadata entries, render templates and compressed renderings of
// documents, and ready responses (package files and rendered metadata) — so whichever is hottest keeps its
// place and the sum never passes the budget.

import { LruCache } from './lru.ts';

/** Where the tier's budget goes; also the `space` label of its metrics. */
export type MemorySpaceName = 'metadata' | 'render' | 'response';

interface Held {
  readonly value: unknown;
  readonly size: number;
}

export interface MemoryTierStats {
  readonly bytes: number;
  readonly entries: number;
  readonly maxBytes: number;
}

export class MemoryTier {
  private readonly lru: LruCache<Held>;

  constructor(readonly maxBytes: number) {
    this.lru = new LruCache<Held>(maxBytes, (h) => h.size);
  }

  /**
   * A typed view on one part of the tier. Keys are prefixed with the space's name, so a space only ever
   * reads back values it stored itself.
   */
  space<V>(name: MemorySpaceName, sizeOf: (value: V) => number): MemorySpace<V> {
    return new MemorySpace<V>(this.lru, `${name}\u0000`, sizeOf);
  }

  clear(): void {
    this.lru.clear();
  }

  get stats(): MemoryTierStats {
    return { bytes: this.lru.totalBytes, entries: this.lru.size, maxBytes: this.maxBytes };
  }
}

export class MemorySpace<V> {
  constructor(
    private readonly lru: LruCache<Held>,
    private readonly prefix: string,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    return this.lru.get(this.prefix + key)?.value as V | undefined;
  }

  /** Stores `value` unless it alone is larger than the whole tier; evicts the least recently used. */
  set(key: string, value: V): void {
    this.lru.set(this.prefix + key, { value, size: this.sizeOf(value) });
  }

  delete(key: string): void {
    this.lru.delete(this.prefix + key);
  }

  /** Drops every entry of this space whose value matches (rare events: evictions, generation changes). */
  deleteWhere(match: (value: V) => boolean): number {
    return this.lru.deleteWhere((key, held) => key.startsWith(this.prefix) && match(held.value as V));
  }

  /** Drops every entry of this space. */
  clear(): void {
    this.deleteWhere(() => true);
  }
}
