// An in-memory BlobStore for tests: the interface of src/storage/blob-store.ts held to the same rules as the
// real backends (atomic commit, abort, ifAbsent, ranges, listing, reads that survive a delete, unsafe keys
// refused), with nothing on disk — so a test that passes on it and on disk shows code uses only the interface.

import { Readable } from 'node:stream';
import {
  checkKey,
  checkPrefix,
  StorageError,
  type BlobListing,
  type BlobStat,
  type BlobStore,
  type BlobWrite,
  type ReadRange,
  type WriteOptions,
} from '../../src/storage/blob-store.ts';

interface MemoryObject {
  readonly data: Buffer;
  readonly stat: BlobStat;
}

/** Reads are handed out in chunks of this size, as a file or an HTTP body would be. */
const READ_CHUNK_BYTES = 64 * 1024;

export class MemoryBlobStore implements BlobStore {
  readonly description: string;
  private readonly objects = new Map<string, MemoryObject>();
  private version = 0;
  private closed = false;
  /** Writes begun and not yet committed or aborted (a test can check nothing is left open). */
  openWrites = 0;
  /** Objects made visible by commit (a test can check a refused operation committed nothing). */
  commits = 0;

  constructor(name = 'memory') {
    this.description = `memory://${name}/`;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('the store is closed', 'CLOSED');
  }

  async stat(key: string): Promise<BlobStat | null> {
    checkKey(key);
    this.checkOpen();
    return this.objects.get(key)?.stat ?? null;
  }

  async openRead(key: string, range?: ReadRange): Promise<Readable | null> {
    checkKey(key);
    this.checkOpen();
    const o = this.objects.get(key);
    if (!o) return null;
    // The buffer is never mutated (a commit replaces the entry), so a read open here survives a delete or
    // an overwrite and sees the bytes it opened.
    const start = Math.min(range?.start ?? 0, o.data.length);
    const end = Math.min(range?.end ?? o.data.length, o.data.length);
    const bytes = end > start ? o.data.subarray(start, end) : Buffer.alloc(0);
    return Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += READ_CHUNK_BYTES) yield bytes.subarray(at, at + READ_CHUNK_BYTES);
      })(),
      { objectMode: false },
    );
  }

  async beginWrite(key: string, options: WriteOptions = {}): Promise<BlobWrite> {
    checkKey(key);
    this.checkOpen();
    const chunks: Buffer[] = [];
    let bytesWritten = 0;
    let done = false;
    this.openWrites++;
    const finish = () => {
      if (!done) this.openWrites--;
      done = true;
    };
    return {
      get bytesWritten() {
        return bytesWritten;
      },
      write: async (chunk: Buffer) => {
        if (done) throw new StorageError(`write to ${key} after commit or abort`, 'CLOSED');
        // Copy: the caller may reuse its buffer once write() resolves.
        chunks.push(Buffer.from(chunk));
        bytesWritten += chunk.length;
        // Yield like real I/O does, so callers that forget to await show up in tests.
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
      commit: async () => {
        if (done) throw new StorageError(`commit of ${key} after commit or abort`, 'CLOSED');
        finish();
        this.checkOpen();
        const existing = this.objects.get(key);
        if (options.ifAbsent && existing) return { created: false, stat: existing.stat };
        const data = Buffer.concat(chunks);
        const now = Date.now();
        const stat: BlobStat = { size: data.length, lastModifiedMs: now, etag: `"m${(++this.version).toString(16)}-${data.length.toString(16)}"` };
        this.objects.set(key, { data, stat });
        this.commits++;
        return { created: true, stat };
      },
      abort: async () => {
        finish();
        chunks.length = 0;
      },
    };
  }

  async *list(prefix: string): AsyncIterable<BlobListing> {
    checkPrefix(prefix);
    this.checkOpen();
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const o = this.objects.get(key);
      if (o) yield { key, ...o.stat };
    }
  }

  async *listChildren(prefix: string): AsyncIterable<string> {
    checkPrefix(prefix);
    this.checkOpen();
    const names = new Set<string>();
    for (const key of this.objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      names.add(rest.split('/', 1)[0] ?? rest);
    }
    yield* [...names].sort();
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    this.checkOpen();
    return this.objects.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
