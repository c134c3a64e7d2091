// A size-bounded least-recently-used map: memory for hot metadata and rendered responses never grows past
// its byte budget.
//
// Recency is a linked list beside the Map: a read moves its entry to the newest end by relinking two
// neighbours, without touching the Map. (Deleting and re-inserting the key on every read, the usual JS
// idiom, churns the Map's table into periodic rebuilds: on the hit path, where every request reads here,
// that showed as a tenth of the request's own CPU.)

interface Entry<V> {
  readonly key: string;
  value: V;
  size: number;
  /** Toward the oldest end. */
  older: Entry<V> | null;
  /** Toward the newest end. */
  newer: Entry<V> | null;
}

export class LruCache<V> {
  private readonly map = new Map<string, Entry<V>>();
  private bytes = 0;
  private oldest: Entry<V> | null = null;
  private newest: Entry<V> | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit !== this.newest) {
      this.unlink(hit);
      this.append(hit);
    }
    return hit.value;
  }

  set(key: string, value: V): void {
    const size = this.sizeOf(value);
    this.delete(key);
    if (size > this.maxBytes) return;
    const entry: Entry<V> = { key, value, size, older: null, newer: null };
    this.map.set(key, entry);
    this.append(entry);
    this.bytes += size;
    while (this.bytes > this.maxBytes && this.oldest) this.remove(this.oldest);
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old) this.remove(old);
  }

  /** Deletes every entry `match` accepts; returns how many. */
  deleteWhere(match: (key: string, value: V) => boolean): number {
    let n = 0;
    for (let e = this.oldest; e; ) {
      const next = e.newer;
      if (match(e.key, e.value)) {
        this.remove(e);
        n++;
      }
      e = next;
    }
    return n;
  }

  clear(): void {
    this.map.clear();
    this.oldest = null;
    this.newest = null;
    this.bytes = 0;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.map.size;
  }

  private remove(e: Entry<V>): void {
    this.map.delete(e.key);
    this.unlink(e);
    this.bytes -= e.size;
  }

  private unlink(e: Entry<V>): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = null;
    e.newer = null;
  }

  private append(e: Entry<V>): void {
    e.older = this.newest;
    e.newer = null;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }
}
