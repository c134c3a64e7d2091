// `nuget-proxy export`: the cache (or a prefetch selection of it) into one bundle file, read through the
// BlobStore (any backend). Streams one object at a time, in chunks: memory does not grow with the bundle.
// Checks what import will check (metadata keys, .sha512 files), so a damaged entry is found here, not
// across the air gap.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Config } from '../config.ts';
import { errorMessage } from '../errors.ts';
import { isAlwaysExportedKey } from '../resources/keys.ts';
import { readBlob, type BlobStore } from '../storage/blob-store.ts';
import { parseMetadataHead, readStoredMetadataHead } from '../storage/blob-keyv-store.ts';
import { METADATA_PREFIX, PACKAGES_PREFIX, classifyKey, metadataHash, metadataKey, packageDirPrefix, packageKey, packageKeys } from '../storage/layout.ts';
import { Progress, formatBytes, formatDuration } from '../cli/progress.ts';
import { ToolError, terminalOf, withBlobStore, type ToolDeps } from '../cli/tool.ts';
import { readSelection, SelectionError, type Selection } from '../prefetch/selection.ts';
import {
  HEADER_PATH,
  MANIFEST_PATH,
  MANIFEST_SHA512_PATH,
  bundleEntryOf,
  makeHeader,
  makeManifest,
  sha512Hex,
  type BundleEntry,
  type ManifestFile,
} from './bundle-format.ts';
import { TarWriter, type ByteSink } from './tar.ts';

const CREATED_BY = 'nuget-proxy 0.1.0';
/** Metadata entries are read whole (they are checked, and may be replaced while the export runs). */
const MAX_METADATA_BYTES = 160 * 1024 * 1024;

export interface ExportResult {
  readonly output: string;
  readonly files: number;
  readonly packages: number;
  readonly metadataEntries: number;
  /** Bytes of cache objects bundled (before compression). */
  readonly bytes: number;
  /** Size of the bundle file. */
  readonly bundleBytes: number;
  readonly compressed: boolean;
  readonly durationMs: number;
  /** Objects in packages/ or metadata/ that are not cache entries (leftovers, damaged entries) and were left out. */
  readonly skipped: readonly string[];
}

/** An object the bundle will carry, as the store listed it. */
interface Listed {
  readonly entry: BundleEntry;
  readonly size: number;
  readonly lastModifiedMs: number;
}

function isGzipName(path: string): boolean {
  return /\.(gz|tgz)$/i.test(path);
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

/** Passes a stream's chunks on while hashing them; the digest is ready once the iteration has ended. */
async function* hashing(stream: Readable, hash: ReturnType<typeof createHash>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    hash.update(b);
    onBytes(b.length);
    yield b;
  }
}

/** Every bundle-worthy object of the store in key order (packages, then metadata); anything else is skipped. */
async function listStore(blobs: BlobStore): Promise<{ listed: Listed[]; skipped: string[] }> {
  const listed: Listed[] = [];
  const skipped: string[] = [];
  for (const prefix of [PACKAGES_PREFIX, METADATA_PREFIX]) {
    for await (const o of blobs.list(prefix)) {
      const k = classifyKey(o.key);
      // Pins are cache entries that stay where they are (see bundleEntryOf), not leftovers.
      if (k?.kind === 'package' && k.file === 'pinned') continue;
      const entry = bundleEntryOf(o.key);
      if (entry) listed.push({ entry, size: o.size, lastModifiedMs: o.lastModifiedMs });
      else skipped.push(o.key);
    }
  }
  return { listed, skipped };
}

async function selectedObjects(blobs: BlobStore, selectionPath: string, all: readonly Listed[]): Promise<Listed[]> {
  let selection: Selection;
  try {
    selection = await readSelection(selectionPath);
  } catch (err) {
    throw new ToolError(err instanceof SelectionError ? err.message : `cannot read selection ${selectionPath}: ${errorMessage(err)}`, 2);
  }
  const present = new Map(all.map((l) => [l.entry.key, l]));
  const out = new Map<string, Listed>();
  const missing: string[] = [];
  for (const p of selection.packages) {
    if (!present.has(packageKey(p.lowerId, p.lowerVersion, 'nupkg'))) missing.push(`package ${p.lowerId} ${p.lowerVersion}`);
    for (const key of packageKeys(p.lowerId, p.lowerVersion)) {
      const l = present.get(key);
      if (l) out.set(key, l);
    }
  }
  for (const key of selection.metadataKeys) {
    const l = present.get(metadataKey(key));
    if (l) out.set(l.entry.key, l);
    else missing.push(`metadata ${key}`);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 20).join(', ');
    throw new ToolError(`the cache does not hold everything the selection lists (run prefetch again?): ${shown}${missing.length > 20 ? `, … (${missing.length} in all)` : ''}`);
  }
  // The service index, vulnerability data and signatures go with every bundle.
  for (const l of all) {
    if (l.entry.kind !== 'metadata' || out.has(l.entry.key)) continue;
    const head = await readStoredMetadataHead(blobs, l.entry.key);
    if (head && isAlwaysExportedKey(head.key)) out.set(l.entry.key, l);
  }
  return [...out.values()].sort((a, b) => (a.entry.key < b.entry.key ? -1 : a.entry.key > b.entry.key ? 1 : 0));
}

/** `nuget-proxy export`: the cache (or `--selection`) into the bundle file `--output`. */
export async function exportBundle(config: Config, deps: ToolDeps): Promise<ExportResult> {
  const output = config.output;
  if (!output) throw new ToolError('export needs --output <bundle file>', 2);
  return withBlobStore(config, deps, (blobs) => exportFrom(blobs, output, config.selection, deps));
}

async function exportFrom(blobs: BlobStore, output: string, selectionPath: string | null, deps: ToolDeps): Promise<ExportResult> {
  const started = performance.now();
  const listing = await listStore(blobs);
  const objects = selectionPath ? await selectedObjects(blobs, selectionPath, listing.listed) : listing.listed;
  if (objects.length === 0) throw new ToolError(`${blobs.description} holds no packages or metadata to export`);
  const progress = new Progress({ terminal: terminalOf(deps), label: 'export', unit: 'bytes' });
  const total = objects.reduce((n, l) => n + l.size, 0);
  progress.note(`${objects.length} files (${formatBytes(total)}) from ${blobs.description}${selectionPath ? ` selected by ${selectionPath}` : ''}`);
  progress.update({ done: 0, total });

  await mkdir(dirname(output), { recursive: true });
  const partial = `${output}.${randomBytes(6).toString('hex')}.partial`;
  const gzip = isGzipName(output);
  const out = fileSink(partial, gzip);
  const writer = new TarWriter(out.sink);
  const manifest: ManifestFile[] = [];
  let written = 0;
  const onBytes = (n: number) => {
    written += n;
    progress.update({ done: written, bytes: written });
  };
  const vanished: string[] = [];
  const invalid: string[] = [];
  try {
    const header = Buffer.from(`${JSON.stringify(makeHeader(selectionPath !== null, CREATED_BY))}\n`);
    await writer.addBuffer(HEADER_PATH, header);
    manifest.push({ path: HEADER_PATH, size: header.length, sha512: sha512Hex(header) });
    const nupkgHashes = new Map<string, string>();
    for (const { entry, lastModifiedMs } of objects) {
      const key = entry.key;
      if (entry.kind === 'metadata' || entry.file === 'sha512') {
        // Small objects, and ones that may be replaced meanwhile: read whole, so size and bytes agree.
        const data = await readBlob(blobs, key, entry.kind === 'metadata' ? MAX_METADATA_BYTES : 64 * 1024);
        if (!data) {
          vanished.push(key);
          continue;
        }
        if (entry.kind === 'metadata') {
          const head = parseMetadataHead(data);
          if (!head || metadataHash(head.key) !== entry.hash) {
            invalid.push(key);
            continue;
          }
        } else {
          // Listed in key order, a package's .nupkg comes just before its .nupkg.sha512.
          const nupkgHash = nupkgHashes.get(packageKey(entry.lowerId, entry.lowerVersion, 'nupkg'));
          if (nupkgHash !== undefined && data.toString('utf8').trim() !== Buffer.from(nupkgHash, 'hex').toString('base64'))
            throw new ToolError(
              `${key} does not match the package beside it: the cache entry is damaged; delete ${packageDirPrefix(entry.lowerId, entry.lowerVersion)} and prefetch it again`,
            );
        }
        await writer.addBuffer(key, data, lastModifiedMs);
        onBytes(data.length);
        manifest.push({ path: key, size: data.length, sha512: sha512Hex(data) });
        continue;
      }
      // Package files are never replaced once visible (only deleted): the size stat gives is the size read.
      const s = await blobs.stat(key);
      const stream = s ? await blobs.openRead(key) : null;
      if (!s || !stream) {
        vanished.push(key);
        continue;
      }
      const hash = createHash('sha512');
      try {
        await writer.addFile(key, s.size, s.lastModifiedMs, hashing(stream, hash, onBytes));
      } finally {
        stream.destroy();
      }
      const digest = hash.digest('hex');
      if (entry.file === 'nupkg') nupkgHashes.set(key, digest);
      manifest.push({ path: key, size: s.size, sha512: digest });
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
  if (invalid.length > 0) deps.log.warn({ files: invalid.slice(0, 20), count: invalid.length }, 'metadata objects that are not valid entries; left out');
  if (vanished.length > 0) deps.log.warn({ files: vanished.slice(0, 20), count: vanished.length }, 'objects disappeared from the cache during export; left out');
  const bundled = manifest.filter((m) => m.path !== HEADER_PATH).map((m) => bundleEntryOf(m.path));
  return {
    output,
    files: bundled.length,
    packages: bundled.filter((e) => e?.kind === 'package' && e.file === 'nupkg').length,
    metadataEntries: bundled.filter((e) => e?.kind === 'metadata').length,
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
