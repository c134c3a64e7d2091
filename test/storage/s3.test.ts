// The S3 blob store against the blob store compliance suite, on a real S3-compatible server (s3rver on
// 127.0.0.1, see test/helpers/s3.ts).

import { MIN_PART_BYTES } from '../../src/storage/s3-blob-store.ts';
import { startS3 } from '../helpers/s3.ts';
import { runBlobStoreCompliance } from './compliance.ts';

runBlobStoreCompliance({
  name: 's3 (s3rver)',
  partBytes: MIN_PART_BYTES,
  flatMemory: true,
  // ifAbsent is a HEAD before commit: servers differ on conditional writes (s3rver ignores them).
  atomicIfAbsent: false,
  async open() {
    const s3 = await startS3();
    const store = s3.createStore('compliance/', { partBytes: MIN_PART_BYTES });
    return {
      store,
      leftovers: () => s3.incompleteUploads(),
      async close() {
        await store.close();
        await s3.stop();
      },
    };
  },
});
