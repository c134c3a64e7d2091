// A keyv store adapter that keeps each entry as one file under a directory, written atomically, so
// metadata survives a restart (the embedded default, and the local tier beside Redis).

import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KeyvStoreAdapter, StoredData } from 'keyv';

/** Where an entry lives, relative to the store's directory: `{sha256[0:2]}/{sha256}.json`. */
export function diskEntryPath(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 2)}/${h}.json`;
}

export class DiskStore extends EventEmitter implements KeyvStoreAdapter {
  opts: { dialect: string; dir: string };
  namespace?: string | undefined;

  constructor(private readonly dir: string) {
    super();
    this.opts = { dialect: 'disk', dir };
  }

  private pathOf(key: string): { dir: string; file: string } {
    const file = join(this.dir, diskEntryPath(key));
    return { dir: dirname(file), file };
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    try {
      const text = await readFile(this.pathOf(key).file, 'utf8');
      const nl = text.indexOf('\n');
      // Line 1 is the key (guards against hash collisions), the rest is keyv's serialized value.
      if (nl < 0 || text.slice(0, nl) !== JSON.stringify(key)) return undefined;
      return text.slice(nl + 1) as StoredData<Value>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.emit('error', err);
      return undefined;
    }
  }

  async set(key: string, value: unknown): Promise<boolean> {
    const { dir, file } = this.pathOf(key);
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(key)}\n${String(value)}`);
    await rename(tmp, file);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    try {
      await rm(this.pathOf(key).file);
      return true;
    } catch {
      return false;
    }
  }

  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Every stored key (for export). */
  async *keys(): AsyncGenerator<string> {
    let shards: string[] = [];
    try {
      shards = await readdir(this.dir);
    } catch {
      return;
    }
    for (const shard of shards.sort()) {
      for (const name of (await readdir(join(this.dir, shard)).catch(() => [] as string[])).sort()) {
        if (!name.endsWith('.json')) continue;
        const text = await readFile(join(this.dir, shard, name), 'utf8').catch(() => '');
        const nl = text.indexOf('\n');
        if (nl > 0) yield JSON.parse(text.slice(0, nl)) as string;
      }
    }
  }
}
