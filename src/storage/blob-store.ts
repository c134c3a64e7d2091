// The blob store interface every backend implements (disk, S3, the in-memory test double): stat, read,
// a write that is committed or aborted, list, delete. Keys are '/'-separated relative names; which keys
// exist is decided by src/storage/layout.ts alone. One compliance suite (test/storage/) holds every
// implementation to the same rules:
// - a reader never sees a partial object: a write becomes visible only when committed, all at once;
// - an aborted write leaves nothing behind;
// - a commit replaces an existing object atomically (readers see the old bytes or the new, never a mix),
//   unless the write was begun with `ifAbsent`, which keeps the existing object;
// - deleting an object does not break a read already open on it;
// - an unsafe key (absolute, `..`, empty segments, odd characters) is refused with UnsafeKeyError.

import type { Readable } from 'node:stream';

export interface BlobStat {
  readonly size: number;
  /** Changes whenever the object's bytes may have changed. */
  readonly etag: string;
  readonly lastModifiedMs: number;
}

export interface BlobListing extends BlobStat {
  readonly key: string;
}

export interface ReadRange {
  readonly start: number;
  /** Exclusive; default: the end of the object. */
  readonly end?: number;
}

export interface WriteOptions {
  /** Keep an object that already exists: commit() then discards this write and returns `created: false`. */
  readonly ifAbsent?: boolean;
  /** false: skip the flush to stable storage (metadata that upstream can give again). Default true. */
  readonly durable?: boolean;
}

export interface BlobWrite {
  /** Appends bytes; resolves when the store can take more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Makes the bytes visible under the key, atomically. */
  commit(): Promise<{ readonly created: boolean; readonly stat: BlobStat }>;
  /** Discards the write; nothing becomes visible. Safe to call after a failed write or commit. */
  abort(): Promise<void>;
  readonly bytesWritten: number;
}

/**
 * Positional reads of one object, for backends where a read at an offset is cheap (disk): the response
 * writer then sizes every read to its client's pace instead of reading ahead at a fixed size.
 */
export interface BlobReader {
  /** Up to `length` bytes from `position` (fewer only at the end of the object). */
  read(length: number, position: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface BlobStore {
  /** Where the blobs are, for logs and readiness ("/data", "s3://bucket/prefix/"). */
  readonly description: string;
  stat(key: string): Promise<BlobStat | null>;
  /** A stream of the object's bytes (or a range of them); null when it does not exist. */
  openRead(key: string, range?: ReadRange): Promise<Readable | null>;
  /** Positional reads (optional: backends without cheap ranged reads leave it out); null when absent. */
  openReader?(key: string): Promise<BlobReader | null>;
  beginWrite(key: string, options?: WriteOptions): Promise<BlobWrite>;
  /**
   * Makes a complete local file the object without copying it (optional: a disk store on the file's
   * filesystem); null when it cannot (then write it). The file itself stays where it is.
   */
  adoptFile?(key: string, path: string, options?: WriteOptions): Promise<{ readonly created: boolean; readonly stat: BlobStat } | null>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<BlobListing>;
  /** The names one level below `prefix` (which ends with '/'), as a directory listing would show them. */
  listChildren(prefix: string): AsyncIterable<string>;
  /** true when an object was deleted. */
  delete(key: string): Promise<boolean>;
  close(): Promise<void>;
}

export class UnsafeKeyError extends Error {
  readonly code = 'UNSAFE_KEY';
}

/** Storage itself failed (disk full, read-only, I/O error, object store refused): not upstream's fault. */
export class StorageError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** errno codes that mean the local storage itself is in trouble (as opposed to a missing file). */
const STORAGE_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'EFBIG']);

/**
 * `err` as a StorageError when it is one already or a file-system error of the storage itself (disk full,
 * read-only, I/O error, no file handles); null for anything else (a missing file, a bug).
 */
export function asStorageError(err: unknown, what: string): StorageError | null {
  if (err instanceof StorageError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code && STORAGE_ERRNO.has(code) ? new StorageError(`${what}: ${(err as Error).message}`, code, { cause: err }) : null;
}

/** A short, bounded code for a storage failure (a metric label): the StorageError's or errno code. */
export function storageCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'UNKNOWN';
}

// Letters, marks, digits and connector punctuation of any script, as NuGet package ids allow them (.NET's \w:
// `Café.Lib` is a valid id), plus the ASCII punctuation of versions and file names. No separators, no controls.
const SEGMENT = /^[\p{L}\p{Mn}\p{Nd}\p{Pc}._+~=@-]+$/u;

/** Throws UnsafeKeyError unless `key` is a relative '/'-separated name of plain segments. */
export function checkKey(key: string): string {
  if (key.length === 0 || key.length > 1024) throw new UnsafeKeyError(`unsafe blob key: ${JSON.stringify(key.slice(0, 200))}`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..' || !SEGMENT.test(segment))
      throw new UnsafeKeyError(`unsafe blob key: ${JSON.stringify(key.slice(0, 200))}`);
  }
  return key;
}

/** Prefixes may be '' (everything) or end with '/'; otherwise the same rules as keys. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  if (!prefix.endsWith('/')) throw new UnsafeKeyError(`a prefix must end with '/': ${JSON.stringify(prefix.slice(0, 200))}`);
  checkKey(prefix.slice(0, -1));
  return prefix;
}

/** Reads a whole (small) object; null when it does not exist. */
export async function readBlob(store: BlobStore, key: string, maxBytes = 64 * 1024 * 1024): Promise<Buffer | null> {
  const stream = await store.openRead(key);
  if (!stream) return null;
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > maxBytes) {
      stream.destroy();
      throw new StorageError(`object ${key} is larger than ${maxBytes} bytes`, 'TOO_LARGE');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a whole object whose size is known (from stat): one read where the backend has positional reads.
 * null when it does not exist; a StorageError when it is not `size` bytes long (changed underneath).
 */
export async function readWhole(store: BlobStore, key: string, size: number): Promise<Buffer | null> {
  if (!store.openReader) return readBlob(store, key, size);
  const reader = await store.openReader(key);
  if (!reader) return null;
  try {
    // One byte more than expected tells a grown object from a complete read.
    const data = await reader.read(size + 1, 0);
    if (data.length !== size) throw new StorageError(`object ${key} is ${data.length} bytes, expected ${size}`, 'SIZE_CHANGED');
    return data;
  } finally {
    await reader.close();
  }
}

/**
 * Text is encoded this many characters at a time, a write each: encoding a multi-megabyte document at once
 * held the event loop for tens of milliseconds (and more where fresh memory is slow to fault in).
 */
export const ENCODE_SLICE_CHARS = 256 * 1024;

/**
 * The UTF-8 bytes of `parts` (strings, concatenated) in slices of at most `sliceChars` characters. Each part
 * is sliced on its own (slicing a concatenation would first copy it whole), and never inside a surrogate
 * pair (its halves would each become U+FFFD).
 */
export function* utf8Slices(parts: readonly string[], sliceChars = ENCODE_SLICE_CHARS): Generator<Buffer> {
  for (const part of parts) {
    for (let start = 0; start < part.length; ) {
      let end = Math.min(part.length, start + sliceChars);
      const last = part.charCodeAt(end - 1);
      // A slice ending in a pair's first half ends before it (or, one character long, takes the pair whole).
      if (end < part.length && last >= 0xd800 && last <= 0xdbff) end += end - 1 > start ? -1 : 1;
      yield Buffer.from(part.slice(start, end), 'utf8');
      start = end;
    }
  }
}

/** Writes a new object whole: bytes, or text (one string or its parts, concatenated) as UTF-8. */
export async function writeBlob(store: BlobStore, key: string, data: Buffer | string | readonly string[], options?: WriteOptions): Promise<{ created: boolean; stat: BlobStat }> {
  const w = await store.beginWrite(key, options);
  try {
    if (Buffer.isBuffer(data)) await w.write(data);
    else for (const slice of utf8Slices(typeof data === 'string' ? [data] : data)) await w.write(slice);
    return await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** Appends everything `source` yields to a write in progress (neither commits nor aborts it). */
export async function copyInto(w: BlobWrite, source: AsyncIterable<Buffer | Uint8Array>): Promise<void> {
  for await (const chunk of source) await w.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
}

/** Streams `source` into a new object; aborted (nothing visible) if anything fails. */
export async function writeBlobFrom(store: BlobStore, key: string, source: AsyncIterable<Buffer | Uint8Array>, options?: WriteOptions): Promise<{ created: boolean; stat: BlobStat }> {
  const w = await store.beginWrite(key, options);
  try {
    await copyInto(w, source);
    return await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
