// The catalog of cached packages the web page browses: every package version in the blob store with its
// size, files and last-served time, built from ONE listing of packages/ and kept in memory. Fills and
// evictions update it one version at a time; a changed generation stamp (an import, a purge) or age
// rebuilds it in the background while the previous catalog keeps answering.

import type { Logger } from '../logger.ts';
import { compareVersions, isPrerelease, parseVersion, type NuGetVersion } from '../nuget/identity.ts';
import { readAccessIndex, parseAccessObject, accessId } from '../retention/access-log.ts';
import type { HeldChange } from './local-packages.ts';
import { readBlob, type BlobStore } from '../storage/blob-store.ts';
import { ACCESS_INDEX_KEY, ACCESS_PREFIX, PACKAGES_PREFIX, classifyKey, isAccessDeltaKey, packageDirPrefix, type PackageFile } from '../storage/layout.ts';

export interface CatalogVersion {
  readonly lowerVersion: string;
  readonly version: NuGetVersion;
  /** Bytes of all its files in the store. */
  readonly bytes: number;
  readonly nupkgBytes: number;
  /** When its .nupkg was written (ms since epoch). */
  readonly filledAtMs: number;
  readonly files: ReadonlySet<PackageFile>;
  readonly pinned: boolean;
}

export interface CatalogPackage {
  readonly lowerId: string;
  /** Held versions (those with a .nupkg), ascending by NuGet precedence. */
  readonly versions: readonly CatalogVersion[];
  /** Bytes of every file under the id, held versions or not. */
  readonly bytes: number;
}

export type CatalogSort = 'id' | 'size' | 'served' | 'versions';
export const CATALOG_SORTS: readonly CatalogSort[] = ['id', 'size', 'served', 'versions'];

export interface CatalogQuery {
  /** Whitespace-separated terms; every one must occur in the id (case-insensitive). */
  readonly q: string;
  readonly sort: CatalogSort;
  /** 1-based. */
  readonly page: number;
  readonly pageSize: number;
}

export interface CatalogPage {
  /** Packages that match, over all pages. */
  readonly total: number;
  readonly packages: readonly CatalogPackage[];
}

export interface CatalogTotals {
  readonly packages: number;
  readonly versions: number;
  /** Bytes under packages/ (held versions and partial ones). */
  readonly bytes: number;
  readonly builtAtMs: number | null;
  readonly building: boolean;
}

export interface CatalogDeps {
  readonly blobs: BlobStore;
  readonly log: Logger;
  /** A catalog older than this is rebuilt (in the background) on the next read: other replicas' fills. */
  readonly maxAgeMs?: number;
  /** Last-served records of other processes are re-read at most this often. */
  readonly servedRefreshMs?: number;
  readonly now?: () => number;
}

interface MutableVersion {
  lowerVersion: string;
  version: NuGetVersion;
  bytes: number;
  nupkgBytes: number;
  filledAtMs: number;
  files: Set<PackageFile>;
  pinned: boolean;
}

interface Snapshot {
  /** lowerId → package; only ids with at least one held version. */
  readonly packages: Map<string, CatalogPackage>;
  /** Bytes under ids with no held version (partial fills, leftovers). */
  readonly orphanBytes: number;
  readonly builtAtMs: number;
}

/** Versions with a .nupkg, sorted. */
function heldVersions(versions: Iterable<MutableVersion>): CatalogVersion[] {
  return [...versions].filter((v) => v.files.has('nupkg')).sort((a, b) => compareVersions(a.version, b.version));
}

function addFile(v: MutableVersion, file: PackageFile, size: number, lastModifiedMs: number): void {
  v.files.add(file);
  v.bytes += size;
  if (file === 'nupkg') {
    v.nupkgBytes = size;
    v.filledAtMs = lastModifiedMs;
  }
  if (file === 'pinned') v.pinned = true;
}

/** The newest stable held version, else the newest held version. */
export function defaultVersion(p: CatalogPackage): CatalogVersion | undefined {
  for (let i = p.versions.length - 1; i >= 0; i--) {
    const v = p.versions[i] as CatalogVersion;
    if (!isPrerelease(v.version)) return v;
  }
  return p.versions[p.versions.length - 1];
}

/**
 * When each version was last served: the folded index, the deltas not yet folded (retention may be off),
 * and this process's own touches as they happen.
 */
class ServedTimes {
  private readonly times = new Map<string, number>();
  private readonly byId = new Map<string, number>();
  private readonly seenDeltas = new Set<string>();
  private indexEtag: string | null = null;
  private lastRefresh = 0;
  private refreshing: Promise<void> | null = null;
  /** Bumped whenever a time moves: the "last served" order is memoized for one value. */
  revision = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: Logger,
    private readonly refreshMs: number,
    private readonly now: () => number,
  ) {}

  note(lowerId: string, lowerVersion: string, atMs: number): void {
    const key = accessId(lowerId, lowerVersion);
    if ((this.times.get(key) ?? 0) < atMs) this.times.set(key, atMs);
    if ((this.byId.get(lowerId) ?? 0) < atMs) {
      this.byId.set(lowerId, atMs);
      this.revision++;
    }
  }

  of(lowerId: string, lowerVersion: string): number | null {
    return this.times.get(accessId(lowerId, lowerVersion)) ?? null;
  }

  ofId(lowerId: string): number | null {
    return this.byId.get(lowerId) ?? null;
  }

  private merge(map: Map<string, number>): void {
    for (const [key, at] of map) {
      const slash = key.indexOf('/');
      if (slash > 0) this.note(key.slice(0, slash), key.slice(slash + 1), at);
    }
  }

  /** Re-reads what other processes recorded, at most every refreshMs; concurrent callers share one read. */
  refresh(force = false): Promise<void> {
    if (!force && this.now() - this.lastRefresh < this.refreshMs) return this.refreshing ?? Promise.resolve();
    this.lastRefresh = this.now();
    this.refreshing ??= (async () => {
      try {
        const stat = await this.blobs.stat(ACCESS_INDEX_KEY);
        if (stat && stat.etag !== this.indexEtag) {
          this.merge(await readAccessIndex(this.blobs));
          this.indexEtag = stat.etag;
        }
        const present = new Set<string>();
        for await (const o of this.blobs.list(ACCESS_PREFIX)) {
          if (!isAccessDeltaKey(o.key)) continue;
          present.add(o.key);
          if (this.seenDeltas.has(o.key)) continue;
          // Deltas are never rewritten: each is read once.
          this.merge(parseAccessObject(await readBlob(this.blobs, o.key, 16 * 1024 * 1024)));
          this.seenDeltas.add(o.key);
        }
        // Folded deltas are deleted; forget them so the set stays as small as the listing.
        for (const k of this.seenDeltas) if (!present.has(k)) this.seenDeltas.delete(k);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'web catalog: cannot read last-served records');
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }
}

export class PackageCatalog {
  private snapshot: Snapshot | null = null;
  private building: Promise<void> | null = null;
  /** Changes that arrived while a rebuild was listing the store, replayed on the new snapshot. */
  private changesDuringBuild: HeldChange[] | null = null;
  private stale = false;
  /** Bumped on every change: memoized sort orders are valid for one value. */
  private revision = 0;
  private sorted: { revision: string; sort: CatalogSort; list: CatalogPackage[] } | null = null;
  private readonly served: ServedTimes;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  /** Versions listed so far by a build in progress (for "still reading the store" notices). */
  private progress = 0;

  constructor(private readonly deps: CatalogDeps) {
    this.now = deps.now ?? Date.now;
    this.maxAgeMs = deps.maxAgeMs ?? 10 * 60_000;
    this.served = new ServedTimes(deps.blobs, deps.log, deps.servedRefreshMs ?? 60_000, this.now);
  }

  /** A version was served now (called on every .nupkg hit; O(1)). */
  noteServed(lowerId: string, lowerVersion: string): void {
    this.served.note(lowerId, lowerVersion, this.now());
  }

  /** The store changed: a fill committed, retention evicted, or another process bumped the generation. */
  noteChange(change: HeldChange): void {
    if (this.building && this.changesDuringBuild) this.changesDuringBuild.push(change);
    if (change.kind === 'invalidated') {
      this.stale = true;
      return;
    }
    if (!this.snapshot) return;
    if (change.kind === 'removed') this.removeVersion(this.snapshot, change.lowerId, change.lowerVersion);
    else void this.refreshVersion(change.lowerId, change.lowerVersion);
  }

  private removeVersion(s: Snapshot, lowerId: string, lowerVersion: string): void {
    const p = s.packages.get(lowerId);
    if (!p) return;
    const gone = p.versions.find((v) => v.lowerVersion === lowerVersion);
    if (!gone) return;
    const versions = p.versions.filter((v) => v !== gone);
    if (versions.length === 0) s.packages.delete(lowerId);
    else s.packages.set(lowerId, { lowerId, versions, bytes: p.bytes - gone.bytes });
    this.revision++;
  }

  /** Re-lists one version's files (a small listing) and puts the result in the catalog. */
  private async refreshVersion(lowerId: string, lowerVersion: string): Promise<void> {
    const version = parseVersion(lowerVersion);
    if (!version) return;
    const v: MutableVersion = { lowerVersion, version, bytes: 0, nupkgBytes: 0, filledAtMs: 0, files: new Set(), pinned: false };
    try {
      for await (const o of this.deps.blobs.list(packageDirPrefix(lowerId, lowerVersion))) {
        const c = classifyKey(o.key);
        if (c?.kind === 'package') addFile(v, c.file, o.size, o.lastModifiedMs);
      }
    } catch (err) {
      this.deps.log.warn({ lowerId, lowerVersion, err: (err as Error).message }, 'web catalog: cannot list a package version');
      return;
    }
    const s = this.snapshot;
    if (!s) return;
    const p = s.packages.get(lowerId);
    const others = (p?.versions ?? []).filter((x) => x.lowerVersion !== lowerVersion);
    const before = p?.versions.find((x) => x.lowerVersion === lowerVersion);
    const versions = v.files.has('nupkg') ? heldVersions([...others.map(toMutable), v]) : others;
    const bytes = (p?.bytes ?? 0) - (before?.bytes ?? 0) + v.bytes;
    if (versions.length === 0) s.packages.delete(lowerId);
    else s.packages.set(lowerId, { lowerId, versions, bytes });
    this.revision++;
  }

  /** Lists the whole store once and swaps the result in. Concurrent callers share one build. */
  private rebuild(): Promise<void> {
    this.building ??= (async () => {
      const started = performance.now();
      this.changesDuringBuild = [];
      this.stale = false;
      this.progress = 0;
      try {
        const byId = new Map<string, Map<string, MutableVersion>>();
        const bytesById = new Map<string, number>();
        for await (const o of this.deps.blobs.list(PACKAGES_PREFIX)) {
          const c = classifyKey(o.key);
          if (c?.kind !== 'package') continue;
          bytesById.set(c.lowerId, (bytesById.get(c.lowerId) ?? 0) + o.size);
          let versions = byId.get(c.lowerId);
          if (!versions) byId.set(c.lowerId, (versions = new Map()));
          let v = versions.get(c.lowerVersion);
          if (!v) {
            const version = parseVersion(c.lowerVersion);
            if (!version) continue;
            v = { lowerVersion: c.lowerVersion, version, bytes: 0, nupkgBytes: 0, filledAtMs: 0, files: new Set(), pinned: false };
            versions.set(c.lowerVersion, v);
            this.progress++;
          }
          addFile(v, c.file, o.size, o.lastModifiedMs);
        }
        const packages = new Map<string, CatalogPackage>();
        let orphanBytes = 0;
        for (const [lowerId, versions] of byId) {
          const held = heldVersions(versions.values());
          const bytes = bytesById.get(lowerId) ?? 0;
          if (held.length > 0) packages.set(lowerId, { lowerId, versions: held, bytes });
          else orphanBytes += bytes;
        }
        await this.served.refresh(true);
        this.snapshot = { packages, orphanBytes, builtAtMs: this.now() };
        this.revision++;
        const replay = this.changesDuringBuild ?? [];
        this.changesDuringBuild = null;
        for (const change of replay) this.noteChange(change);
        this.deps.log.info({ packages: packages.size, versions: this.progress, durationMs: Math.round(performance.now() - started) }, 'web catalog built');
      } catch (err) {
        this.stale = true;
        this.deps.log.warn({ err: (err as Error).message }, 'web catalog: cannot list the store');
      } finally {
        this.changesDuringBuild = null;
        this.building = null;
      }
    })();
    return this.building;
  }

  /**
   * Makes sure a catalog exists (waiting at most `waitMs` for the first build) and starts a background
   * rebuild when it is stale or old. true when a catalog is there to read.
   */
  async ready(waitMs: number): Promise<boolean> {
    const s = this.snapshot;
    if (!s || this.stale || this.now() - s.builtAtMs > this.maxAgeMs) {
      const build = this.rebuild();
      if (!s) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([build, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
        clearTimeout(timer);
      }
    }
    void this.served.refresh();
    return this.snapshot !== null;
  }

  totals(): CatalogTotals {
    const s = this.snapshot;
    let versions = 0;
    let bytes = s?.orphanBytes ?? 0;
    for (const p of s?.packages.values() ?? []) {
      versions += p.versions.length;
      bytes += p.bytes;
    }
    return { packages: s?.packages.size ?? 0, versions: s ? versions : this.progress, bytes, builtAtMs: s?.builtAtMs ?? null, building: this.building !== null };
  }

  lastServed(lowerId: string, lowerVersion?: string): number | null {
    return lowerVersion === undefined ? this.served.ofId(lowerId) : this.served.of(lowerId, lowerVersion);
  }

  get(lowerId: string): CatalogPackage | null {
    return this.snapshot?.packages.get(lowerId) ?? null;
  }

  private sortedBy(sort: CatalogSort): CatalogPackage[] {
    const revision = sort === 'served' ? `${this.revision}:${this.served.revision}` : String(this.revision);
    if (this.sorted?.revision === revision && this.sorted.sort === sort) return this.sorted.list;
    const list = [...(this.snapshot?.packages.values() ?? [])];
    const byId = (a: CatalogPackage, b: CatalogPackage) => (a.lowerId < b.lowerId ? -1 : a.lowerId > b.lowerId ? 1 : 0);
    switch (sort) {
      case 'id':
        list.sort(byId);
        break;
      case 'size':
        list.sort((a, b) => b.bytes - a.bytes || byId(a, b));
        break;
      case 'versions':
        list.sort((a, b) => b.versions.length - a.versions.length || byId(a, b));
        break;
      case 'served': {
        const at = new Map(list.map((p) => [p.lowerId, this.served.ofId(p.lowerId) ?? 0]));
        list.sort((a, b) => (at.get(b.lowerId) ?? 0) - (at.get(a.lowerId) ?? 0) || byId(a, b));
        break;
      }
    }
    this.sorted = { revision, sort, list };
    return list;
  }

  query(query: CatalogQuery): CatalogPage {
    const terms = query.q.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
    const all = this.sortedBy(query.sort);
    const matches = terms.length === 0 ? all : all.filter((p) => terms.every((t) => p.lowerId.includes(t)));
    const start = (query.page - 1) * query.pageSize;
    return { total: matches.length, packages: matches.slice(start, start + query.pageSize) };
  }
}

function toMutable(v: CatalogVersion): MutableVersion {
  return { ...v, files: new Set(v.files) };
}
