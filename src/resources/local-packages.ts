// What the blob store holds: the versions of a package whose .nupkg the proxy can serve, their parsed
// nuspecs, and a search index over them (offline search, and the fallback when upstream search fails).

import { LruCache } from '../cache/lru.ts';
import type { Logger } from '../logger.ts';
import { compareVersions, parseVersion, type NuGetVersion } from '../nuget/identity.ts';
import { parseNuspec, type Nuspec } from '../nuget/nuspec.ts';
import { readNupkgManifest } from '../nupkg.ts';
import { readBlob, type BlobStore } from '../storage/blob-store.ts';
import { PACKAGES_PREFIX, packageDirPrefix, packageKey } from '../storage/layout.ts';

export interface HeldVersion {
  readonly lowerVersion: string;
  readonly version: NuGetVersion;
}

/** A change this view was told about; other in-memory views (the web catalog) follow it through watch(). */
export type HeldChange =
  | { readonly kind: 'filled' | 'removed'; readonly lowerId: string; readonly lowerVersion: string }
  | { readonly kind: 'invalidated' };

export class LocalPackages {
  private readonly watchers: Array<(change: HeldChange) => void> = [];
  private readonly nuspecs = new LruCache<Nuspec>(32 * 1024 * 1024, (n) => n.description.length * 2 + 2048);
  /** lowerId/lowerVersion → the upstream its files came from ('' when unmarked). */
  private readonly sources = new LruCache<string>(4 * 1024 * 1024, (s) => s.length + 96);
  /** lowerId → held versions, built lazily and kept current by noteFilled(). */
  private readonly versions = new Map<string, HeldVersion[]>();
  private allIdsScanned = false;

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: Logger,
  ) {}

  private async scanId(lowerId: string): Promise<HeldVersion[]> {
    const held: HeldVersion[] = [];
    for await (const lowerVersion of this.blobs.listChildren(packageDirPrefix(lowerId))) {
      const version = parseVersion(lowerVersion);
      if (!version) continue;
      if (await this.blobs.stat(packageKey(lowerId, lowerVersion, 'nupkg'))) held.push({ lowerVersion, version });
    }
    return held.sort((a, b) => compareVersions(a.version, b.version));
  }

  /** Versions of `lowerId` the proxy can serve, ascending by NuGet precedence. */
  async heldVersions(lowerId: string): Promise<HeldVersion[]> {
    const known = this.versions.get(lowerId);
    if (known) return known;
    const held = await this.scanId(lowerId);
    if (held.length > 0) this.versions.set(lowerId, held);
    return held;
  }

  /** The upstream a held version came from (its `source` marker); null when unmarked (cached before markers). */
  async source(lowerId: string, lowerVersion: string): Promise<string | null> {
    const key = `${lowerId}/${lowerVersion}`;
    let s = this.sources.get(key);
    if (s === undefined) {
      s = (await readBlob(this.blobs, packageKey(lowerId, lowerVersion, 'source'), 1024))?.toString('utf8').trim() ?? '';
      this.sources.set(key, s);
    }
    return s === '' ? null : s;
  }

  /**
   * The source marker of a held version if it was read already (null: unmarked); undefined when not known
   * yet — then it is read in the background, for the next ask (the web page is synchronous).
   */
  knownSource(lowerId: string, lowerVersion: string): string | null | undefined {
    const s = this.sources.get(`${lowerId}/${lowerVersion}`);
    if (s === undefined) {
      void this.source(lowerId, lowerVersion).catch(() => undefined);
      return undefined;
    }
    return s === '' ? null : s;
  }

  /** A fill wrote (or rewrote) the source marker. */
  noteSource(lowerId: string, lowerVersion: string, source: string): void {
    this.sources.set(`${lowerId}/${lowerVersion}`, source);
  }

  /** Held versions whose source passes `accept` (the upstreams the id routes to now). */
  async heldVersionsFrom(lowerId: string, accept: (source: string | null) => boolean): Promise<HeldVersion[]> {
    const out: HeldVersion[] = [];
    for (const h of await this.heldVersions(lowerId)) if (accept(await this.source(lowerId, h.lowerVersion))) out.push(h);
    return out;
  }

  /** Every package id with at least one held version. */
  async allIds(): Promise<string[]> {
    if (!this.allIdsScanned) {
      for await (const lowerId of this.blobs.listChildren(PACKAGES_PREFIX)) {
        if (!this.versions.has(lowerId)) {
          const held = await this.scanId(lowerId);
          if (held.length > 0) this.versions.set(lowerId, held);
        }
      }
      this.allIdsScanned = true;
    }
    return [...this.versions.keys()].sort();
  }

  /** Calls `watcher` for every fill, removal and invalidation this view is told of. */
  watch(watcher: (change: HeldChange) => void): void {
    this.watchers.push(watcher);
  }

  private tell(change: HeldChange): void {
    for (const w of this.watchers) w(change);
  }

  /** A new .nupkg was committed: keep the in-memory view current. */
  noteFilled(lowerId: string, lowerVersion: string): void {
    this.tell({ kind: 'filled', lowerId, lowerVersion });
    const list = this.versions.get(lowerId);
    if (!list) {
      if (this.allIdsScanned) void this.heldVersions(lowerId);
      return;
    }
    if (list.some((h) => h.lowerVersion === lowerVersion)) return;
    const version = parseVersion(lowerVersion);
    if (!version) return;
    list.push({ lowerVersion, version });
    list.sort((a, b) => compareVersions(a.version, b.version));
  }

  /** A package version left the cache (retention, purge). */
  noteRemoved(lowerId: string, lowerVersion: string): void {
    this.tell({ kind: 'removed', lowerId, lowerVersion });
    const list = this.versions.get(lowerId);
    if (!list) return;
    const rest = list.filter((h) => h.lowerVersion !== lowerVersion);
    if (rest.length > 0) this.versions.set(lowerId, rest);
    else this.versions.delete(lowerId);
    this.nuspecs.delete(`${lowerId}/${lowerVersion}`);
    this.sources.delete(`${lowerId}/${lowerVersion}`);
  }

  /** Forgets what it knows (after an import changed the store underneath). */
  invalidate(): void {
    this.tell({ kind: 'invalidated' });
    this.versions.clear();
    this.sources.clear();
    this.nuspecs.clear();
    this.allIdsScanned = false;
  }

  /** The parsed nuspec of a held package (from the extracted .nuspec, else out of the .nupkg). */
  async nuspec(lowerId: string, lowerVersion: string): Promise<Nuspec | null> {
    const key = `${lowerId}/${lowerVersion}`;
    const hit = this.nuspecs.get(key);
    if (hit) return hit;
    try {
      const xml = await readBlob(this.blobs, packageKey(lowerId, lowerVersion, 'nuspec'), 16 * 1024 * 1024);
      let n: Nuspec;
      if (xml) n = parseNuspec(xml.toString('utf8'));
      else {
        const key = packageKey(lowerId, lowerVersion, 'nupkg');
        const stat = await this.blobs.stat(key);
        if (!stat) return null;
        n = (await readNupkgManifest({ blobs: this.blobs, key, size: stat.size })).nuspec;
      }
      this.nuspecs.set(key, n);
      return n;
    } catch (err) {
      this.log.warn({ lowerId, lowerVersion, err: (err as Error).message }, 'cannot read cached nuspec');
      return null;
    }
  }

  /** Number of held .nupkg files and their bytes (for the storage gauges). */
  async totals(): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    for await (const o of this.blobs.list(PACKAGES_PREFIX)) {
      if (o.key.endsWith('.nupkg')) {
        count++;
        bytes += o.size;
      }
    }
    return { count, bytes };
  }
}
