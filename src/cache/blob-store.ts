// Files on disk under one root: write to a temp file, fsync, rename into place; read back by relative path.
// Knows nothing of NuGet. Every path is checked to stay inside the root.

import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export class UnsafePathError extends Error {}

export class BlobStore {
  readonly root: string;
  readonly tmpDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    // Leftovers of fills that a crash interrupted are never valid: remove them — except an import's
    // staging directory that may belong to an import running right now (another process).
    const now = Date.now();
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      if (name.startsWith('import-')) {
        const s = await stat(path).catch(() => null);
        if (s && now - s.mtimeMs < 3600_000) continue;
      }
      await rm(path, { recursive: true, force: true });
    }
  }

  /** The absolute path of `rel`, refusing anything that would leave the root. */
  resolve(rel: string): string {
    if (rel.length === 0 || isAbsolute(rel) || rel.includes('\0') || rel.split(/[\\/]/).some((s) => s === '..' || s === '.'))
      throw new UnsafePathError(`unsafe cache path: ${JSON.stringify(rel)}`);
    const abs = resolve(this.root, rel);
    const back = relative(this.root, abs);
    if (back.startsWith('..') || isAbsolute(back) || back === '') throw new UnsafePathError(`unsafe cache path: ${JSON.stringify(rel)}`);
    return abs;
  }

  /** A fresh path in the temp directory (same filesystem as the cache, so rename is atomic). */
  tempPath(hint: string): string {
    return join(this.tmpDir, `${randomBytes(8).toString('hex')}-${hint.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}`);
  }

  async stat(rel: string): Promise<{ size: number; mtimeMs: number } | null> {
    try {
      const s = await stat(this.resolve(rel));
      return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : null;
    } catch {
      return null;
    }
  }

  async exists(rel: string): Promise<boolean> {
    return (await this.stat(rel)) !== null;
  }

  /** Makes a completed temp file visible at `rel`: fsync its data, then rename (atomic on POSIX). */
  async commit(tempPath: string, rel: string): Promise<void> {
    const target = this.resolve(rel);
    const fh = await open(tempPath, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(tempPath, target);
  }

  /** Writes a small file atomically. */
  async write(rel: string, data: Buffer | string): Promise<void> {
    const tmp = this.tempPath(rel.split(sep).pop() ?? 'file');
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await mkdir(dirname(this.resolve(rel)), { recursive: true });
      await rename(tmp, this.resolve(rel));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async read(rel: string): Promise<Buffer | null> {
    try {
      return await readFile(this.resolve(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** The first `bytes` bytes of a file (content sniffing), without reading the rest. */
  async readHead(rel: string, bytes: number): Promise<Buffer> {
    const fh = await open(this.resolve(rel), 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  /** Large reads: a package is sent in 512 KiB chunks rather than fs's 64 KiB default (fewer syscalls and hops). */
  createReadStream(rel: string): ReadStream {
    return createReadStream(this.resolve(rel), { highWaterMark: 512 * 1024 });
  }

  /** Names in a directory under the root; [] when it does not exist. */
  async list(relDir: string): Promise<string[]> {
    try {
      return await readdir(this.resolve(relDir));
    } catch {
      return [];
    }
  }

  async removeTemp(tempPath: string): Promise<void> {
    await rm(tempPath, { force: true });
  }
}
