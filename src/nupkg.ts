// Reads entries out of a .nupkg (a zip): the root .nuspec, an embedded icon or readme — from a local file
// (a spooled download being verified, by path or through its open handle) or from an object in the blob
// store (ranged reads, any backend).
// The only importer of yauzl. Reads the central directory, so a truncated or non-zip file is rejected.

import type { FileHandle } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import yauzl from 'yauzl';
import { parseNuspec, type Nuspec } from './nuget/nuspec.ts';
import type { BlobStore } from './storage/blob-store.ts';

/**
 * Where a package's bytes are: a local file path; a file already open (`handle`, `size` bytes: a fill's
 * spool, read through the handle its download wrote with — never closed here); or an object of known size
 * in a blob store — optionally with its last bytes already in memory (`tail`, from a read of the whole
 * object), so the central directory costs no further request.
 */
export type ZipSource =
  | string
  | { readonly handle: FileHandle; readonly size: number }
  | { readonly blobs: BlobStore; readonly key: string; readonly size: number; readonly tail?: Buffer };

/** Bytes of a package already in memory, from `position` on (its end, read once for the central directory). */
interface HeldBytes {
  readonly position: number;
  readonly bytes: Buffer;
}

/** The held bytes of [start, end), when they hold all of it; else null (read them from the source). */
function bytesWithin(held: HeldBytes | null, start: number, end: number): Buffer | null {
  if (!held || start < held.position || end > held.position + held.bytes.length) return null;
  return held.bytes.subarray(start - held.position, end - held.position);
}

/** Chunk size of the streams yauzl asks an open file for (entry data). */
const HANDLE_STREAM_CHUNK = 64 * 1024;

/** A read at least this long (yauzl's first: the end of the file, for the central directory) is kept in memory. */
const HANDLE_KEEP_MIN = 4096;

/**
 * Serves yauzl's reads from a file someone else opened and will close: positional reads and streams
 * through the handle, which stays open (the base reader's close(), called when the zip closes, does
 * nothing). yauzl's first read takes up to the last 64 KiB of the file; it is kept, so the central
 * directory's many small reads that follow (and, for a small package, the nuspec itself) come from memory.
 */
class HandleReader extends yauzl.RandomAccessReader {
  private kept: HeldBytes | null = null;

  constructor(private readonly handle: FileHandle) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    const kept = bytesWithin(this.kept, position, position + length);
    if (kept) {
      kept.copy(buffer, offset);
      setImmediate(() => callback(null));
      return;
    }
    this.handle.read(buffer, offset, length, position).then(
      ({ bytesRead }) => {
        if (bytesRead < length) {
          callback(new Error(`unexpected end of file at ${position + bytesRead}`));
          return;
        }
        if (!this.kept && length >= HANDLE_KEEP_MIN) this.kept = { position, bytes: Buffer.from(buffer.subarray(offset, offset + length)) };
        callback(null);
      },
      (err: unknown) => callback(err as Error),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const kept = bytesWithin(this.kept, start, end);
    if (kept) return Readable.from([kept]);
    // Not handle.createReadStream(): on Node 20 its streams close the handle when they end, even with
    // autoClose false (test/unit/nupkg.test.ts fails with EBADF), and the spool's readers still need it.
    const handle = this.handle;
    let position = start;
    return new Readable({
      read() {
        const n = Math.min(HANDLE_STREAM_CHUNK, end - position);
        if (n <= 0) {
          this.push(null);
          return;
        }
        const buf = Buffer.allocUnsafe(n);
        handle.read(buf, 0, n, position).then(
          ({ bytesRead }) => {
            if (bytesRead === 0) {
              this.destroy(new Error(`unexpected end of file at ${position}`));
              return;
            }
            position += bytesRead;
            this.push(bytesRead === n ? buf : buf.subarray(0, bytesRead));
          },
          (err: unknown) => this.destroy(err as Error),
        );
      },
    });
  }
}

/** Serves yauzl's range reads from the blob store (a stream per range, opened lazily), or from the tail in memory. */
class BlobRangeReader extends yauzl.RandomAccessReader {
  constructor(
    private readonly blobs: BlobStore,
    private readonly key: string,
    private readonly size: number,
    private readonly tail: Buffer | undefined,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const held = bytesWithin(this.tail ? { position: this.size - this.tail.length, bytes: this.tail } : null, start, end);
    if (held) return Readable.from([held]);
    const out = new PassThrough();
    this.blobs.openRead(this.key, { start, end }).then(
      (stream) => {
        if (!stream) out.destroy(new Error(`${this.key} disappeared while being read`));
        else stream.on('error', (err) => out.destroy(err)).pipe(out);
      },
      (err: unknown) => out.destroy(err as Error),
    );
    return out;
  }
}

/** Entries larger than this are not read into memory (nuget.org caps icons at 1 MB, readmes at 1 MB). */
const MAX_ENTRY_BYTES = 8 * 1024 * 1024;

export class NupkgError extends Error {}

const ZIP_OPTIONS = { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true } as const;

function openZip(source: ZipSource): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip?: yauzl.ZipFile) => {
      if (err || !zip) reject(new NupkgError(`not a valid zip: ${err?.message ?? 'unknown error'}`));
      else resolve(zip);
    };
    if (typeof source === 'string') yauzl.open(source, ZIP_OPTIONS, done);
    else if ('handle' in source) yauzl.fromRandomAccessReader(new HandleReader(source.handle), source.size, ZIP_OPTIONS, done);
    else yauzl.fromRandomAccessReader(new BlobRangeReader(source.blobs, source.key, source.size, source.tail), source.size, ZIP_OPTIONS, done);
  });
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (entry.uncompressedSize > MAX_ENTRY_BYTES) {
      reject(new NupkgError(`entry ${entry.fileName} is too large (${entry.uncompressedSize} bytes)`));
      return;
    }
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) {
        reject(new NupkgError(`cannot read ${entry.fileName}: ${err?.message ?? 'unknown error'}`));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (e) => reject(new NupkgError(`cannot read ${entry.fileName}: ${e.message}`)));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  });
}

/** Finds the first entry for which `match` returns true and reads it; null when none matches. */
async function findAndRead(source: ZipSource, match: (name: string) => boolean): Promise<{ name: string; data: Buffer } | null> {
  const zip = await openZip(source);
  try {
    return await new Promise((resolve, reject) => {
      zip.on('error', (e: Error) => reject(new NupkgError(`corrupt zip: ${e.message}`)));
      zip.on('end', () => resolve(null));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (match(entry.fileName)) {
          readEntry(zip, entry).then((data) => resolve({ name: entry.fileName, data }), reject);
        } else {
          zip.readEntry();
        }
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/** Zip entry names in a nupkg are percent-encoded OPC part names; compare them decoded and case-insensitively. */
function normalizeEntryName(name: string): string {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // Not percent-encoded: compare as is.
  }
  return decoded.replace(/\\/g, '/').replace(/^\/+/, '').toLowerCase();
}

export interface NupkgManifest {
  readonly nuspec: Nuspec;
  readonly nuspecXml: Buffer;
}

/** Reads and parses the .nuspec at the root of the package. Throws NupkgError when there is none or it is invalid. */
export async function readNupkgManifest(source: ZipSource): Promise<NupkgManifest> {
  const found = await findAndRead(source, (n) => !n.includes('/') && n.toLowerCase().endsWith('.nuspec'));
  if (!found) throw new NupkgError('package has no .nuspec at its root');
  try {
    return { nuspec: parseNuspec(found.data.toString('utf8')), nuspecXml: found.data };
  } catch (err) {
    throw new NupkgError((err as Error).message);
  }
}

/**
 * Checks a package's zip structure: every entry of the central directory reads (names, sizes, offsets inside
 * the file), and the root .nuspec decompresses and parses. Returns the entry count and the nuspec.
 */
export async function checkNupkgStructure(source: ZipSource): Promise<{ entries: number; nuspec: Nuspec }> {
  const zip = await openZip(source);
  try {
    let entries = 0;
    const found: { nuspec?: Promise<Buffer> } = {};
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (e: Error) => reject(new NupkgError(`corrupt zip: ${e.message}`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        entries++;
        if (entry.relativeOffsetOfLocalHeader + entry.compressedSize > zip.fileSize) {
          reject(new NupkgError(`entry ${entry.fileName} lies beyond the end of the file`));
          return;
        }
        if (!found.nuspec && !entry.fileName.includes('/') && entry.fileName.toLowerCase().endsWith('.nuspec')) {
          found.nuspec = readEntry(zip, entry);
          found.nuspec.then(() => zip.readEntry(), reject);
        } else {
          zip.readEntry();
        }
      });
      zip.readEntry();
    });
    if (!found.nuspec) throw new NupkgError('package has no .nuspec at its root');
    const xml = await found.nuspec;
    try {
      return { entries, nuspec: parseNuspec(xml.toString('utf8')) };
    } catch (err) {
      throw err instanceof NupkgError ? err : new NupkgError((err as Error).message);
    }
  } finally {
    zip.close();
  }
}

/** Reads a file the nuspec names (icon, readme); null when the package has no such entry. */
export async function readNupkgFile(source: ZipSource, fileInPackage: string): Promise<Buffer | null> {
  const wanted = normalizeEntryName(fileInPackage);
  if (!wanted) return null;
  const found = await findAndRead(source, (n) => normalizeEntryName(n) === wanted);
  return found?.data ?? null;
}
