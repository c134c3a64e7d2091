// The in-memory test double against the blob store compliance suite.

import { MemoryBlobStore } from '../helpers/memory-blob-store.ts';
import { runBlobStoreCompliance } from './compliance.ts';

runBlobStoreCompliance({
  name: 'memory (test double)',
  partBytes: 1024 * 1024,
  flatMemory: false,
  atomicIfAbsent: true,
  async open() {
    const store = new MemoryBlobStore();
    return {
      store,
      leftovers: async () => (store.openWrites > 0 ? [`${store.openWrites} pending write(s)`] : []),
      close: () => store.close(),
    };
  },
});
