// `nuget-proxy import <bundle>`: verify a bundle, then merge it into the cache through the BlobStore (any
// backend). The bundle streams into a local staging directory (LocalTemp) and every checksum is verified
// before anything becomes visible. Then: package files are added, never replaced (the .nupkg of each version
// last, so a visible .nupkg has its .sha512 and .nuspec); metadata entries replace only older ones; every
// imported package version is pinned (retention never evicts what crossed the air gap).

import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Config } from '../config.ts';
import { errorMessage } from '../errors.ts';
import { readBlob, writeBlobFrom, type BlobStat, type BlobStore } from '../storage/blob-store.ts';
import { readMetadataHead, readStoredMetadataHead, type MetadataHead } from '../storage/blob-keyv-store.ts';
import { bumpGeneration } from '../storage/generation.ts';
import { metadataHash, packageKey } from '../storage/layout.ts';
import { LocalTemp } from '../storage/local-temp.ts';
import { pinPackage } from '../storage/pins.ts';
import { Progress, formatBytes, formatDuration } from '../cli/progress.ts';
import { ToolError, terminalOf, withBlobStore, type ToolDeps } from '../cli/tool.ts';
import {
  BundleFormatError,
  HEADER_PATH,
  MANIFEST_PATH,
  MANIFEST_SHA512_PATH,
  bundleEntryOf,
  compareWithManifest,
  parseHeader,
  parseManifest,
  sha512Hex,
  type BundleEntry,
} from './bundle-format.ts';
import { TarError, TarReader } from './tar.ts';
import { forEachLimited } from '../concurrency.ts';

const CHUNK_BYTES = 1024 * 1024;
const MAX_CONTROL_BYTES = 512 * 1024 * 1024;
/** Objects are independent: a few in flight keep the disk (or the object store) busy. */
const MERGE_CONCURRENCY = 8;

export interface ImportConflict {
  readonly path: string;
  readonly reason: string;
}

export interface ImportResult {
  readonly bundle: string;
  readonly files: number;
  readonly bytes: number;
  /** Package versions whose .nupkg this import added. */
  readonly packagesAdded: number;
  /** Package files already present with the same bytes. */
  readonly packageFilesUnchanged: number;
  /** Package versions of the bundle that are now pinned (added, or already held with the same bytes). */
  readonly packagesPinned: number;
  readonly metadataAdded: number;
  readonly metadataReplaced: number;
  /** Metadata entries kept because the cache's copy is as new or newer. */
  readonly metadataKept: number;
  readonly conflicts: readonly ImportConflict[];
  readonly durationMs: number;
}

/** An extracted entry: where it is in the staging directory, and what it hashed to. */
interface Staged {
  readonly file: string;
  readonly size: number;
  readonly sha512: string;
}

type PackageEntry = Extract<BundleEntry, { kind: 'package' }>;

function refused(reason: string): ToolError {
  return new ToolError(`bundle refused: ${reason}; the cache was not changed`);
}

async function readAll(body: AsyncIterable<Buffer>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > limit) throw refused(`${what} is larger than ${formatBytes(limit)}`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * Streams the tar into `staging` (one file per entry, named by its position: no path taken from the bundle
 * touches the filesystem); returns what each entry hashed to, after checking the manifest.
 */
async function extractAndVerify(source: AsyncIterable<Buffer>, staging: string, onEntry: () => void): Promise<Map<string, Staged>> {
  const reader = new TarReader(source);
  const first = await reader.next();
  if (!first || first.path !== HEADER_PATH) throw refused(`not a nuget-proxy bundle (the first entry is not ${HEADER_PATH})`);
  const headerBytes = await readAll(reader.body(), 1024 * 1024, 'the bundle header');
  parseHeader(headerBytes);
  const staged = new Map<string, Staged>([[HEADER_PATH, { file: '', size: headerBytes.length, sha512: sha512Hex(headerBytes) }]]);
  let manifestBytes: Buffer | null = null;
  let manifestChecksum: string | null = null;
  for (let entry = await reader.next(); entry; entry = await reader.next()) {
    if (manifestChecksum !== null) throw refused(`entry ${entry.path} follows the manifest checksum`);
    if (entry.path === MANIFEST_PATH) {
      if (manifestBytes) throw refused('the bundle has two manifests');
      manifestBytes = await readAll(reader.body(), MAX_CONTROL_BYTES, 'the manifest');
      continue;
    }
    if (entry.path === MANIFEST_SHA512_PATH) {
      if (!manifestBytes) throw refused('the manifest checksum comes before the manifest');
      manifestChecksum = (await readAll(reader.body(), 1024, 'the manifest checksum')).toString('utf8').trim();
      continue;
    }
    if (manifestBytes) throw refused(`entry ${entry.path} follows the manifest`);
    if (!bundleEntryOf(entry.path)) throw refused(`entry '${entry.path.slice(0, 200)}' is not a cache file path (unsafe or unknown path)`);
    if (staged.has(entry.path)) throw refused(`entry ${entry.path} appears twice`);
    const file = join(staging, String(staged.size));
    const hash = createHash('sha512');
    let size = 0;
    const fh = await open(file, 'wx');
    try {
      for await (const c of reader.body(CHUNK_BYTES)) {
        hash.update(c);
        size += c.length;
        for (let off = 0; off < c.length; ) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
    staged.set(entry.path, { file, size, sha512: hash.digest('hex') });
    onEntry();
  }
  await reader.drain();
  if (!manifestBytes || manifestChecksum === null) throw refused('it has no manifest or no manifest checksum (truncated or not a complete bundle)');
  if (sha512Hex(manifestBytes) !== manifestChecksum) throw refused('the manifest does not match its SHA-512 checksum (corrupted)');
  const problems = compareWithManifest(parseManifest(manifestBytes), staged);
  if (problems.length > 0) throw refused(`${problems.length} checksum problem(s): ${problems.slice(0, 5).join('; ')}`);
  staged.delete(HEADER_PATH);
  return staged;
}

/** Checks staged entries for consistency the manifest cannot show: metadata keys, .nupkg.sha512 files. */
async function checkStagedContent(staged: ReadonlyMap<string, Staged>): Promise<Map<string, MetadataHead>> {
  const heads = new Map<string, MetadataHead>();
  for (const [key, s] of staged) {
    const e = bundleEntryOf(key);
    if (e?.kind === 'metadata') {
      const head = await readMetadataHead(createReadStream(s.file));
      if (!head) throw refused(`${key} is not a metadata entry`);
      if (metadataHash(head.key) !== e.hash) throw refused(`${key} holds key ${JSON.stringify(head.key).slice(0, 100)}, which is stored elsewhere`);
      heads.set(key, head);
    } else if (e?.kind === 'package' && e.file === 'nupkg') {
      const shaKey = packageKey(e.lowerId, e.lowerVersion, 'sha512');
      const sha = staged.get(shaKey);
      if (!sha) continue;
      if ((await readFile(sha.file, 'utf8')).trim() !== Buffer.from(s.sha512, 'hex').toString('base64')) throw refused(`${shaKey} does not describe the package beside it`);
    }
  }
  return heads;
}

function readStaged(s: Staged): ReadStream {
  return createReadStream(s.file, { highWaterMark: CHUNK_BYTES });
}

async function hashStored(blobs: BlobStore, key: string): Promise<string | null> {
  const stream = await blobs.openRead(key);
  if (!stream) return null;
  const hash = createHash('sha512');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Whether the held .nupkg has the bundled bytes. A matching .sha512 says so without reading the package (fills
 * and imports write the two from one verified download: on object storage this spares a download per package);
 * otherwise the bytes are hashed.
 */
async function holdsSamePackage(blobs: BlobStore, e: PackageEntry, held: BlobStat, bundled: Staged): Promise<boolean> {
  if (held.size !== bundled.size) return false;
  const recorded = await readBlob(blobs, packageKey(e.lowerId, e.lowerVersion, 'sha512'), 4096).catch(() => null);
  if (recorded?.toString('utf8').trim() === Buffer.from(bundled.sha512, 'hex').toString('base64')) return true;
  return (await hashStored(blobs, e.key)) === bundled.sha512;
}


interface MergeCounts {
  packagesAdded: number;
  packageFilesUnchanged: number;
  packagesPinned: number;
  metadataAdded: number;
  metadataReplaced: number;
  metadataKept: number;
  conflicts: ImportConflict[];
}

async function mergePackages(blobs: BlobStore, staged: ReadonlyMap<string, Staged>, counts: MergeCounts, pinnedAt: number): Promise<void> {
  const versions = new Map<string, PackageEntry[]>();
  for (const key of staged.keys()) {
    const e = bundleEntryOf(key);
    if (e?.kind !== 'package') continue;
    const v = `${e.lowerId}/${e.lowerVersion}`;
    versions.set(v, [...(versions.get(v) ?? []), e]);
  }
  await forEachLimited([...versions.values()], MERGE_CONCURRENCY, async (files) => {
    const first = files[0];
    if (!first) return;
    const { lowerId, lowerVersion } = first;
    const nupkg = files.find((f) => f.file === 'nupkg');
    const bundled = nupkg ? staged.get(nupkg.key) : undefined;
    const held = nupkg ? await blobs.stat(nupkg.key) : null;
    if (nupkg && held && bundled && !(await holdsSamePackage(blobs, nupkg, held, bundled))) {
      counts.conflicts.push({ path: nupkg.key, reason: 'the cache holds different bytes for this package; kept the cached one and skipped the bundled files of this version' });
      return;
    }
    const place = async (e: PackageEntry) => {
      const s = staged.get(e.key);
      if (!s) return;
      // ifAbsent keeps whatever is there; the stat first spares sending bytes that would be discarded.
      const created = !(await blobs.stat(e.key)) && (await writeBlobFrom(blobs, e.key, readStaged(s), { ifAbsent: true })).created;
      if (created) {
        if (e.file === 'nupkg') counts.packagesAdded++;
      } else if ((e.file === 'nupkg' && held) || (await hashStored(blobs, e.key)) === s.sha512) {
        counts.packageFilesUnchanged++;
      } else if (e.file === 'sha512' && !held && bundled) {
        // A .sha512 without its .nupkg (a fill that crashed) describes nothing: the imported package's wins.
        await writeBlobFrom(blobs, e.key, readStaged(s));
      } else {
        counts.conflicts.push({ path: e.key, reason: 'the cache holds different bytes; kept the cached file' });
      }
    };
    for (const e of files) if (e.file !== 'nupkg') await place(e);
    if (!nupkg) return;
    // Pinned before its .nupkg is visible: retention never sees an imported package unpinned.
    await pinPackage(blobs, lowerId, lowerVersion, 'import', pinnedAt);
    counts.packagesPinned++;
    await place(nupkg);
  });
}

async function mergeMetadata(blobs: BlobStore, staged: ReadonlyMap<string, Staged>, heads: ReadonlyMap<string, MetadataHead>, counts: MergeCounts): Promise<void> {
  await forEachLimited([...heads], MERGE_CONCURRENCY, async ([key, head]) => {
    const s = staged.get(key);
    if (!s) return;
    const existing = await readStoredMetadataHead(blobs, key);
    if (existing && existing.fetchedAt >= head.fetchedAt) {
      counts.metadataKept++;
      return;
    }
    // Durable (unlike the proxy's own metadata writes): across an air gap there is no upstream to ask again.
    await writeBlobFrom(blobs, key, readStaged(s));
    if (existing) counts.metadataReplaced++;
    else counts.metadataAdded++;
  });
}

async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Extracts and verifies `bundlePath` into `staging`; every failure to read it is a refusal. */
async function stage(bundlePath: string, size: number, staging: string, progress: Progress): Promise<Map<string, Staged>> {
  const gzip = await isGzipFile(bundlePath);
  const input: ReadStream = createReadStream(bundlePath, { highWaterMark: CHUNK_BYTES });
  const onEntry = () => progress.update({ done: input.bytesRead, total: size, bytes: input.bytesRead });
  const result: { staged: Map<string, Staged> | null } = { staged: null };
  let extracting: Promise<void> | null = null;
  try {
    const consume = (source: AsyncIterable<Buffer>): Promise<void> => {
      extracting = extractAndVerify(source, staging, onEntry).then((staged) => {
        result.staged = staged;
      });
      return extracting;
    };
    if (gzip) await pipeline(input, createGunzip(), consume);
    else await pipeline(input, consume);
  } catch (err) {
    // pipeline() rejects as soon as gunzip fails, while the extraction may still be writing its current
    // entry: let it stop first, so the caller's removal of the staging directory finds nothing new in it.
    await (extracting as Promise<void> | null)?.catch(() => undefined);
    if (err instanceof ToolError) throw err;
    if (err instanceof TarError || err instanceof BundleFormatError) throw refused(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR') throw refused(`the gzip stream is damaged or truncated (${errorMessage(err)})`);
    throw err;
  }
  if (result.staged === null) throw refused('the bundle could not be read');
  return result.staged;
}

/** `nuget-proxy import <bundle>`: verify everything, then merge into the cache. */
export async function importBundle(config: Config, bundlePath: string, deps: ToolDeps): Promise<ImportResult> {
  const started = performance.now();
  const size = await stat(bundlePath).then(
    (s) => s.size,
    (err: unknown) => {
      throw new ToolError(`cannot read bundle ${bundlePath}: ${errorMessage(err)}`, 2);
    },
  );
  return withBlobStore(config, deps, async (blobs) => {
    const progress = new Progress({ terminal: terminalOf(deps), label: 'import', unit: 'bytes' });
    progress.note(`verifying ${bundlePath} (${formatBytes(size)})`);
    const temp = new LocalTemp(config.cacheDir);
    const staging = await temp.stagingDir();
    const counts: MergeCounts = { packagesAdded: 0, packageFilesUnchanged: 0, packagesPinned: 0, metadataAdded: 0, metadataReplaced: 0, metadataKept: 0, conflicts: [] };
    try {
      const staged = await stage(bundlePath, size, staging, progress);
      progress.update({ done: size, total: size, bytes: size });
      const heads = await checkStagedContent(staged);
      progress.note(`verified ${staged.size} files against the manifest; merging into ${blobs.description}`);
      // Packages before metadata: a version list never names a version whose files are still to come.
      await mergePackages(blobs, staged, counts, Date.now());
      await mergeMetadata(blobs, staged, heads, counts);
      await bumpGeneration(blobs);
      for (const c of counts.conflicts) deps.log.warn({ path: c.path }, 'import conflict: kept the cached file');
      return {
        bundle: bundlePath,
        files: staged.size,
        bytes: [...staged.values()].reduce((n, s) => n + s.size, 0),
        ...counts,
        durationMs: performance.now() - started,
      };
    } finally {
      progress.finish();
      await temp.remove(staging);
    }
  });
}

export function formatImportSummary(r: ImportResult): string {
  const seconds = r.durationMs / 1000;
  const lines = [
    'import summary',
    `  bundle:      ${r.bundle}: ${r.files} files, ${formatBytes(r.bytes)}, every checksum verified`,
    `  packages:    ${r.packagesAdded} added, ${r.packageFilesUnchanged} files already present, ${r.packagesPinned} pinned`,
    `  metadata:    ${r.metadataAdded} added, ${r.metadataReplaced} replaced by newer, ${r.metadataKept} kept (cache as new or newer)`,
    `  time:        ${formatDuration(r.durationMs)}${seconds > 0 ? ` (${formatBytes(r.bytes / seconds)}/s)` : ''}`,
    `  conflicts:   ${r.conflicts.length}`,
  ];
  for (const c of r.conflicts) lines.push(`    ${c.path}: ${c.reason}`);
  return lines.join('\n');
}
