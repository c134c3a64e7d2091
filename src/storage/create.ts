// Picks the blob store the configuration names: the cache directory (default) or S3-compatible object
// storage (--blob-store s3://bucket/prefix). Either way --cache-dir stays the local scratch area.

import { ConfigError, parseBlobStoreUrl, type Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from './blob-store.ts';
import { DiskBlobStore } from './disk-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

export type BlobStoreConfig = Pick<Config, 'cacheDir' | 'blobStore' | 's3Endpoint' | 's3Region' | 's3ForcePathStyle'>;

export async function createBlobStore(config: BlobStoreConfig, log?: Logger): Promise<BlobStore> {
  if (config.blobStore === null) return new DiskBlobStore(config.cacheDir);
  const { location, problems } = parseBlobStoreUrl(config.blobStore);
  if (!location) throw new ConfigError(problems.map((p) => `--blob-store ${config.blobStore}: ${p}`));
  return new S3BlobStore({
    bucket: location.bucket,
    prefix: location.prefix,
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    ...(log ? { log: log.child({ component: 's3' }) } : {}),
  });
}
