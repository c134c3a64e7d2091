// Metadata documents in tiers: an in-process LRU of entries, the persistent tier in the blob store
// (metadata/ objects: survives restarts, serves offline, on disk or object storage), and — when configured — a shared keyv Redis store for
// replicas. Redis trouble never fails a request: the store degrades to local and reports it.

import Keyv, { type DeserializedData } from 'keyv';
import KeyvRedis from '@keyv/redis';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { LruCache } from '../cache/lru.ts';
import type { BlobStore } from './blob-store.ts';
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
  readonly memoryBytes: number;
  readonly redisUrl: string | null;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** How long Redis keeps persistent entries (they are also kept in the blob store's metadata/). */
  readonly sharedRetentionMs?: number;
  /** Upper bound for one Redis operation before the store treats Redis as down. */
  readonly sharedTimeoutMs?: number;
  /** After a Redis failure, how long to run on local only before trying Redis again. */
  readonly sharedRetryMs?: number;
}

export interface SetOptions {
  /** false: memory and Redis only (search results) — never written to disk. */
  readonly persist?: boolean;
  /** Redis expiry for this entry. */
  readonly sharedTtlMs?: number;
}

class Timeout extends Error {}

/**
 * keyv serialization for entries: one JSON header line, then the body verbatim. Documents are megabytes of
 * JSON; embedding them in a JSON string would escape (and later unescape) every quote on the event loop.
 */
export function serializeEntry<Value>(data: DeserializedData<Value>): string {
  const entry = data.value as MetaEntry | undefined;
  if (!entry || typeof entry.body !== 'string') return `${JSON.stringify(data)}\n`;
  const { body, ...head } = entry;
  return `${JSON.stringify({ expires: data.expires, value: head })}\n${body}`;
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(`timed out after ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

function newer(a: MetaEntry | undefined, b: MetaEntry | undefined): MetaEntry | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.fetchedAt > a.fetchedAt ? b : a;
}

export class MetadataStore {
  private readonly memory: LruCache<MetaEntry>;
  private readonly disk: Keyv<MetaEntry>;
  readonly diskStore: BlobKeyvStore;
  private readonly shared: Keyv<MetaEntry> | null;
  private readonly redis: KeyvRedis<MetaEntry> | null;
  private sharedDownUntil = 0;
  private sharedState: SharedState;
  private readonly pendingWrites = new Set<Promise<unknown>>();

  constructor(private readonly options: MetadataStoreOptions) {
    this.memory = new LruCache<MetaEntry>(options.memoryBytes, (e) => e.body.length * 2 + 256);
    this.diskStore = new BlobKeyvStore(options.blobs);
    this.disk = new Keyv<MetaEntry>({ store: this.diskStore, namespace: '', ...SERIALIZATION });
    this.disk.on('error', (err: unknown) => options.log.warn({ err }, 'metadata disk store error'));
    if (options.redisUrl) {
      this.redis = new KeyvRedis<MetaEntry>(
        {
          url: options.redisUrl,
          // Fail commands at once while disconnected instead of queueing them behind a dead server.
          disableOfflineQueue: true,
          socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(200 * (retries + 1), 2000) },
        },
        { namespace: 'nuget-proxy', throwOnErrors: true, throwOnConnectError: false },
      );
      this.redis.on('error', () => {
        // Connection errors are reported through failed operations (markSharedDown); keep them off stderr.
      });
      this.shared = new Keyv<MetaEntry>({ store: this.redis, namespace: 'nuget-proxy', throwOnErrors: true, ...SERIALIZATION });
      this.shared.on('error', () => {});
      this.sharedState = 'up';
      options.metrics.redisUp.set(1);
    } else {
      this.redis = null;
      this.shared = null;
      this.sharedState = 'none';
    }
  }

  /** Shared-store health as readiness reports it. */
  get sharedStatus(): SharedState {
    return this.sharedState;
  }

  private sharedUsable(): boolean {
    return this.shared !== null && Date.now() >= this.sharedDownUntil;
  }

  private markShared(ok: boolean, err?: unknown): void {
    if (!this.shared) return;
    if (ok) {
      if (this.sharedState !== 'up') this.options.log.info('redis metadata store is back');
      this.sharedState = 'up';
      this.options.metrics.redisUp.set(1);
      return;
    }
    this.options.metrics.metadataStoreErrors.inc({ store: 'redis' });
    if (this.sharedState !== 'down') this.options.log.warn({ err: String(err) }, 'redis metadata store unavailable; continuing on the local store');
    this.sharedState = 'down';
    this.options.metrics.redisUp.set(0);
    this.sharedDownUntil = Date.now() + (this.options.sharedRetryMs ?? 5000);
  }

  private async sharedOp<T>(op: (s: Keyv<MetaEntry>) => Promise<T>): Promise<T | undefined> {
    if (!this.shared || !this.sharedUsable()) return undefined;
    try {
      const r = await withTimeout(op(this.shared), this.options.sharedTimeoutMs ?? 500);
      this.markShared(true);
      return r;
    } catch (err) {
      this.markShared(false, err);
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
      if (options.persist ?? true) this.track(this.disk.set(key, fromShared));
    }
    if (best) this.memory.set(key, best);
    return best;
  }

  /** Stores an entry in every tier. Disk writes are awaited (they make offline serving possible). */
  async set(key: string, entry: MetaEntry, options: SetOptions = {}): Promise<void> {
    this.memory.set(key, entry);
    const persist = options.persist ?? true;
    const writes: Promise<unknown>[] = [];
    if (persist) writes.push(this.disk.set(key, entry).catch((err: unknown) => this.options.log.warn({ err }, 'metadata disk write failed')));
    const ttl = options.sharedTtlMs ?? this.options.sharedRetentionMs ?? 30 * 24 * 3600 * 1000;
    writes.push(this.sharedOp((s) => s.set(key, entry, ttl)));
    await Promise.all(writes);
  }

  /** Forgets the in-process tier (the cache directory changed underneath, e.g. by an import). */
  clearMemory(): void {
    this.memory.clear();
  }

  /** Only the local tiers (used by import and by readers that must not wait on Redis). */
  async getLocal(key: string): Promise<MetaEntry | undefined> {
    return this.memory.get(key) ?? (await this.disk.get(key).catch(() => undefined)) ?? undefined;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined);
    this.pendingWrites.add(q);
    void q.finally(() => this.pendingWrites.delete(q));
  }

  /** Checks Redis with a PING-like round trip (readiness). */
  async checkShared(): Promise<SharedState> {
    if (!this.shared) return 'none';
    if (!this.sharedUsable()) return 'down';
    await this.sharedOp((s) => s.get('nuget-proxy:readiness-probe'));
    return this.sharedState;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
    if (this.redis) await this.redis.disconnect().catch(() => undefined);
  }
}
