// What a cache directory holds, for the fault tests: files under a folder, temp files left behind, and
// whether every metadata object is a complete entry.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMetadataHead } from '../../src/storage/blob-keyv-store.ts';
import { deserializeEntry, type MetaEntry } from '../../src/storage/metadata-store.ts';

/** Every file under `dir` (recursively), absolute paths; [] when `dir` does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Files in the local temp area (tmp/) and stray `*.tmp` files anywhere in the cache directory. */
export async function tempFiles(cacheDir: string): Promise<string[]> {
  const all = await filesUnder(cacheDir);
  return all.filter((f) => f.startsWith(join(cacheDir, 'tmp') + '/') || f.endsWith('.tmp'));
}

/** The metadata objects under metadata/ that are not complete entries (a partial write would be one). */
export async function brokenMetadataFiles(cacheDir: string): Promise<string[]> {
  const broken: string[] = [];
  for (const file of await filesUnder(join(cacheDir, 'metadata'))) {
    const data = await readFile(file);
    const head = parseMetadataHead(data);
    const nl = data.indexOf(0x0a);
    const entry = head && nl >= 0 ? deserializeEntry<MetaEntry>(data.subarray(nl + 1).toString('utf8')) : undefined;
    const value = entry?.value;
    let complete = value !== undefined && value.status === head?.status;
    // A stored document is JSON: a cut-short write would not parse.
    if (complete && value?.status === 200) {
      try {
        JSON.parse(value.body);
      } catch {
        complete = false;
      }
    }
    if (!complete) broken.push(file);
  }
  return broken;
}
