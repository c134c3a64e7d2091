// Package versions as the blob store holds them — one listing of packages/ grouped by version — and the one
// way a version leaves the store: its .nupkg first, so it stops being "held" (version lists, offline
// registration, search) before its other files go. Retention, `cache purge` and `cache verify --quarantine`
// all remove versions through deletePackageVersion; whoever removes some then bumps the generation stamp
// once, so running proxies drop what they remember of them.

import type { BlobStore } from './blob-store.ts';
import { PACKAGES_PREFIX, classifyKey, packageDirPrefix, packageKey, packageKeys, type PackageFile } from './layout.ts';

export interface StoredVersion {
  readonly lowerId: string;
  readonly lowerVersion: string;
  /** Bytes of all its files. */
  readonly bytes: number;
  /** Bytes of its .nupkg; 0 without one. */
  readonly nupkgBytes: number;
  /** When its .nupkg was written; without one, when its newest file was. */
  readonly filledAt: number;
  /** Has a .nupkg: the proxy serves it. Without one the files are what a crashed fill left. */
  readonly hasNupkg: boolean;
  /** Retention never evicts it. */
  readonly pinned: boolean;
  readonly files: ReadonlySet<PackageFile>;
  /** Its keys as listed. */
  readonly keys: readonly string[];
}

export interface PackageInventory {
  /** Keyed `{lowerId}/{lowerVersion}`, in key order. */
  readonly versions: Map<string, StoredVersion>;
  /** Bytes of every object under packages/ (including names that are no package file). */
  readonly bytes: number;
  /** Objects under packages/ that are no package file of the layout (left by hand, or by another tool). */
  readonly strayKeys: readonly string[];
}

interface Building {
  lowerId: string;
  lowerVersion: string;
  bytes: number;
  nupkgBytes: number;
  filledAt: number;
  hasNupkg: boolean;
  pinned: boolean;
  files: Set<PackageFile>;
  keys: string[];
}

/** Lists packages/ (or only the given ids' folders) once and groups the files by version. */
export async function inventoryPackages(blobs: BlobStore, options: { ids?: readonly string[] | null } = {}): Promise<PackageInventory> {
  const versions = new Map<string, Building>();
  const strayKeys: string[] = [];
  let bytes = 0;
  const prefixes = options.ids ? options.ids.map((id) => packageDirPrefix(id)) : [PACKAGES_PREFIX];
  for (const prefix of prefixes) {
    for await (const o of blobs.list(prefix)) {
      bytes += o.size;
      const c = classifyKey(o.key);
      if (c?.kind !== 'package') {
        strayKeys.push(o.key);
        continue;
      }
      const id = `${c.lowerId}/${c.lowerVersion}`;
      let v = versions.get(id);
      if (!v) {
        v = { lowerId: c.lowerId, lowerVersion: c.lowerVersion, bytes: 0, nupkgBytes: 0, filledAt: 0, hasNupkg: false, pinned: false, files: new Set(), keys: [] };
        versions.set(id, v);
      }
      v.bytes += o.size;
      v.keys.push(o.key);
      v.files.add(c.file);
      if (c.file === 'pinned') v.pinned = true;
      if (c.file === 'nupkg') {
        v.hasNupkg = true;
        v.nupkgBytes = o.size;
        v.filledAt = o.lastModifiedMs;
      } else if (!v.hasNupkg) {
        v.filledAt = Math.max(v.filledAt, o.lastModifiedMs);
      }
    }
  }
  return { versions, bytes, strayKeys };
}

/**
 * Deletes a version's files, the .nupkg first. `keys`: the ones a listing found (saves deletes of files that
 * are not there); by default every file the layout allows a version.
 */
export async function deletePackageVersion(blobs: BlobStore, lowerId: string, lowerVersion: string, keys: readonly string[] = packageKeys(lowerId, lowerVersion)): Promise<void> {
  const nupkg = packageKey(lowerId, lowerVersion, 'nupkg');
  for (const key of [...keys.filter((k) => k === nupkg), ...keys.filter((k) => k !== nupkg)]) await blobs.delete(key);
}
