// The disk blob store (the default: --cache-dir) against the blob store compliance suite.

import { readdir, rm } from 'node:fs/promises';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { LocalTemp } from '../../src/storage/local-temp.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { runBlobStoreCompliance } from './compliance.ts';

runBlobStoreCompliance({
  name: 'disk',
  partBytes: 1024 * 1024,
  flatMemory: true,
  atomicIfAbsent: true,
  async open() {
    const dir = await makeTempDir('disk-store');
    const store = new DiskBlobStore(dir);
    const temp = new LocalTemp(dir);
    return {
      store,
      // Files only: the process's own directory in the temp area (tmp/p-{host}-{pid}) may stay, empty.
      leftovers: async () =>
        (await readdir(temp.dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => !e.isDirectory()).map((e) => e.name),
      async close() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});
