// Metadata documents in tiers: an in-process LRU of entries, the persistent tier in the blob store
// (metadata/ objects: survives restarts, serves offline, on disk or object storage), and — when configured —
// a shared keyv store in Redis (a server or a cluster) for replicas. Redis trouble never fails a request:
// the store degrades to local (the connection in src/redis.ts tracks and reports Redis health).

import Keyv, { type DeserializedData } from 'keyv';
import KeyvRedis from '@keyv/redis';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { RedisConnection } from '../redis.ts';
import { LruCache } from '../cache/lru.ts';
import type { MemorySpace } from '../cache/memory-tier.ts';
import { storageCodeOf, type BlobStore } from './blob-store.ts';
import { BlobKeyvStore } from './blob-keyv-store.ts';

export interface MetaEntry {
  /** 200: `body` holds the document; 404: upstream said it does not exist (negative cache). */
  readonly status: 200 | 404;
  readonly body: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  /** When upstream last confirmed this content (ms since epoch). */
  readonly fetchedAt: number;
  /** Per-resource extras (e.g. the upstream URL a proxy path maps to). */
  readonly extra?: Readonly<Record<string, string>>;
}

export type SharedState = 'none' | 'up' | 'down';

export interface MetadataStoreOptions {
  readonly blobs: BlobStore;
  /** Budget of the in-process tier when it is not a space of the proxy's memory tier (`memory`). */
  readonly memoryBytes?: number;
  /** The in-process tier as a space of the proxy's one memory budget. */
  readonly memory?: MemorySpace<MetaEntry>;
  /** The shared tier; its owner (proxy.ts) closes it. */
  readonly redis: RedisConnection | null;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** How long Redis keeps persistent entries (they are also kept in the blob store's metadata/). */
  readonly sharedRetentionMs?: number;
  /** How long Redis keeps an upstream 404 (--not-found-ttl-seconds); default a minute. */
  readonly notFoundRetentionMs?: number;
  /** Told after each write to the persistent tier (retention sweeps early when many documents arrive). */
  readonly onPersisted?: () => void;
}

export interface SetOptions {
  /** false: memory and Redis only (search results) — never written to disk. Upstream 404s never are. */
  readonly persist?: boolean;
  /** Redis expiry for this entry. */
  readonly sharedTtlMs?: number;
}

/**
 * keyv serialization for entries: one JSON header line, then the body verbatim. Documents are megabytes of
 * JSON; embedding them in a JSON string would escape (and later unescape) every quote on the event loop.
 */
export function serializeEntry<Value>(data: DeserializedData<Value>): string {
  return serializedParts(data).join('');
}

/**
 * serializeEntry's text as its parts, the header line and the body: written part by part, a megabyte
 * body is never copied into one string with its header first.
 */
export function serializedParts<Value>(data: DeserializedData<Value>): [string] | [string, string] {
  const entry = data.value as MetaEntry | undefined;
  if (!entry || typeof entry.body !== 'string') return [`${JSON.stringify(data)}\n`];
  const { body, ...head } = entry;
  return [`${JSON.stringify({ expires: data.expires, value: head })}\n`, body];
}

export function deserializeEntry<Value>(text: string): DeserializedData<Value> | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  try {
    const head = JSON.parse(text.slice(0, nl)) as { expires?: number; value?: Record<string, unknown> };
    if (!head.value) return undefined;
    if (typeof head.value['body'] === 'string') return head as DeserializedData<Value>;
    const value = { ...head.value, body: text.slice(nl + 1) } as Value;
    return head.expires === undefined ? { value } : { expires: head.expires, value };
  } catch {
    return undefined;
  }
}

const SERIALIZATION = { serialize: serializeEntry, deserialize: deserializeEntry };

/**
 * Only documents go to the persistent tier. An upstream 404 is remembered in memory and Redis alone: any
 * client can make up ids, so on disk such entries would grow without bound (and they expire in a minute).
 */
function persistable(entry: MetaEntry): boolean {
  return entry.status === 200;
}

function newer(a: MetaEntry | undefined, b: MetaEntry | undefined): MetaEntry | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.fetchedAt > a.fetchedAt ? b : a;
}

/** What an entry costs in memory (strings may hold two bytes per character). */
export function metaEntrySize(e: MetaEntry): number {
  return e.body.length * 2 + 256;
}

export class MetadataStore {
  private readonly memory: Pick<LruCache<MetaEntry>, 'get' | 'set' | 'clear'>;
  private readonly disk: Keyv<MetaEntry>;
  readonly diskStore: BlobKeyvStore;
  private readonly shared: Keyv<MetaEntry> | null;
  private readonly pendingWrites = new Set<Promise<unknown>>();

  constructor(private readonly options: MetadataStoreOptions) {
    this.memory = options.memory ?? new LruCache<MetaEntry>(options.memoryBytes ?? 0, metaEntrySize);
    this.diskStore = new BlobKeyvStore(options.blobs);
    this.disk = new Keyv<MetaEntry>({ store: this.diskStore, namespace: '', ...SERIALIZATION });
    this.disk.on('error', (err: unknown) => {
      // Reads through keyv (writes go through writeDisk): a failing read costs the entry, not the request.
      options.metrics.storageErrors.inc({ operation: 'metadata', code: storageCodeOf(err) });
      options.log.warn({ err }, 'metadata disk store error');
    });
    if (options.redis) {
      const redis = new KeyvRedis<MetaEntry>(options.redis.client, { namespace: 'nuget-proxy', throwOnErrors: true, throwOnConnectError: false });
      redis.on('error', () => {
        // Reported through failed operations (RedisConnection marks Redis down); keep them off stderr.
      });
      this.shared = new Keyv<MetaEntry>({ store: redis, namespace: 'nuget-proxy', throwOnErrors: true, ...SERIALIZATION });
      this.shared.on('error', () => {});
    } else {
      this.shared = null;
    }
  }

  /** Shared-store health as readiness reports it. */
  get sharedStatus(): SharedState {
    return this.options.redis?.status ?? 'none';
  }

  private async sharedOp<T>(op: (s: Keyv<MetaEntry>) => Promise<T>): Promise<T | undefined> {
    const { redis } = this.options;
    if (!this.shared || !redis?.usable()) return undefined;
    const shared = this.shared;
    try {
      return await redis.run(() => op(shared));
    } catch {
      this.options.metrics.metadataStoreErrors.inc({ store: 'redis' });
      return undefined;
    }
  }

  /**
   * The newest entry for `key` from the cheapest tier that has a fresh one (age < freshMs);
   * otherwise the newest (possibly stale) entry found anywhere, or undefined.
   */
  async get(key: string, freshMs: number, options: { persist?: boolean } = {}): Promise<MetaEntry | undefined> {
    const now = Date.now();
    const isFresh = (e: MetaEntry | undefined) => e !== undefined && now - e.fetchedAt < freshMs;
    let best = this.memory.get(key);
    if (isFresh(best)) return best;
    if (options.persist ?? true) {
      const fromDisk = await this.disk.get(key).catch(() => undefined);
      best = newer(best, fromDisk ?? undefined);
      if (isFresh(best)) {
        this.memory.set(key, best as MetaEntry);
        return best;
      }
    }
    const fromShared = await this.sharedOp((s) => s.get(key));
    if (fromShared && (!best || fromShared.fetchedAt > best.fetchedAt)) {
      best = fromShared;
      if ((options.persist ?? true) && persistable(fromShared)) this.track(this.writeDisk(key, fromShared));
    }
    if (best) this.memory.set(key, best);
    return best;
  }

  /** Stores an entry in every tier. Disk writes are awaited (they make offline serving possible). */
  async set(key: string, entry: MetaEntry, options: SetOptions = {}): Promise<void> {
    this.memory.set(key, entry);
    const persist = (options.persist ?? true) && persistable(entry);
    const writes: Promise<unknown>[] = [];
    if (persist) {
      writes.push(this.writeDisk(key, entry));
    }
    const ttl =
      options.sharedTtlMs ??
      (persistable(entry) ? (this.options.sharedRetentionMs ?? 30 * 24 * 3600 * 1000) : Math.max(1000, this.options.notFoundRetentionMs ?? 60_000));
    writes.push(this.sharedOp((s) => s.set(key, entry, ttl)));
    await Promise.all(writes);
  }

  /**
   * Writes `entry` to the disk tier in keyv's format (what this.disk reads), header and body as separate
   * parts: through keyv the two would first be joined into one string, a copy of the whole document.
   */
  private async writeDisk(key: string, entry: MetaEntry): Promise<void> {
    try {
      await this.diskStore.set(key, serializedParts({ value: entry }));
      this.options.onPersisted?.();
    } catch (err) {
      // A full or read-only cache costs persistence only: the entry is still served from memory (and Redis).
      this.options.metrics.storageErrors.inc({ operation: 'metadata', code: storageCodeOf(err) });
      this.options.log.warn({ err }, 'metadata disk write failed');
    }
  }

  /** Forgets the in-process tier (the cache directory changed underneath, e.g. by an import). */
  clearMemory(): void {
    this.memory.clear();
  }

  /** What the in-process tier holds for `key` (no storage read). */
  getInMemory(key: string): MetaEntry | undefined {
    return this.memory.get(key);
  }

  /** Only the local tiers (used by import and by readers that must not wait on Redis). */
  async getLocal(key: string): Promise<MetaEntry | undefined> {
    return this.getInMemory(key) ?? (await this.disk.get(key).catch(() => undefined)) ?? undefined;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined);
    this.pendingWrites.add(q);
    void q.finally(() => this.pendingWrites.delete(q));
  }

  /** Checks Redis with a PING-like round trip (readiness). */
  async checkShared(): Promise<SharedState> {
    if (!this.shared || !this.options.redis) return 'none';
    if (!this.options.redis.usable()) return 'down';
    await this.sharedOp((s) => s.get('nuget-proxy:readiness-probe'));
    return this.options.redis.status;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
  }
}
