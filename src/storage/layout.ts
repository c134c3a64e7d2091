// The cache layout, in one place: which blob keys exist (packages/, metadata/, state/) and which local
// paths the proxy uses beside them (tmp/ for spooled downloads and import staging, locks/ for fill leases
// on a shared directory). No other module builds a cache key or a cache path; a test greps for that.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { normalizeLowerVersion, toLowerId } from '../nuget/identity.ts';
import type { FlatFile } from '../nuget/paths.ts';

export const PACKAGES_PREFIX = 'packages/';
export const METADATA_PREFIX = 'metadata/';
export const STATE_PREFIX = 'state/';
/** Written by tools that change the cache under a running proxy (import, prefetch, purge). */
export const GENERATION_KEY = 'state/generation';
/** The local directory names under --cache-dir that are not blob keys. */
export const LOCAL_TEMP_DIR = 'tmp';
export const LOCAL_LOCKS_DIR = 'locks';
/** Import staging directories in tmp/ start with this; start-up keeps young ones (a live import). */
export const IMPORT_STAGING_PREFIX = 'import-';

/**
 * The files one package version may have. `pinned` marks it exempt from retention. `source` names the
 * upstream the files came from: a package version is immutable by id and version, yet two upstreams may
 * hold different bytes under one id and version (dependency confusion). The cache keeps one copy per id
 * and version — the global-packages layout, which retention, bundles and clients' expectations rely on —
 * and this marker decides whether it may be served: only while the id still routes to that upstream.
 * A copy from an upstream the id no longer routes to is replaced by the routed upstream's on demand.
 */
export type PackageFile = FlatFile | 'sha512' | 'pinned' | 'source';
export const PACKAGE_FILES: readonly PackageFile[] = ['nupkg', 'sha512', 'nuspec', 'icon', 'readme', 'pinned', 'source'];

export function packageDirPrefix(lowerId: string, lowerVersion?: string): string {
  return lowerVersion === undefined ? `${PACKAGES_PREFIX}${lowerId}/` : `${PACKAGES_PREFIX}${lowerId}/${lowerVersion}/`;
}

/** Where a package's files live (the global-packages folder layout, so a cache directory reads like one). */
export function packageKey(lowerId: string, lowerVersion: string, file: PackageFile): string {
  const dir = packageDirPrefix(lowerId, lowerVersion);
  switch (file) {
    case 'nupkg':
      return `${dir}${lowerId}.${lowerVersion}.nupkg`;
    case 'sha512':
      return `${dir}${lowerId}.${lowerVersion}.nupkg.sha512`;
    case 'nuspec':
      return `${dir}${lowerId}.nuspec`;
    case 'icon':
    case 'readme':
    case 'pinned':
    case 'source':
      return `${dir}${file}`;
  }
}

/** Every key a package version may have, the .nupkg last (it is committed last, and deleted first). */
export function packageKeys(lowerId: string, lowerVersion: string): string[] {
  return (['source', 'sha512', 'nuspec', 'icon', 'readme', 'pinned', 'nupkg'] as const).map((f) => packageKey(lowerId, lowerVersion, f));
}

export function metadataHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Where the persistent metadata tier keeps the entry for a metadata key: `metadata/{xx}/{sha256}.json`. */
export function metadataKey(key: string): string {
  const h = metadataHash(key);
  return `${METADATA_PREFIX}${h.slice(0, 2)}/${h}.json`;
}

/**
 * Last-access records for retention: every instance writes what it served as small delta objects (never
 * overwritten, so replicas never lose each other's updates); a sweep folds them into the index object.
 */
export const ACCESS_PREFIX = `${STATE_PREFIX}access/`;
export const ACCESS_INDEX_KEY = `${ACCESS_PREFIX}index.json`;
export function accessDeltaKey(atMs: number, unique: string): string {
  return `${ACCESS_PREFIX}delta-${String(atMs).padStart(15, '0')}-${unique.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60)}.json`;
}
export function isAccessDeltaKey(key: string): boolean {
  return key.startsWith(`${ACCESS_PREFIX}delta-`) && key.endsWith('.json') && !key.slice(ACCESS_PREFIX.length).includes('/');
}

/** The object the readiness probe writes and deletes. */
export function readinessProbeKey(instance: string): string {
  return `${STATE_PREFIX}ready/${instance.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120)}`;
}

export type CacheKey =
  | { readonly kind: 'package'; readonly key: string; readonly lowerId: string; readonly lowerVersion: string; readonly file: PackageFile }
  | { readonly kind: 'metadata'; readonly key: string; readonly hash: string };

/**
 * What a key is, or null when it is not a package file or metadata entry (a whitelist: bundles carry only
 * these, and import accepts only these). No `..`, no absolute paths, no other names.
 */
export function classifyKey(key: string): CacheKey | null {
  const parts = key.split('/');
  if (parts[0] === 'packages' && parts.length === 4) {
    const [, lowerId = '', lowerVersion = ''] = parts;
    if (toLowerId(lowerId) !== lowerId || normalizeLowerVersion(lowerVersion) !== lowerVersion) return null;
    for (const file of PACKAGE_FILES) {
      if (packageKey(lowerId, lowerVersion, file) === key) return { kind: 'package', key, lowerId, lowerVersion, file };
    }
    return null;
  }
  if (parts[0] === 'metadata' && parts.length === 3) {
    const [, shard = '', name = ''] = parts;
    const m = /^([0-9a-f]{64})\.json$/.exec(name);
    if (!m?.[1] || shard.length !== 2 || !m[1].startsWith(shard)) return null;
    return { kind: 'metadata', key, hash: m[1] };
  }
  return null;
}

/** Local scratch under --cache-dir: spooled downloads, import staging (same filesystem as a disk store). */
export function localTempDir(cacheDir: string): string {
  return join(cacheDir, LOCAL_TEMP_DIR);
}

/** Lock files for fills coordinated through a shared directory (no Redis). */
export function localLocksDir(cacheDir: string): string {
  return join(cacheDir, LOCAL_LOCKS_DIR);
}

/**
 * The lock file that coordinates the fill of blob `key` between processes sharing this cache directory,
 * and the guard file a process holds while it breaks a stale lock (fill-coordinator.ts). Named by a hash:
 * keys are long and nested, lock files live flat in one directory.
 */
export function fillLockPaths(cacheDir: string, key: string): { readonly lock: string; readonly breakGuard: string } {
  const lock = join(localLocksDir(cacheDir), `fill-${createHash('sha256').update(key).digest('hex').slice(0, 40)}.lock`);
  return { lock, breakGuard: `${lock}.break` };
}
