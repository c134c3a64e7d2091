// The bundle format, pure: a POSIX tar (optionally gzip-compressed) whose first entry is a header naming the
// format and its version, then cache objects under their blob keys (packages/…, metadata/…: the layout of
// src/storage/layout.ts), then a manifest listing every file with its size and SHA-512, then the manifest's
// own SHA-512. Import trusts nothing until every entry matches the manifest and the manifest matches its
// checksum.

import { createHash } from 'node:crypto';
import { classifyKey, type CacheKey } from '../storage/layout.ts';

export const BUNDLE_FORMAT = 'nuget-proxy-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const CONTROL_DIR = 'nuget-proxy-bundle';
export const HEADER_PATH = `${CONTROL_DIR}/header.json`;
export const MANIFEST_PATH = `${CONTROL_DIR}/manifest.json`;
export const MANIFEST_SHA512_PATH = `${CONTROL_DIR}/manifest.json.sha512`;

export interface BundleHeader {
  readonly format: typeof BUNDLE_FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly createdBy: string;
  /** Whether the bundle holds a prefetch selection (true) or the whole cache (false). */
  readonly selection: boolean;
}

export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  /** Lower-case hex, as `sha512sum` prints it. */
  readonly sha512: string;
}

export interface Manifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly formatVersion: number;
  readonly files: readonly ManifestFile[];
  readonly totalBytes: number;
}

export class BundleFormatError extends Error {}

/** A package file or metadata entry a bundle carries. */
export type BundleEntry = CacheKey;

/**
 * What a bundle entry path is, or null when bundles do not carry it (a whitelist: export writes only these,
 * import accepts only these). Package files and metadata entries, but not pins: whether a package is pinned
 * is decided where it is imported (import pins everything it brings), and leaving them out keeps bundles
 * exactly as earlier versions write and read them.
 */
export function bundleEntryOf(path: string): BundleEntry | null {
  const k = classifyKey(path);
  if (!k || (k.kind === 'package' && k.file === 'pinned')) return null;
  return k;
}

export function sha512Hex(data: Buffer | string): string {
  return createHash('sha512').update(data).digest('hex');
}

export function makeHeader(selection: boolean, createdBy: string, now = new Date()): BundleHeader {
  return { format: BUNDLE_FORMAT, formatVersion: BUNDLE_FORMAT_VERSION, createdAt: now.toISOString(), createdBy, selection };
}

export function makeManifest(files: readonly ManifestFile[]): Manifest {
  return { format: BUNDLE_FORMAT, formatVersion: BUNDLE_FORMAT_VERSION, files, totalBytes: files.reduce((n, f) => n + f.size, 0) };
}

function parseJsonObject(data: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new BundleFormatError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new BundleFormatError(`${what} is not a JSON object`);
  return doc as Record<string, unknown>;
}

function checkFormat(o: Record<string, unknown>, what: string): number {
  if (o['format'] !== BUNDLE_FORMAT) throw new BundleFormatError(`${what}: not a ${BUNDLE_FORMAT}`);
  const v = o['formatVersion'];
  if (v !== BUNDLE_FORMAT_VERSION)
    throw new BundleFormatError(`${what}: bundle format version ${String(v)} is not supported (this nuget-proxy reads version ${BUNDLE_FORMAT_VERSION})`);
  return v;
}

export function parseHeader(data: Buffer): BundleHeader {
  const o = parseJsonObject(data, 'bundle header');
  const formatVersion = checkFormat(o, 'bundle header');
  return {
    format: BUNDLE_FORMAT,
    formatVersion,
    createdAt: typeof o['createdAt'] === 'string' ? o['createdAt'] : '',
    createdBy: typeof o['createdBy'] === 'string' ? o['createdBy'] : '',
    selection: o['selection'] === true,
  };
}

export function parseManifest(data: Buffer): Manifest {
  const o = parseJsonObject(data, 'bundle manifest');
  const formatVersion = checkFormat(o, 'bundle manifest');
  if (!Array.isArray(o['files'])) throw new BundleFormatError('bundle manifest has no files list');
  const files: ManifestFile[] = [];
  for (const f of o['files'] as unknown[]) {
    const e = f as Record<string, unknown> | null;
    const path = e?.['path'];
    const size = e?.['size'];
    const sha512 = e?.['sha512'];
    if (typeof path !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || typeof sha512 !== 'string' || !/^[0-9a-f]{128}$/.test(sha512))
      throw new BundleFormatError(`bundle manifest has an invalid entry: ${JSON.stringify(f).slice(0, 200)}`);
    files.push({ path, size, sha512 });
  }
  return { format: BUNDLE_FORMAT, formatVersion, files, totalBytes: files.reduce((n, f) => n + f.size, 0) };
}

/**
 * Compares what was extracted with the manifest: the same set of paths, each with the listed size and
 * SHA-512. Returns every mismatch (empty: the bundle is intact).
 */
export function compareWithManifest(manifest: Manifest, extracted: ReadonlyMap<string, { size: number; sha512: string }>): string[] {
  const problems: string[] = [];
  const listed = new Set<string>();
  for (const f of manifest.files) {
    if (listed.has(f.path)) problems.push(`${f.path} is listed twice in the manifest`);
    listed.add(f.path);
    const got = extracted.get(f.path);
    if (!got) problems.push(`${f.path} is listed in the manifest but missing from the bundle`);
    else if (got.size !== f.size) problems.push(`${f.path} has ${got.size} bytes, the manifest says ${f.size}`);
    else if (got.sha512 !== f.sha512) problems.push(`${f.path} does not match its SHA-512 checksum`);
  }
  for (const path of extracted.keys()) if (!listed.has(path)) problems.push(`${path} is in the bundle but not in its manifest`);
  return problems;
}
