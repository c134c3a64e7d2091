// Blobs as files under one directory (the default, and a ReadWriteMany volume shared by replicas): a write
// goes to a temp file in the local temp area (same filesystem), is flushed, and is renamed — or hard-linked,
// for ifAbsent — into place. Reads open the file first, so a delete (unlink) never breaks a read under way.

import { read, type Stats } from 'node:fs';
import { open, link, mkdir, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import {
  asStorageError,
  checkKey,
  checkPrefix,
  StorageError,
  UnsafeKeyError,
  type BlobListing,
  type BlobReader,
  type BlobStat,
  type BlobStore,
  type BlobWrite,
  type ReadRange,
  type WriteOptions,
} from './blob-store.ts';
import { LOCAL_LOCKS_DIR, LOCAL_TEMP_DIR } from './layout.ts';
import { LocalTemp } from './local-temp.ts';

/** Package files are sent in large reads: fewer syscalls and stream hops than fs's 64 KiB default. */
const READ_CHUNK_BYTES = 512 * 1024;
const RESERVED_TOP = new Set([LOCAL_TEMP_DIR, LOCAL_LOCKS_DIR]);

function storageError(err: unknown, what: string): unknown {
  return asStorageError(err, what) ?? err;
}

/**
 * pread through fs.read's callback form: FileHandle#read costs about 1.7× the event-loop time per call
 * (its promise request), which shows when a thousand slow clients keep thousands of reads a second going.
 */
function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function statOf(s: { size: number; mtimeMs: number; ino: number }): BlobStat {
  return { size: s.size, lastModifiedMs: s.mtimeMs, etag: `"${s.ino.toString(16)}-${s.size.toString(16)}-${Math.floor(s.mtimeMs * 1000).toString(16)}"` };
}

export class DiskBlobStore implements BlobStore {
  readonly description: string;
  private readonly temp: LocalTemp;
  /** Directories being created now (see makeDir). */
  private readonly making = new Map<string, Promise<void>>();

  constructor(readonly root: string) {
    this.description = root;
    this.temp = new LocalTemp(root);
  }

  private pathOf(key: string): string {
    checkKey(key);
    const top = key.split('/', 1)[0] ?? '';
    if (RESERVED_TOP.has(top)) throw new UnsafeKeyError(`blob key in a reserved directory: ${JSON.stringify(key.slice(0, 200))}`);
    return join(this.root, key);
  }

  async stat(key: string): Promise<BlobStat | null> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? statOf(s) : null;
    } catch (err) {
      if (err instanceof UnsafeKeyError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw storageError(err, `cannot stat ${key}`);
    }
  }

  /** The blob's file opened for reading; null when there is none. */
  private async openFile(key: string): Promise<FileHandle | null> {
    try {
      return await open(this.pathOf(key), 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null;
      throw storageError(err, `cannot read ${key}`);
    }
  }

  async openRead(key: string, range?: ReadRange): Promise<Readable | null> {
    const fh = await this.openFile(key);
    if (!fh) return null;
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream({ start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: READ_CHUNK_BYTES, autoClose: true });
  }

  /** Positional reads for package streams (many at once with slow clients: see readAt). */
  async openReader(key: string): Promise<BlobReader | null> {
    const fh = await this.openFile(key);
    if (!fh) return null;
    let closed = false;
    return {
      async read(length: number, position: number): Promise<Buffer> {
        // A fresh buffer per read: the caller hands it to a socket that may hold it until the client reads.
        const buf = Buffer.allocUnsafe(length);
        let n = 0;
        try {
          while (n < length) {
            const bytesRead = await readAt(fh.fd, buf, n, length - n, position + n);
            if (bytesRead === 0) break;
            n += bytesRead;
          }
        } catch (err) {
          throw storageError(err, `cannot read ${key}`);
        }
        return n === length ? buf : buf.subarray(0, n);
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await fh.close().catch(() => undefined);
      },
    };
  }

  /**
   * Puts a complete, flushed temp file at `target`: renamed over it, or (ifAbsent) hard-linked only where
   * nothing is, then the temp name removed. false: ifAbsent and an object was there.
   */
  private async place(tmp: string, target: string, options: WriteOptions): Promise<boolean> {
    const once = async (): Promise<boolean> => {
      if (!options.ifAbsent) {
        await rename(tmp, target);
        return true;
      }
      try {
        await link(tmp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        await unlink(tmp).catch(() => undefined);
        return false;
      }
      await unlink(tmp).catch(() => undefined);
      return true;
    };
    // The directory is created when missing (the first file of a version), not before every commit; once
    // more if a concurrent delete removed the emptied directory between the mkdir and the retry.
    for (let mkdirs = 0; ; mkdirs++) {
      try {
        return await once();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || mkdirs === 2) throw err;
        await this.makeDir(dirname(target));
      }
    }
  }

  /**
   * mkdir -p, one at a time per directory: the files of a new version, committed together, find its
   * directory missing together and share one creation.
   */
  private makeDir(dir: string): Promise<void> {
    let making = this.making.get(dir);
    if (!making) {
      making = mkdir(dir, { recursive: true })
        .then(() => undefined)
        .finally(() => this.making.delete(dir));
      this.making.set(dir, making);
    }
    return making;
  }

  /**
   * Makes a complete local file (a verified download in the local temp area) the object without copying
   * it: flushed, hard-linked to a temp name and placed as a write is. The file stays where it is for its
   * readers. null when it is on another filesystem (EXDEV): the caller copies it instead.
   */
  async adoptFile(key: string, path: string, options: WriteOptions = {}): Promise<{ created: boolean; stat: BlobStat } | null> {
    const target = this.pathOf(key);
    const tmp = this.temp.path(key.slice(key.lastIndexOf('/') + 1));
    try {
      if (options.durable ?? true) {
        const fh = await open(path, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      try {
        await link(path, tmp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EXDEV') return null;
        throw err;
      }
      const created = await this.place(tmp, target, options);
      return { created, stat: statOf(await stat(target)) };
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw storageError(err, `cannot commit ${key}`);
    }
  }

  async beginWrite(key: string, options: WriteOptions = {}): Promise<BlobWrite> {
    const target = this.pathOf(key);
    const tmp = this.temp.path(key.slice(key.lastIndexOf('/') + 1));
    let fh: FileHandle | null;
    try {
      fh = await open(tmp, 'wx');
    } catch (err) {
      throw storageError(err, `cannot write ${key}`);
    }
    let bytesWritten = 0;
    let done = false;
    const closeQuietly = async () => {
      const h = fh;
      fh = null;
      if (h) await h.close().catch(() => undefined);
    };
    return {
      get bytesWritten() {
        return bytesWritten;
      },
      async write(chunk: Buffer) {
        if (!fh || done) throw new StorageError(`write to ${key} after commit or abort`, 'CLOSED');
        try {
          for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        } catch (err) {
          throw storageError(err, `cannot write ${key}`);
        }
        bytesWritten += chunk.length;
      },
      commit: async () => {
        if (!fh || done) throw new StorageError(`commit of ${key} after commit or abort`, 'CLOSED');
        try {
          if (options.durable ?? true) await fh.sync();
          await closeQuietly();
          const created = await this.place(tmp, target, options);
          done = true;
          const s = await stat(target);
          return { created, stat: statOf(s) };
        } catch (err) {
          done = true;
          await unlink(tmp).catch(() => undefined);
          throw storageError(err, `cannot commit ${key}`);
        }
      },
      abort: async () => {
        done = true;
        await closeQuietly();
        await unlink(tmp).catch(() => undefined);
      },
    };
  }

  async *list(prefix: string): AsyncIterable<BlobListing> {
    checkPrefix(prefix);
    const walk = async function* (this: DiskBlobStore, relDir: string): AsyncGenerator<BlobListing> {
      let entries;
      try {
        entries = await readdir(join(this.root, relDir), { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw storageError(err, `cannot list ${relDir}`);
      }
      // Key order, as an object store lists: a directory's keys all start with `name/`, so it sorts
      // as that ('list-x' comes before 'list/…', though the name 'list' comes before 'list-x').
      const sortKey = (e: { name: string; isDirectory(): boolean }) => (e.isDirectory() ? `${e.name}/` : e.name);
      entries.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
      // The files of a directory are stat'ed together (a package directory holds a handful; a
      // one-by-one walk over 150,000 objects spent most of its time waiting on each stat in turn).
      const stats = new Map<string, Promise<Stats | null>>();
      for (const e of entries) if (e.isFile()) stats.set(e.name, stat(join(this.root, relDir, e.name)).catch(() => null));
      for (const e of entries) {
        if (relDir === '' && RESERVED_TOP.has(e.name)) continue;
        const key = `${relDir}${e.name}`;
        if (e.isDirectory()) {
          yield* walk.call(this, `${key}/`);
        } else if (e.isFile()) {
          const s = await stats.get(e.name);
          if (s?.isFile()) yield { key, ...statOf(s) };
        }
      }
    };
    yield* walk.call(this, prefix);
  }

  async *listChildren(prefix: string): AsyncIterable<string> {
    checkPrefix(prefix);
    let names: string[];
    try {
      names = await readdir(join(this.root, prefix));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw storageError(err, `cannot list ${prefix}`);
    }
    for (const name of names.sort()) {
      if (prefix === '' && RESERVED_TOP.has(name)) continue;
      yield name;
    }
  }

  async delete(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw storageError(err, `cannot delete ${key}`);
    }
    // Empty directories of a deleted package version go too (best effort; never above the root).
    let dir = dirname(path);
    while (dir.startsWith(`${this.root}/`) && dir !== this.root) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
    return true;
  }

  async close(): Promise<void> {
    // Nothing held open.
  }
}
