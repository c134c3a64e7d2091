// `nuget-proxy export` and `import`: carry the cache across an air gap as one bundle file. Both stream
// (one file at a time, in chunks): memory does not grow with the bundle. Import extracts into a staging
// directory inside the cache, verifies every checksum, and only then merges: an existing package file is
// never replaced, a metadata entry only by a newer one.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { link, mkdir, mkdtemp, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Config } from '../config.ts';
import { bumpGeneration } from '../cache/generation.ts';
import { errorMessage } from '../errors.ts';
import { blobPath, sha512Path } from '../nuget/paths.ts';
import {
  BundleFormatError,
  HEADER_PATH,
  MANIFEST_PATH,
  MANIFEST_SHA512_PATH,
  compareWithManifest,
  makeHeader,
  makeManifest,
  parseHeader,
  parseManifest,
  sha512Hex,
  type ManifestFile,
} from './bundle-format.ts';
import {
  classifyCachePath,
  isAlwaysExportedKey,
  listCacheFiles,
  metadataHash,
  metadataPathOfKey,
  packageFilePaths,
  readMetadataHead,
  type CacheFile,
  type MetadataHead,
} from '../tools/cache-files.ts';
import { Progress, formatBytes, formatDuration } from '../cli/progress.ts';
import { readSelection, SelectionError, type Selection } from '../prefetch/selection.ts';
import { TarError, TarReader, TarWriter, type ByteSink } from './tar.ts';
import { ToolError, terminalOf, type ToolDeps } from '../cli/tool.ts';

const CHUNK_BYTES = 1024 * 1024;
const MAX_CONTROL_BYTES = 512 * 1024 * 1024;
const CREATED_BY = 'nuget-proxy 0.1.0';

function isGzipName(path: string): boolean {
  return /\.(gz|tgz)$/i.test(path);
}

// ---------------------------------------------------------------------------------------------- export

export interface ExportResult {
  readonly output: string;
  readonly files: number;
  readonly packages: number;
  readonly metadataEntries: number;
  /** Bytes of cache files bundled (before compression). */
  readonly bytes: number;
  /** Size of the bundle file. */
  readonly bundleBytes: number;
  readonly compressed: boolean;
  readonly durationMs: number;
  /** Files in packages/ or metadata/ that are not cache entries (temp files …) and were left out. */
  readonly skipped: readonly string[];
}

/** A sink writing to a file (through gzip when asked), honouring backpressure. */
function fileSink(path: string, gzip: boolean): { sink: ByteSink; close: () => Promise<void>; abort: () => void } {
  const file = createWriteStream(path, { flags: 'wx' });
  const gz = gzip ? createGzip({ level: 6 }) : null;
  const head: Writable = gz ?? file;
  const done = gz ? pipeline(gz, file) : once(file, 'finish').then(() => undefined);
  done.catch(() => undefined);
  let failure: unknown = null;
  head.on('error', (err) => (failure = err));
  return {
    sink: {
      async write(chunk: Buffer) {
        if (failure) throw failure;
        if (!head.write(chunk)) await Promise.race([once(head, 'drain'), done.then(() => undefined)]);
        if (failure) throw failure;
      },
    },
    async close() {
      head.end();
      await done;
      const fh = await open(path, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    abort() {
      head.destroy();
      file.destroy();
    },
  };
}

/** Reads a file in chunks while hashing it; the digest is available once the iteration has ended. */
async function* hashing(stream: Readable, hash: ReturnType<typeof createHash>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    hash.update(b);
    onBytes(b.length);
    yield b;
  }
}

async function selectedFiles(cacheDir: string, selectionPath: string, all: readonly CacheFile[]): Promise<CacheFile[]> {
  let selection: Selection;
  try {
    selection = await readSelection(selectionPath);
  } catch (err) {
    throw new ToolError(err instanceof SelectionError ? err.message : `cannot read selection ${selectionPath}: ${errorMessage(err)}`, 2);
  }
  const present = new Map(all.map((f) => [f.rel, f]));
  const out = new Map<string, CacheFile>();
  const missing: string[] = [];
  for (const p of selection.packages) {
    const nupkg = blobPath(p.lowerId, p.lowerVersion, 'nupkg');
    if (!present.has(nupkg)) missing.push(`package ${p.lowerId} ${p.lowerVersion}`);
    for (const rel of packageFilePaths(p.lowerId, p.lowerVersion)) {
      const f = present.get(rel);
      if (f) out.set(rel, f);
    }
  }
  for (const key of selection.metadataKeys) {
    const f = present.get(metadataPathOfKey(key));
    if (f) out.set(f.rel, f);
    else missing.push(`metadata ${key}`);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 20).join(', ');
    throw new ToolError(`the cache does not hold everything the selection lists (run prefetch again?): ${shown}${missing.length > 20 ? `, … (${missing.length} in all)` : ''}`);
  }
  // The service index, vulnerability data and signatures go with every bundle.
  for (const f of all) {
    if (f.kind !== 'metadata' || out.has(f.rel)) continue;
    const head = await readMetadataHead(join(cacheDir, f.rel));
    if (head && isAlwaysExportedKey(head.key)) out.set(f.rel, f);
  }
  return [...out.values()].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** `nuget-proxy export`: the cache (or `--selection`) into the bundle file `--output`. */
export async function exportBundle(config: Config, deps: ToolDeps): Promise<ExportResult> {
  const started = performance.now();
  const output = config.output;
  if (!output) throw new ToolError('export needs --output <bundle file>', 2);
  const listing = await listCacheFiles(config.cacheDir);
  const files = config.selection ? await selectedFiles(config.cacheDir, config.selection, listing.files) : listing.files;
  if (files.length === 0) throw new ToolError(`${config.cacheDir} holds no packages or metadata to export`);
  const progress = new Progress({ terminal: terminalOf(deps), label: 'export', unit: 'bytes' });
  const sizes = await Promise.all(files.map((f) => stat(join(config.cacheDir, f.rel)).then((s) => s.size, () => 0)));
  const total = sizes.reduce((a, b) => a + b, 0);
  progress.note(`${files.length} files (${formatBytes(total)}) from ${config.cacheDir}${config.selection ? ` selected by ${config.selection}` : ''}`);
  progress.update({ done: 0, total });

  await mkdir(dirname(output), { recursive: true });
  const partial = `${output}.${randomBytes(6).toString('hex')}.partial`;
  const gzip = isGzipName(output);
  const out = fileSink(partial, gzip);
  const writer = new TarWriter(out.sink);
  const manifest: ManifestFile[] = [];
  let written = 0;
  const vanished: string[] = [];
  const invalid: string[] = [];
  try {
    const header = Buffer.from(`${JSON.stringify(makeHeader(config.selection !== null, CREATED_BY))}\n`);
    await writer.addBuffer(HEADER_PATH, header);
    manifest.push({ path: HEADER_PATH, size: header.length, sha512: sha512Hex(header) });
    const nupkgHashes = new Map<string, string>();
    for (const f of files) {
      // Check what import will check, so a damaged cache entry is found here, not across the air gap.
      if (f.kind === 'metadata') {
        const head = await readMetadataHead(join(config.cacheDir, f.rel));
        if (!head || metadataHash(head.key) !== f.hash) {
          invalid.push(f.rel);
          continue;
        }
      } else if (f.rel === sha512Path(f.lowerId, f.lowerVersion)) {
        const nupkgHash = nupkgHashes.get(blobPath(f.lowerId, f.lowerVersion, 'nupkg'));
        const recorded = (await readFile(join(config.cacheDir, f.rel), 'utf8').catch(() => '')).trim();
        if (nupkgHash !== undefined && recorded !== Buffer.from(nupkgHash, 'hex').toString('base64'))
          throw new ToolError(`${f.rel} does not match the package beside it: the cache entry is damaged; delete packages/${f.lowerId}/${f.lowerVersion} and prefetch it again`);
      }
      // Open first, then size the open file: a metadata entry replaced meanwhile (rename) stays consistent.
      const fh = await open(join(config.cacheDir, f.rel), 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (!fh) {
        vanished.push(f.rel);
        continue;
      }
      try {
        const s = await fh.stat();
        const hash = createHash('sha512');
        const stream = fh.createReadStream({ highWaterMark: CHUNK_BYTES, autoClose: false });
        await writer.addFile(
          f.rel,
          s.size,
          s.mtimeMs,
          hashing(stream, hash, (n) => {
            written += n;
            progress.update({ done: written, bytes: written });
          }),
        );
        const digest = hash.digest('hex');
        if (f.kind === 'package' && f.isNupkg) nupkgHashes.set(f.rel, digest);
        manifest.push({ path: f.rel, size: s.size, sha512: digest });
      } finally {
        await fh.close();
      }
    }
    const manifestBytes = Buffer.from(`${JSON.stringify(makeManifest(manifest))}\n`);
    await writer.addBuffer(MANIFEST_PATH, manifestBytes);
    await writer.addBuffer(MANIFEST_SHA512_PATH, Buffer.from(`${sha512Hex(manifestBytes)}\n`));
    await writer.finish();
    await out.close();
    await rename(partial, output);
  } catch (err) {
    out.abort();
    await rm(partial, { force: true });
    throw err;
  } finally {
    progress.finish();
  }
  if (invalid.length > 0) deps.log.warn({ files: invalid.slice(0, 20), count: invalid.length }, 'metadata files that are not valid entries; left out');
  if (vanished.length > 0) deps.log.warn({ files: vanished.slice(0, 20), count: vanished.length }, 'files disappeared from the cache during export; left out');
  const bundled = manifest.filter((m) => m.path !== HEADER_PATH);
  return {
    output,
    files: bundled.length,
    packages: bundled.filter((m) => classifyCachePath(m.path)?.kind === 'package' && m.path.endsWith('.nupkg')).length,
    metadataEntries: bundled.filter((m) => classifyCachePath(m.path)?.kind === 'metadata').length,
    bytes: written,
    bundleBytes: (await stat(output)).size,
    compressed: gzip,
    durationMs: performance.now() - started,
    skipped: [...listing.skipped, ...invalid],
  };
}

export function formatExportSummary(r: ExportResult): string {
  const seconds = r.durationMs / 1000;
  return [
    'export summary',
    `  bundle:      ${r.output} (${formatBytes(r.bundleBytes)}${r.compressed ? ', gzip' : ''})`,
    `  contents:    ${r.packages} packages, ${r.metadataEntries} metadata entries, ${r.files} files, ${formatBytes(r.bytes)}`,
    `  time:        ${formatDuration(r.durationMs)}${seconds > 0 ? ` (${formatBytes(r.bytes / seconds)}/s)` : ''}`,
    ...(r.skipped.length > 0 ? [`  left out:    ${r.skipped.length} files that are not cache entries (e.g. ${r.skipped[0] ?? ''})`] : []),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------- import

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
  readonly metadataAdded: number;
  readonly metadataReplaced: number;
  /** Metadata entries kept because the cache's copy is as new or newer. */
  readonly metadataKept: number;
  readonly conflicts: readonly ImportConflict[];
  readonly durationMs: number;
}

interface Staged {
  readonly size: number;
  readonly sha512: string;
}

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

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Streams the tar into `staging`; returns what each entry hashed to, after checking the manifest. */
async function extractAndVerify(source: AsyncIterable<Buffer>, staging: string, onEntry: () => void): Promise<Map<string, Staged>> {
  const reader = new TarReader(source);
  const first = await reader.next();
  if (!first || first.path !== HEADER_PATH) throw refused(`not a nuget-proxy bundle (the first entry is not ${HEADER_PATH})`);
  const headerBytes = await readAll(reader.body(), 1024 * 1024, 'the bundle header');
  parseHeader(headerBytes);
  const staged = new Map<string, Staged>([[HEADER_PATH, { size: headerBytes.length, sha512: sha512Hex(headerBytes) }]]);
  let manifestBytes: Buffer | null = null;
  let manifestChecksum: string | null = null;
  const madeDirs = new Set<string>();
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
    if (!classifyCachePath(entry.path)) throw refused(`entry '${entry.path.slice(0, 200)}' is not a cache file path (unsafe or unknown path)`);
    if (staged.has(entry.path)) throw refused(`entry ${entry.path} appears twice`);
    const target = join(staging, entry.path);
    const dir = dirname(target);
    if (!madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      madeDirs.add(dir);
    }
    const hash = createHash('sha512');
    let size = 0;
    const fh = await open(target, 'wx');
    try {
      for await (const c of reader.body(CHUNK_BYTES)) {
        hash.update(c);
        size += c.length;
        for (let off = 0; off < c.length; ) off += (await fh.write(c, off, c.length - off)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
    staged.set(entry.path, { size, sha512: hash.digest('hex') });
    onEntry();
  }
  await reader.drain();
  if (!manifestBytes || manifestChecksum === null) throw refused('it has no manifest or no manifest checksum (truncated or not a complete bundle)');
  if (sha512Hex(manifestBytes) !== manifestChecksum) throw refused('the manifest does not match its SHA-512 checksum (corrupted)');
  const problems = compareWithManifest(parseManifest(manifestBytes), staged);
  if (problems.length > 0) throw refused(`${problems.length} checksum problem(s): ${problems.slice(0, 5).join('; ')}`);
  return staged;
}

/** Checks staged files for consistency the manifest cannot show: metadata keys, .nupkg.sha512 files. */
async function checkStagedContent(staging: string, staged: ReadonlyMap<string, Staged>): Promise<Map<string, MetadataHead>> {
  const heads = new Map<string, MetadataHead>();
  for (const [rel, s] of staged) {
    const f = classifyCachePath(rel);
    if (f?.kind === 'metadata') {
      const head = await readMetadataHead(join(staging, rel));
      if (!head) throw refused(`${rel} is not a metadata entry`);
      if (metadataHash(head.key) !== f.hash) throw refused(`${rel} holds key ${JSON.stringify(head.key).slice(0, 100)}, which is stored elsewhere`);
      heads.set(rel, head);
    } else if (f?.kind === 'package' && f.isNupkg) {
      const shaRel = sha512Path(f.lowerId, f.lowerVersion);
      if (!staged.has(shaRel)) continue;
      const recorded = (await readFile(join(staging, shaRel), 'utf8')).trim();
      if (recorded !== Buffer.from(s.sha512, 'hex').toString('base64'))
        throw refused(`${shaRel} does not describe the package beside it`);
    }
  }
  return heads;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Moves `from` to `to` unless `to` exists (hard link: atomic, never clobbers); false when it existed.
 * Package files are served for ever, so their data is on disk (fsync) before they become visible, as
 * the BlobStore does for fills.
 */
async function placeNew(from: string, to: string): Promise<boolean> {
  if (await exists(to)) return false;
  const fh = await open(from, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await mkdir(dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
    // A filesystem without hard links: check, then rename (a concurrent fill writes the same bytes).
    if (await exists(to)) return false;
    await rename(from, to);
    return true;
  }
  await unlink(from);
  return true;
}

/** File moves are independent: a few in parallel keep the thread pool busy. */
const MERGE_CONCURRENCY = 8;

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface MergeCounts {
  packagesAdded: number;
  packageFilesUnchanged: number;
  metadataAdded: number;
  metadataReplaced: number;
  metadataKept: number;
  conflicts: ImportConflict[];
}

async function mergePackages(cacheDir: string, staging: string, staged: ReadonlyMap<string, Staged>, counts: MergeCounts): Promise<void> {
  const groups = new Map<string, Array<Extract<CacheFile, { kind: 'package' }>>>();
  for (const rel of staged.keys()) {
    const f = classifyCachePath(rel);
    if (f?.kind !== 'package') continue;
    const key = `${f.lowerId}/${f.lowerVersion}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  await forEachLimited([...groups.values()], MERGE_CONCURRENCY, async (files) => {
    const first = files[0];
    if (!first) return;
    const nupkgRel = blobPath(first.lowerId, first.lowerVersion, 'nupkg');
    const sha512Rel = sha512Path(first.lowerId, first.lowerVersion);
    const held = await exists(join(cacheDir, nupkgRel));
    const bundled = staged.get(nupkgRel);
    if (held && bundled && (await hashFile(join(cacheDir, nupkgRel))) !== bundled.sha512) {
      counts.conflicts.push({ path: nupkgRel, reason: 'the cache holds different bytes for this package; kept the cached one and skipped the bundled files of this version' });
      return;
    }
    // The .nupkg last: once it is visible, its .sha512 and .nuspec are there too.
    const ordered = [...files.filter((f) => !f.isNupkg), ...files.filter((f) => f.isNupkg)];
    for (const f of ordered) {
      const from = join(staging, f.rel);
      const to = join(cacheDir, f.rel);
      if (await placeNew(from, to)) {
        if (f.isNupkg) counts.packagesAdded++;
        continue;
      }
      const s = staged.get(f.rel);
      if (s && (await hashFile(to)) === s.sha512) {
        counts.packageFilesUnchanged++;
      } else if (!held && bundled && f.rel === sha512Rel) {
        // A .sha512 without its .nupkg (a fill that crashed) describes nothing: the imported package's wins.
        await rename(from, to);
      } else {
        counts.conflicts.push({ path: f.rel, reason: 'the cache holds different bytes; kept the cached file' });
      }
    }
  });
}

async function mergeMetadata(cacheDir: string, staging: string, heads: ReadonlyMap<string, MetadataHead>, counts: MergeCounts): Promise<void> {
  await forEachLimited([...heads], MERGE_CONCURRENCY, async ([rel, head]) => {
    const to = join(cacheDir, rel);
    const existing = await readMetadataHead(to);
    if (existing && existing.fetchedAt >= head.fetchedAt) {
      counts.metadataKept++;
      return;
    }
    await mkdir(dirname(to), { recursive: true });
    await rename(join(staging, rel), to);
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

/** `nuget-proxy import <bundle>`: verify everything, then merge into the cache. */
export async function importBundle(config: Config, bundlePath: string, deps: ToolDeps): Promise<ImportResult> {
  const started = performance.now();
  const size = await stat(bundlePath).then(
    (s) => s.size,
    (err: unknown) => {
      throw new ToolError(`cannot read bundle ${bundlePath}: ${errorMessage(err)}`, 2);
    },
  );
  const progress = new Progress({ terminal: terminalOf(deps), label: 'import', unit: 'bytes' });
  progress.note(`verifying ${bundlePath} (${formatBytes(size)})`);
  const tmp = join(config.cacheDir, 'tmp');
  await mkdir(tmp, { recursive: true });
  const staging = await mkdtemp(join(tmp, 'import-'));
  const counts: MergeCounts = { packagesAdded: 0, packageFilesUnchanged: 0, metadataAdded: 0, metadataReplaced: 0, metadataKept: 0, conflicts: [] };
  try {
    const gzip = await isGzipFile(bundlePath);
    const input: ReadStream = createReadStream(bundlePath, { highWaterMark: CHUNK_BYTES });
    const onEntry = () => progress.update({ done: input.bytesRead, total: size, bytes: input.bytesRead });
    const result: { staged: Map<string, Staged> | null } = { staged: null };
    try {
      const consume = async (source: AsyncIterable<Buffer>) => {
        result.staged = await extractAndVerify(source, staging, onEntry);
      };
      if (gzip) await pipeline(input, createGunzip(), consume);
      else await pipeline(input, consume);
    } catch (err) {
      if (err instanceof ToolError) throw err;
      if (err instanceof TarError || err instanceof BundleFormatError) throw refused(err.message);
      if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' || (err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR')
        throw refused(`the gzip stream is damaged or truncated (${errorMessage(err)})`);
      throw err;
    }
    const verified = result.staged;
    if (verified === null) throw refused('the bundle could not be read');
    progress.update({ done: size, total: size, bytes: size });
    const heads = await checkStagedContent(staging, verified);
    progress.note(`verified ${verified.size - 1} files against the manifest; merging into ${config.cacheDir}`);
    await mergePackages(config.cacheDir, staging, verified, counts);
    await mergeMetadata(config.cacheDir, staging, heads, counts);
    await bumpGeneration(config.cacheDir);
    for (const c of counts.conflicts) deps.log.warn({ path: c.path }, 'import conflict: kept the cached file');
    const files = [...verified.keys()].filter((p) => p !== HEADER_PATH);
    return {
      bundle: bundlePath,
      files: files.length,
      bytes: files.reduce((n, p) => n + (verified.get(p)?.size ?? 0), 0),
      ...counts,
      durationMs: performance.now() - started,
    };
  } finally {
    progress.finish();
    await rm(staging, { recursive: true, force: true });
  }
}

export function formatImportSummary(r: ImportResult): string {
  const seconds = r.durationMs / 1000;
  const lines = [
    'import summary',
    `  bundle:      ${r.bundle}: ${r.files} files, ${formatBytes(r.bytes)}, every checksum verified`,
    `  packages:    ${r.packagesAdded} added, ${r.packageFilesUnchanged} files already present`,
    `  metadata:    ${r.metadataAdded} added, ${r.metadataReplaced} replaced by newer, ${r.metadataKept} kept (cache as new or newer)`,
    `  time:        ${formatDuration(r.durationMs)}${seconds > 0 ? ` (${formatBytes(r.bytes / seconds)}/s)` : ''}`,
    `  conflicts:   ${r.conflicts.length}`,
  ];
  for (const c of r.conflicts) lines.push(`    ${c.path}: ${c.reason}`);
  return lines.join('\n');
}
