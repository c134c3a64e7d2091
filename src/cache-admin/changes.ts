// The cache commands that change the cache: `cache purge` (by pattern and/or age; the .nupkg of each version
// first, pinned versions kept unless asked), `cache pin` and `cache unpin`. Each bumps the generation stamp
// once when it changed something, so a running proxy drops what it remembers within a second.

import type { BlobStore } from '../storage/blob-store.ts';
import { bumpGeneration } from '../storage/generation.ts';
import { deletePackageVersion } from '../storage/package-versions.ts';
import { pinPackage, unpinPackage } from '../storage/pins.ts';
import { matchesAny, type PackagePattern } from './patterns.ts';
import { describeVersion, selectVersions, type CachedVersion } from './report.ts';

export interface PurgeOptions {
  readonly patterns: readonly PackagePattern[];
  /** Only versions neither served nor filled for this many days; null: any. */
  readonly unusedDays: number | null;
  readonly includePinned: boolean;
  readonly dryRun: boolean;
  readonly nowMs?: number;
}

export interface PurgeResult {
  readonly storage: string;
  readonly dryRun: boolean;
  /** Held versions deleted (or, with dryRun, that would be). */
  readonly purged: readonly CachedVersion[];
  /** Pinned versions that matched and were kept (purge them with includePinned). */
  readonly keptPinned: readonly CachedVersion[];
  /** Leftovers of crashed fills (files without a .nupkg) that matched and were deleted too. */
  readonly incompletePurged: number;
  readonly bytes: number;
}

const DAY_MS = 86_400_000;

export async function purgeVersions(blobs: BlobStore, options: PurgeOptions): Promise<PurgeResult> {
  const now = options.nowMs ?? Date.now();
  const { held, incomplete, served } = await selectVersions(blobs, options.patterns);
  // The rule retention applies for --evict-unused-days: the later of last served and filled.
  const old = (v: { lowerId: string; lowerVersion: string; filledAt: number }) =>
    options.unusedDays === null || now - Math.max(served.get(`${v.lowerId}/${v.lowerVersion}`) ?? 0, v.filledAt) > options.unusedDays * DAY_MS;
  const chosen = held.filter(old);
  const toDelete = chosen.filter((v) => options.includePinned || !v.pinned);
  const leftovers = incomplete.filter((v) => old(v) && (options.includePinned || !v.pinned));
  if (!options.dryRun) {
    for (const v of [...toDelete, ...leftovers]) await deletePackageVersion(blobs, v.lowerId, v.lowerVersion);
    if (toDelete.length + leftovers.length > 0) await bumpGeneration(blobs);
  }
  const purged = toDelete.map((v) => describeVersion(v, served));
  return {
    storage: blobs.description,
    dryRun: options.dryRun,
    purged,
    keptPinned: chosen.filter((v) => !options.includePinned && v.pinned).map((v) => describeVersion(v, served)),
    incompletePurged: leftovers.length,
    bytes: toDelete.reduce((n, v) => n + v.bytes, 0) + leftovers.reduce((n, v) => n + v.bytes, 0),
  };
}

export interface PinResult {
  readonly storage: string;
  /** Versions whose pin this run added (pin) or removed (unpin). */
  readonly changed: readonly CachedVersion[];
  /** Versions that already were (pin) or were not (unpin) pinned. */
  readonly unchanged: readonly CachedVersion[];
  /** Patterns that matched no cached version. */
  readonly unmatched: readonly string[];
}

/** Pins (`pin: true`) or unpins every cached version the patterns match. */
export async function setPins(blobs: BlobStore, patterns: readonly PackagePattern[], pin: boolean, nowMs = Date.now()): Promise<PinResult> {
  const { held, served } = await selectVersions(blobs, patterns);
  const changed: CachedVersion[] = [];
  const unchanged: CachedVersion[] = [];
  for (const v of held) {
    if (v.pinned === pin) {
      unchanged.push(describeVersion(v, served));
      continue;
    }
    if (pin) await pinPackage(blobs, v.lowerId, v.lowerVersion, 'manual', nowMs);
    else await unpinPackage(blobs, v.lowerId, v.lowerVersion);
    const before = describeVersion(v, served);
    const files = pin ? [...before.files, 'pinned' as const].sort() : before.files.filter((f) => f !== 'pinned');
    changed.push({ ...before, pinned: pin, files });
  }
  // The web page shows pins: tell running proxies to look again.
  if (changed.length > 0) await bumpGeneration(blobs);
  const unmatched = patterns.filter((p) => !held.some((v) => matchesAny([p], v.lowerId, v.lowerVersion))).map((p) => p.text);
  return { storage: blobs.description, changed, unchanged, unmatched };
}
