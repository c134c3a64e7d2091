// An in-memory BlobStore for tests, held to the same compliance suite as the real backends: a write is
// buffered apart and swapped in whole at commit, abort drops it, ifAbsent keeps what exists, reads see
// the bytes they opened even if the object is deleted or replaced afterwards.

import { createHash } from 'node:crypto';
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

interface StoredObject {
  readonly data: Buffer;
  readonly stat: BlobStat;
}

/** Reads are handed out in pieces of this size, so a consumer sees a stream, not one buffer. */
const READ_PIECE_BYTES = 64 * 1024;

export class MemoryBlobStore implements BlobStore {
  readonly description = 'memory';
  private readonly objects = new Map<string, StoredObject>();
  private readonly pending = new Set<object>();
  private serial = 0;

  /** Writes begun and neither committed nor aborted (the compliance suite's "leftovers"). */
  get pendingWrites(): number {
    return this.pending.size;
  }

  async stat(key: string): Promise<BlobStat | null> {
    return this.objects.get(checkKey(key))?.stat ?? null;
  }

  async openRead(key: string, range?: ReadRange): Promise<Readable | null> {
    const o = this.objects.get(checkKey(key));
    if (!o) return null;
    const start = Math.min(range?.start ?? 0, o.data.length);
    const end = Math.max(start, Math.min(range?.end ?? o.data.length, o.data.length));
    // The object's buffer is never mutated (a commit swaps in a new one), so this view stays valid.
    const view = o.data.subarray(start, end);
    return Readable.from(
      (function* () {
        for (let off = 0; off < view.length; off += READ_PIECE_BYTES) yield view.subarray(off, off + READ_PIECE_BYTES);
      })(),
    );
  }

  async beginWrite(key: string, options: WriteOptions = {}): Promise<BlobWrite> {
    checkKey(key);
    const chunks: Buffer[] = [];
    let bytesWritten = 0;
    let done = false;
    const token = {};
    this.pending.add(token);
    const finish = () => {
      done = true;
      this.pending.delete(token);
      chunks.length = 0;
    };
    return {
      get bytesWritten() {
        return bytesWritten;
      },
      write: async (chunk: Buffer) => {
        if (done) throw new StorageError(`write to ${key} after commit or abort`, 'CLOSED');
        chunks.push(Buffer.from(chunk));
        bytesWritten += chunk.length;
      },
      commit: async () => {
        if (done) throw new StorageError(`commit of ${key} after commit or abort`, 'CLOSED');
        const existing = this.objects.get(key);
        if (options.ifAbsent && existing) {
          finish();
          return { created: false, stat: existing.stat };
        }
        const data = Buffer.concat(chunks);
        const hash = createHash('md5').update(data).digest('hex');
        const stat: BlobStat = { size: data.length, etag: `"${hash}-${(++this.serial).toString(16)}"`, lastModifiedMs: Date.now() };
        this.objects.set(key, { data, stat });
        finish();
        return { created: true, stat };
      },
      abort: async () => {
        finish();
      },
    };
  }

  async *list(prefix: string): AsyncIterable<BlobListing> {
    checkPrefix(prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const o = this.objects.get(key);
      if (o) yield { key, ...o.stat };
    }
  }

  async *listChildren(prefix: string): AsyncIterable<string> {
    checkPrefix(prefix);
    const names = new Set<string>();
    for (const key of this.objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      names.add(rest.slice(0, rest.includes('/') ? rest.indexOf('/') : undefined));
    }
    yield* [...names].sort();
  }

  async delete(key: string): Promise<boolean> {
    return this.objects.delete(checkKey(key));
  }

  async close(): Promise<void> {
    // Nothing held.
  }
}
