// What the cache holds, for `cache list` and `cache stats`: package versions with their size, when they were
// filled and last served, pins and the upstream they came from; totals per area of the store. Read-only: safe under a running proxy.

import { compareVersions, parseVersion } from '../nuget/identity.ts';
import { readAccessRecords } from '../retention/access-log.ts';
import { forEachLimited } from '../concurrency.ts';
import { readBlob, type BlobStore } from '../storage/blob-store.ts';
import { METADATA_PREFIX, QUARANTINE_PREFIX, STATE_PREFIX, packageKey, type PackageFile } from '../storage/layout.ts';
import { inventoryPackages, type StoredVersion } from '../storage/package-versions.ts';
import { exactIds, matchesAny, type PackagePattern } from './patterns.ts';

export interface CachedVersion {
  readonly lowerId: string;
  readonly lowerVersion: string;
  /** Bytes of all its files. */
  readonly bytes: number;
  readonly nupkgBytes: number;
  /** When its .nupkg was written (ms since epoch). */
  readonly filledAt: number;
  /** When a proxy last served it, as far as the access records say; null: never recorded. */
  readonly lastServedAt: number | null;
  readonly pinned: boolean;
  /** The upstream it was filled from (its `source` marker); null: unmarked (cached by a version of nuget-proxy before markers). */
  readonly source: string | null;
  readonly files: readonly PackageFile[];
}

/** NuGet order: id, then version precedence. */
export function byIdAndVersion(a: { lowerId: string; lowerVersion: string }, b: { lowerId: string; lowerVersion: string }): number {
  if (a.lowerId !== b.lowerId) return a.lowerId < b.lowerId ? -1 : 1;
  const va = parseVersion(a.lowerVersion);
  const vb = parseVersion(b.lowerVersion);
  return va && vb ? compareVersions(va, vb) : a.lowerVersion.localeCompare(b.lowerVersion);
}

/** Held versions (those with a .nupkg) matching the patterns, with last-served times; and the incomplete ones matching. */
export async function selectVersions(
  blobs: BlobStore,
  patterns: readonly PackagePattern[],
): Promise<{ held: StoredVersion[]; incomplete: StoredVersion[]; served: Map<string, number> }> {
  const [{ versions }, { served }] = await Promise.all([inventoryPackages(blobs, { ids: exactIds(patterns) }), readAccessRecords(blobs)]);
  const held: StoredVersion[] = [];
  const incomplete: StoredVersion[] = [];
  for (const v of versions.values()) {
    if (!matchesAny(patterns, v.lowerId, v.lowerVersion)) continue;
    (v.hasNupkg ? held : incomplete).push(v);
  }
  held.sort(byIdAndVersion);
  incomplete.sort(byIdAndVersion);
  return { held, incomplete, served };
}

export function describeVersion(v: StoredVersion, served: ReadonlyMap<string, number>, source: string | null = null): CachedVersion {
  return {
    lowerId: v.lowerId,
    lowerVersion: v.lowerVersion,
    bytes: v.bytes,
    nupkgBytes: v.nupkgBytes,
    filledAt: v.filledAt,
    lastServedAt: served.get(`${v.lowerId}/${v.lowerVersion}`) ?? null,
    pinned: v.pinned,
    source,
    files: [...v.files].sort(),
  };
}

/** Source markers are a few bytes each; read several at once (on object storage each is a round trip). */
const SOURCE_READS = 16;

export async function listVersions(blobs: BlobStore, patterns: readonly PackagePattern[]): Promise<CachedVersion[]> {
  const { held, served } = await selectVersions(blobs, patterns);
  const sources = new Map<StoredVersion, string>();
  await forEachLimited(
    held.filter((v) => v.files.has('source')),
    SOURCE_READS,
    async (v) => {
      const marker = (await readBlob(blobs, packageKey(v.lowerId, v.lowerVersion, 'source'), 1024))?.toString('utf8').trim();
      if (marker) sources.set(v, marker);
    },
  );
  return held.map((v) => describeVersion(v, served, sources.get(v) ?? null));
}

export interface AreaTotals {
  readonly objects: number;
  readonly bytes: number;
}

export interface CacheStats {
  /** Where the blobs are (a directory, or s3://bucket/prefix/). */
  readonly storage: string;
  /** Package ids with at least one held version. */
  readonly packages: number;
  /** Held versions (with a .nupkg). */
  readonly versions: number;
  readonly pinnedVersions: number;
  /** Versions with files but no .nupkg (a fill that crashed; retention removes them). */
  readonly incompleteVersions: number;
  /** Held versions neither served nor filled for 30 / 90 days (what --evict-unused-days would evict). */
  readonly unusedVersions: { readonly days30: number; readonly days90: number };
  /** Everything under packages/. */
  readonly packageBytes: number;
  readonly nupkgBytes: number;
  readonly metadata: AreaTotals;
  readonly state: AreaTotals;
  readonly quarantine: AreaTotals;
  /** What retention counts against --max-cache-size: packages and metadata. */
  readonly quotaBytes: number;
  readonly totalBytes: number;
  /** The ten package ids with the most bytes. */
  readonly largest: ReadonlyArray<{ readonly lowerId: string; readonly versions: number; readonly bytes: number }>;
}

async function totalsOf(blobs: BlobStore, prefix: string): Promise<AreaTotals> {
  let objects = 0;
  let bytes = 0;
  for await (const o of blobs.list(prefix)) {
    objects++;
    bytes += o.size;
  }
  return { objects, bytes };
}

const DAY_MS = 86_400_000;

export async function cacheStats(blobs: BlobStore, nowMs = Date.now()): Promise<CacheStats> {
  const [{ versions, bytes: packageBytes }, { served }, metadata, state, quarantine] = await Promise.all([
    inventoryPackages(blobs),
    readAccessRecords(blobs),
    totalsOf(blobs, METADATA_PREFIX),
    totalsOf(blobs, STATE_PREFIX),
    totalsOf(blobs, QUARANTINE_PREFIX),
  ]);
  const perId = new Map<string, { versions: number; bytes: number }>();
  let held = 0;
  let pinned = 0;
  let incomplete = 0;
  let nupkgBytes = 0;
  let unused30 = 0;
  let unused90 = 0;
  for (const v of versions.values()) {
    const id = perId.get(v.lowerId) ?? { versions: 0, bytes: 0 };
    id.bytes += v.bytes;
    perId.set(v.lowerId, id);
    if (!v.hasNupkg) {
      incomplete++;
      continue;
    }
    held++;
    id.versions++;
    nupkgBytes += v.nupkgBytes;
    if (v.pinned) pinned++;
    // The rule retention applies: the later of last served and filled.
    const idle = nowMs - Math.max(served.get(`${v.lowerId}/${v.lowerVersion}`) ?? 0, v.filledAt);
    if (idle > 30 * DAY_MS) unused30++;
    if (idle > 90 * DAY_MS) unused90++;
  }
  const largest = [...perId.entries()]
    .filter(([, t]) => t.versions > 0)
    .sort((a, b) => b[1].bytes - a[1].bytes || (a[0] < b[0] ? -1 : 1))
    .slice(0, 10)
    .map(([lowerId, t]) => ({ lowerId, versions: t.versions, bytes: t.bytes }));
  return {
    storage: blobs.description,
    packages: [...perId.values()].filter((t) => t.versions > 0).length,
    versions: held,
    pinnedVersions: pinned,
    incompleteVersions: incomplete,
    unusedVersions: { days30: unused30, days90: unused90 },
    packageBytes,
    nupkgBytes,
    metadata,
    state,
    quarantine,
    quotaBytes: packageBytes + metadata.bytes,
    totalBytes: packageBytes + metadata.bytes + state.bytes + quarantine.bytes,
    largest,
  };
}
