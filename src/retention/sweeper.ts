// Retention: keeps the blob store under --max-cache-size and drops versions unused for
// --evict-unused-days. Eviction has hysteresis: once usage passes 95% of the quota, a sweep evicts down to
// 90%, so a full cache is not swept on every fill and stays below the "near quota" alert unless retention
// cannot keep up (everything left pinned or in use). A sweep folds the access deltas into the index, takes an inventory of package
// versions, and evicts the least recently served first — never a pinned version (imported from a bundle,
// prefetched with --pin) and never one served or filled within the grace window (a download in progress).
// A version's .nupkg goes first, so it stops being "held" (version lists, offline registration, search)
// before its other files disappear; the generation stamp then tells other processes to forget it too.
// Every sweep also prunes the persistent metadata tier (metadata/): documents nobody needed, so none was
// refreshed, for --metadata-unused-days, and the least recently refreshed past --max-metadata-entries —
// so no client can grow it without bound (upstream 404s never reach it at all; see metadata-store.ts).

import { writeBlob, type BlobStore } from '../storage/blob-store.ts';
import { bumpGeneration } from '../storage/generation.ts';
import { ACCESS_INDEX_KEY, METADATA_PREFIX } from '../storage/layout.ts';
import { deletePackageVersion, inventoryPackages, type StoredVersion } from '../storage/package-versions.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { forEachLimited } from '../concurrency.ts';
import { accessId, readAccessRecords, serializeAccessMap, type AccessMap } from './access-log.ts';

export interface RetentionPolicy {
  /** Bytes the store may hold (packages and metadata); null: no quota. */
  readonly maxBytes: number | null;
  /** Versions not served for this long are evicted; null: never. */
  readonly evictUnusedMs: number | null;
  /** Versions served or filled this recently are never evicted (downloads in progress, fresh fills). */
  readonly graceMs: number;
}

export interface Evicted {
  readonly lowerId: string;
  readonly lowerVersion: string;
  readonly bytes: number;
  readonly reason: 'quota' | 'unused';
  readonly lastServedMs: number;
}

export interface SweepResult {
  readonly usedBytesBefore: number;
  readonly usedBytes: number;
  readonly quotaBytes: number | null;
  readonly versions: number;
  readonly pinned: number;
  readonly evicted: readonly Evicted[];
  readonly evictedBytes: number;
  /** true when the quota could not be met because everything left is pinned or in use. */
  readonly overQuota: boolean;
  readonly durationMs: number;
}

/** A sweep evicts when usage is above HIGH × quota, down to LOW × quota. */
export const QUOTA_HIGH_WATERMARK = 0.95;
export const QUOTA_LOW_WATERMARK = 0.9;
const EVICT_CONCURRENCY = 16;

/** Bounds of the persistent metadata tier; absent (offline): never pruned, it cannot be fetched again. */
export interface MetadataPolicy {
  /** Documents not written (filled or refreshed) for this long are deleted. */
  readonly unusedMs: number;
  /** Past this many documents the oldest go, down to QUOTA_LOW_WATERMARK of it. */
  readonly maxEntries: number;
}

export interface MetadataPruneResult {
  readonly entries: number;
  readonly unused: number;
  readonly overCap: number;
}

/** Early metadata sweeps (after many writes) start at most this often. */
const EARLY_SWEEP_MIN_INTERVAL_MS = 60_000;

export interface SweeperDeps {
  readonly blobs: BlobStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly policy: RetentionPolicy;
  readonly metadata?: MetadataPolicy;
  /** Told about every evicted version (in-memory views drop it). */
  readonly onEvicted?: (lowerId: string, lowerVersion: string) => void;
  /** Runs the sweep under a cross-process lease when one is available (one sweeper at a time). */
  readonly exclusive?: <T>(run: () => Promise<T>) => Promise<T | null>;
}

export class Sweeper {
  private running: Promise<SweepResult | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  /** Bytes added since the last sweep (fills, imports), to start a sweep early when the quota is passed. */
  private addedSinceSweep = 0;
  private lastUsedBytes = 0;
  private last: (SweepResult & { readonly atMs: number }) | null = null;
  private metadataWritesSinceSweep = 0;
  private lastSweepStartedAt = 0;

  constructor(private readonly deps: SweeperDeps) {
    deps.metrics.storageQuotaBytes.set(deps.policy.maxBytes ?? 0);
  }

  get enabled(): boolean {
    return this.deps.policy.maxBytes !== null || this.deps.policy.evictUnusedMs !== null;
  }

  /** The last sweep of this process and when it ended (the web page shows use against quota). */
  get lastSweep(): (SweepResult & { readonly atMs: number }) | null {
    return this.last;
  }

  /** Periodic sweeps (the first soon after start); without a policy they only fold access records. */
  start(intervalMs: number): void {
    if (this.timer) return;
    const tick = () => void this.sweep().catch(() => undefined);
    this.soon = setTimeout(tick, Math.min(intervalMs, 10_000));
    this.soon.unref();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  /** A fill added bytes: sweep soon if that may have passed the quota. */
  noteAdded(bytes: number): void {
    this.addedSinceSweep += bytes;
    const max = this.deps.policy.maxBytes;
    if (max !== null && this.lastUsedBytes + this.addedSinceSweep > max * QUOTA_HIGH_WATERMARK && !this.running) {
      if (this.soon) clearTimeout(this.soon);
      this.soon = setTimeout(() => void this.sweep().catch(() => undefined), 250);
      this.soon.unref();
    }
  }

  /** A metadata document was written: sweep soon when enough were that the entry cap may be passed. */
  noteMetadataWritten(): void {
    const max = this.deps.metadata?.maxEntries;
    if (max === undefined) return;
    this.metadataWritesSinceSweep++;
    if (this.metadataWritesSinceSweep < Math.max(10, Math.floor(max / 10)) || this.running) return;
    if (Date.now() - this.lastSweepStartedAt < EARLY_SWEEP_MIN_INTERVAL_MS) return;
    this.metadataWritesSinceSweep = 0;
    if (this.soon) clearTimeout(this.soon);
    this.soon = setTimeout(() => void this.sweep().catch(() => undefined), 250);
    this.soon.unref();
  }

  /** One sweep (concurrent callers share it). null without a policy (access records folded only) or when another process holds the sweep lease. */
  sweep(): Promise<SweepResult | null> {
    this.running ??= (async () => {
      try {
        const run = async () => {
          this.lastSweepStartedAt = Date.now();
          await this.pruneMetadata();
          return this.enabled ? this.sweepOnce() : this.foldOnly();
        };
        return this.deps.exclusive ? await this.deps.exclusive(run) : await run();
      } catch (err) {
        this.deps.metrics.retentionSweeps.inc({ result: 'error' });
        this.deps.log.warn({ err: (err as Error).message }, 'retention sweep failed');
        throw err;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async foldAccess(): Promise<{ index: AccessMap; folded: string[] }> {
    const { served, deltaKeys } = await readAccessRecords(this.deps.blobs);
    return { index: served, folded: deltaKeys };
  }

  /**
   * Deletes metadata documents not written for `unusedMs`, then the oldest past `maxEntries` (down to 90%).
   * A document's write time is when it was last filled or refreshed, and documents are refreshed whenever
   * they are used after their TTL: an old one is one nobody asked for. Deleted ones are fetched again.
   */
  async pruneMetadata(): Promise<MetadataPruneResult | null> {
    const policy = this.deps.metadata;
    if (!policy) return null;
    const { blobs, metrics, log } = this.deps;
    this.metadataWritesSinceSweep = 0;
    const now = Date.now();
    const kept: Array<{ key: string; writtenAt: number }> = [];
    let unused = 0;
    for await (const o of blobs.list(METADATA_PREFIX)) {
      if (now - o.lastModifiedMs > policy.unusedMs) {
        if (await blobs.delete(o.key)) unused++;
      } else {
        kept.push({ key: o.key, writtenAt: o.lastModifiedMs });
      }
    }
    let overCap = 0;
    if (kept.length > policy.maxEntries) {
      kept.sort((a, b) => a.writtenAt - b.writtenAt);
      const excess = kept.length - Math.floor(policy.maxEntries * QUOTA_LOW_WATERMARK);
      for (const e of kept.slice(0, excess)) if (await blobs.delete(e.key)) overCap++;
    }
    const entries = kept.length - overCap;
    metrics.metadataEntries.set(entries);
    if (unused > 0) metrics.metadataPruned.inc({ reason: 'unused' }, unused);
    if (overCap > 0) metrics.metadataPruned.inc({ reason: 'cap' }, overCap);
    if (unused + overCap > 0) log.info({ entries, unused, overCap, maxEntries: policy.maxEntries }, 'metadata pruned');
    return { entries, unused, overCap };
  }

  /** Package versions and the bytes of everything that counts against the quota (packages and metadata). */
  private async inventory(): Promise<{ versions: Map<string, StoredVersion>; usedBytes: number }> {
    const { versions, bytes } = await inventoryPackages(this.deps.blobs);
    let usedBytes = bytes;
    for await (const o of this.deps.blobs.list(METADATA_PREFIX)) usedBytes += o.size;
    return { versions, usedBytes };
  }

  private async evict(v: StoredVersion): Promise<void> {
    await deletePackageVersion(this.deps.blobs, v.lowerId, v.lowerVersion, v.keys);
    this.deps.onEvicted?.(v.lowerId, v.lowerVersion);
  }

  /** Without a policy nothing is evicted, but access records are still folded (they would pile up). */
  private async foldOnly(): Promise<null> {
    const { index, folded } = await this.foldAccess();
    if (folded.length === 0) return null;
    await writeBlob(this.deps.blobs, ACCESS_INDEX_KEY, serializeAccessMap(index), { durable: false });
    for (const key of folded) await this.deps.blobs.delete(key);
    return null;
  }

  private async sweepOnce(): Promise<SweepResult> {
    const started = performance.now();
    const { policy, metrics, log, blobs } = this.deps;
    this.addedSinceSweep = 0;
    const { index, folded } = await this.foldAccess();
    const { versions, usedBytes: usedBytesBefore } = await this.inventory();
    const now = Date.now();
    const lastServed = (v: StoredVersion) => Math.max(index.get(accessId(v.lowerId, v.lowerVersion)) ?? 0, v.filledAt);
    const candidates = [...versions.values()]
      .filter((v) => !v.pinned && now - lastServed(v) >= policy.graceMs)
      .sort((a, b) => lastServed(a) - lastServed(b));
    const evicted: Evicted[] = [];
    let used = usedBytesBefore;
    const target = policy.maxBytes !== null && used > policy.maxBytes * QUOTA_HIGH_WATERMARK ? policy.maxBytes * QUOTA_LOW_WATERMARK : Infinity;
    const victims: Array<{ v: StoredVersion; reason: Evicted['reason']; served: number }> = [];
    for (const v of candidates) {
      const served = lastServed(v);
      const unused = policy.evictUnusedMs !== null && now - served > policy.evictUnusedMs;
      const overQuota = used > target;
      // Sorted by last use, and `used` only shrinks: once neither applies, nothing later qualifies.
      if (!unused && !overQuota) break;
      victims.push({ v, reason: unused ? 'unused' : 'quota', served });
      used -= v.bytes;
    }
    // Versions are independent: evict several at once (on object storage each delete is a round trip).
    await forEachLimited(victims, EVICT_CONCURRENCY, async ({ v, reason, served }) => {
      await this.evict(v);
      versions.delete(accessId(v.lowerId, v.lowerVersion));
      index.delete(accessId(v.lowerId, v.lowerVersion));
      evicted.push({ lowerId: v.lowerId, lowerVersion: v.lowerVersion, bytes: v.bytes, reason, lastServedMs: served });
      metrics.evictions.inc({ reason });
      metrics.evictedBytes.inc(v.bytes);
    });
    // The index keeps only versions still held; then the folded deltas can go.
    for (const k of [...index.keys()]) if (!versions.has(k)) index.delete(k);
    await writeBlob(blobs, ACCESS_INDEX_KEY, serializeAccessMap(index), { durable: false });
    for (const key of folded) await blobs.delete(key);
    if (evicted.length > 0) await bumpGeneration(blobs);

    const held = [...versions.values()].filter((v) => v.hasNupkg);
    metrics.storageUsedBytes.set(used);
    metrics.blobsOnDisk.set(held.length);
    metrics.blobBytesOnDisk.set(held.reduce((n, v) => n + v.bytes, 0));
    this.lastUsedBytes = used;
    const result: SweepResult = {
      usedBytesBefore,
      usedBytes: used,
      quotaBytes: policy.maxBytes,
      versions: versions.size,
      pinned: [...versions.values()].filter((v) => v.pinned).length,
      evicted,
      evictedBytes: evicted.reduce((n, e) => n + e.bytes, 0),
      overQuota: policy.maxBytes !== null && used > policy.maxBytes,
      durationMs: performance.now() - started,
    };
    this.last = { ...result, atMs: Date.now() };
    metrics.retentionSweeps.inc({ result: result.overQuota ? 'over_quota' : 'ok' });
    metrics.retentionSweepDuration.observe(result.durationMs / 1000);
    const line = {
      usedBytes: result.usedBytes,
      usedBytesBefore,
      quotaBytes: result.quotaBytes,
      versions: result.versions,
      pinned: result.pinned,
      evicted: evicted.length,
      evictedBytes: result.evictedBytes,
      durationMs: Math.round(result.durationMs),
    };
    if (result.overQuota) log.warn(line, 'retention sweep: still over quota (everything left is pinned or in use)');
    else log.info(line, 'retention sweep');
    return result;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = null;
    this.soon = null;
    await this.running?.catch(() => undefined);
  }
}
