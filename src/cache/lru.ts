// A size-bounded least-recently-used map: memory for hot metadata and rendered responses never grows past
// its byte budget.

export class LruCache<V> {
  private readonly map = new Map<string, { value: V; size: number }>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V): void {
    const size = this.sizeOf(value);
    this.delete(key);
    if (size > this.maxBytes) return;
    this.map.set(key, { value, size });
    this.bytes += size;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.size;
    }
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.bytes -= old.size;
    }
  }

  /** Deletes every entry `match` accepts; returns how many. */
  deleteWhere(match: (key: string, value: V) => boolean): number {
    let n = 0;
    for (const [k, v] of this.map) {
      if (!match(k, v.value)) continue;
      this.map.delete(k);
      this.bytes -= v.size;
      n++;
    }
    return n;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.map.size;
  }
}
