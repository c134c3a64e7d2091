// The cache directory as files, for export and import: which paths belong in a bundle (a whitelist, so
// temp files, the generation stamp and anything unexpected stay out), where a metadata key is stored, what
// a stored entry's header says, and the metadata keys the resources use.

import { createHash } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeLowerVersion, toLowerId } from '../nuget/identity.ts';
import { blobPath, sha512Path } from '../nuget/paths.ts';
import { diskEntryPath } from '../cache/disk-store.ts';

export const PACKAGES_DIR = 'packages';
export const METADATA_DIR = 'metadata';

export type CacheFile =
  | { readonly kind: 'package'; readonly rel: string; readonly lowerId: string; readonly lowerVersion: string; readonly isNupkg: boolean }
  | { readonly kind: 'metadata'; readonly rel: string; readonly hash: string };

/** The files a package version may have in the cache (BlobStore layout, src/nuget/paths.ts). */
export function packageFilePaths(lowerId: string, lowerVersion: string): string[] {
  return [
    blobPath(lowerId, lowerVersion, 'nupkg'),
    sha512Path(lowerId, lowerVersion),
    blobPath(lowerId, lowerVersion, 'nuspec'),
    blobPath(lowerId, lowerVersion, 'icon'),
    blobPath(lowerId, lowerVersion, 'readme'),
  ];
}

/**
 * What a relative cache path is, or null when it is not one export writes or import accepts. Only
 * `packages/{lowerId}/{lowerVersion}/{known file}` and `metadata/{xx}/{sha256}.json`: no `..`, no absolute
 * paths, no backslashes, no other names.
 */
export function classifyCachePath(rel: string): CacheFile | null {
  const parts = rel.split('/');
  if (parts[0] === PACKAGES_DIR && parts.length === 4) {
    const [, lowerId = '', lowerVersion = ''] = parts;
    if (toLowerId(lowerId) !== lowerId || normalizeLowerVersion(lowerVersion) !== lowerVersion) return null;
    if (!packageFilePaths(lowerId, lowerVersion).includes(rel)) return null;
    return { kind: 'package', rel, lowerId, lowerVersion, isNupkg: rel === blobPath(lowerId, lowerVersion, 'nupkg') };
  }
  if (parts[0] === METADATA_DIR && parts.length === 3) {
    const [, shard = '', file = ''] = parts;
    const m = /^([0-9a-f]{64})\.json$/.exec(file);
    if (!m?.[1] || !m[1].startsWith(shard) || shard.length !== 2) return null;
    return { kind: 'metadata', rel, hash: m[1] };
  }
  return null;
}

export function metadataHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Where DiskStore (src/cache/disk-store.ts) keeps the entry for `key`. */
export function metadataPathOfKey(key: string): string {
  return `${METADATA_DIR}/${diskEntryPath(key)}`;
}

async function listDir(abs: string): Promise<string[]> {
  try {
    return (await readdir(abs, { withFileTypes: true })).filter((e) => e.isDirectory() || e.isFile()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Every bundle-worthy file of the cache, sorted (packages, then metadata); anything else is skipped. */
export async function listCacheFiles(cacheDir: string): Promise<{ files: CacheFile[]; skipped: string[] }> {
  const files: CacheFile[] = [];
  const skipped: string[] = [];
  const consider = (rel: string) => {
    const f = classifyCachePath(rel);
    if (f) files.push(f);
    else skipped.push(rel);
  };
  for (const id of await listDir(join(cacheDir, PACKAGES_DIR))) {
    for (const version of await listDir(join(cacheDir, PACKAGES_DIR, id))) {
      for (const name of await listDir(join(cacheDir, PACKAGES_DIR, id, version))) consider(`${PACKAGES_DIR}/${id}/${version}/${name}`);
    }
  }
  for (const shard of await listDir(join(cacheDir, METADATA_DIR))) {
    for (const name of await listDir(join(cacheDir, METADATA_DIR, shard))) consider(`${METADATA_DIR}/${shard}/${name}`);
  }
  return { files, skipped };
}

export interface MetadataHead {
  readonly key: string;
  readonly status: number;
  readonly fetchedAt: number;
}

const MAX_HEAD_BYTES = 16 * 1024 * 1024;

/**
 * The key and entry header of a stored metadata file (line 1: the JSON key; line 2: keyv's header with
 * `value.fetchedAt`, see serializeEntry in src/cache/metadata-store.ts). Reads only those two lines.
 * null when the file does not exist or is not such an entry.
 */
export async function readMetadataHead(absPath: string): Promise<MetadataHead | null> {
  let fh;
  try {
    fh = await open(absPath, 'r');
  } catch {
    return null;
  }
  try {
    let text = Buffer.alloc(0);
    let position = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024 + position, MAX_HEAD_BYTES - position));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, position);
      text = Buffer.concat([text, chunk.subarray(0, bytesRead)]);
      position += bytesRead;
      const first = text.indexOf(0x0a);
      const second = first >= 0 ? text.indexOf(0x0a, first + 1) : -1;
      const complete = second >= 0 || (bytesRead === 0 && first >= 0);
      if (complete) return parseHead(text.subarray(0, first), text.subarray(first + 1, second >= 0 ? second : text.length));
      if (bytesRead === 0 || position >= MAX_HEAD_BYTES) return null;
    }
  } finally {
    await fh.close();
  }
}

function parseHead(keyLine: Buffer, headerLine: Buffer): MetadataHead | null {
  try {
    const key: unknown = JSON.parse(keyLine.toString('utf8'));
    const header = JSON.parse(headerLine.toString('utf8')) as { value?: { status?: unknown; fetchedAt?: unknown } } | null;
    const value = header?.value;
    if (typeof key !== 'string' || typeof value?.fetchedAt !== 'number' || typeof value.status !== 'number') return null;
    return { key, status: value.status, fetchedAt: value.fetchedAt };
  } catch {
    return null;
  }
}

export { isAlwaysExportedKey, registrationKey, versionsKey, vulnerabilityPageKey } from '../resources/keys.ts';
