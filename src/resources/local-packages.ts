// What the disk cache holds: the versions of a package whose .nupkg the proxy can serve, their parsed
// nuspecs, and a search index over them (offline search, and the fallback when upstream search fails).

import type { BlobStore } from '../cache/blob-store.ts';
import { LruCache } from '../cache/lru.ts';
import type { Logger } from '../logger.ts';
import { compareVersions, parseVersion, type NuGetVersion } from '../nuget/identity.ts';
import { parseNuspec, type Nuspec } from '../nuget/nuspec.ts';
import { blobPath } from '../nuget/paths.ts';
import { readNupkgManifest } from '../nupkg.ts';

export interface HeldVersion {
  readonly lowerVersion: string;
  readonly version: NuGetVersion;
}

export class LocalPackages {
  private readonly nuspecs = new LruCache<Nuspec>(32 * 1024 * 1024, (n) => n.description.length * 2 + 2048);
  /** lowerId → held versions, built lazily and kept current by noteFilled(). */
  private readonly versions = new Map<string, HeldVersion[]>();
  private allIdsScanned = false;

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: Logger,
  ) {}

  private async scanId(lowerId: string): Promise<HeldVersion[]> {
    const held: HeldVersion[] = [];
    for (const lowerVersion of await this.blobs.list(`packages/${lowerId}`)) {
      const version = parseVersion(lowerVersion);
      if (!version) continue;
      if (await this.blobs.exists(blobPath(lowerId, lowerVersion, 'nupkg'))) held.push({ lowerVersion, version });
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

  /** Every package id with at least one held version. */
  async allIds(): Promise<string[]> {
    if (!this.allIdsScanned) {
      for (const lowerId of await this.blobs.list('packages')) {
        if (!this.versions.has(lowerId)) {
          const held = await this.scanId(lowerId);
          if (held.length > 0) this.versions.set(lowerId, held);
        }
      }
      this.allIdsScanned = true;
    }
    return [...this.versions.keys()].sort();
  }

  /** A new .nupkg was committed: keep the in-memory view current. */
  noteFilled(lowerId: string, lowerVersion: string): void {
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

  /** Forgets what it knows (after an import changed the disk underneath). */
  invalidate(): void {
    this.versions.clear();
    this.allIdsScanned = false;
  }

  /** The parsed nuspec of a held package (from the extracted .nuspec, else out of the .nupkg). */
  async nuspec(lowerId: string, lowerVersion: string): Promise<Nuspec | null> {
    const key = `${lowerId}/${lowerVersion}`;
    const hit = this.nuspecs.get(key);
    if (hit) return hit;
    try {
      const xml = await this.blobs.read(blobPath(lowerId, lowerVersion, 'nuspec'));
      let n: Nuspec;
      if (xml) n = parseNuspec(xml.toString('utf8'));
      else if (await this.blobs.exists(blobPath(lowerId, lowerVersion, 'nupkg')))
        n = (await readNupkgManifest(this.blobs.resolve(blobPath(lowerId, lowerVersion, 'nupkg')))).nuspec;
      else return null;
      this.nuspecs.set(key, n);
      return n;
    } catch (err) {
      this.log.warn({ lowerId, lowerVersion, err: (err as Error).message }, 'cannot read cached nuspec');
      return null;
    }
  }

  /** Number of held .nupkg files and their bytes (for the disk gauges). */
  async totals(): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    for (const lowerId of await this.blobs.list('packages')) {
      for (const lowerVersion of await this.blobs.list(`packages/${lowerId}`)) {
        const s = await this.blobs.stat(blobPath(lowerId, lowerVersion, 'nupkg')).catch(() => null);
        if (s) {
          count++;
          bytes += s.size;
        }
      }
    }
    return { count, bytes };
  }
}
