// Picks the blob store the configuration names: the cache directory (default) or S3-compatible object
// storage (--blob-store s3://bucket/prefix). Either way --cache-dir stays the local scratch area.

import { existsSync } from 'node:fs';
import { ConfigError, parseBlobStoreUrl, type Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { StorageError, type BlobStore } from './blob-store.ts';
import { DiskBlobStore } from './disk-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

export type BlobStoreConfig = Pick<Config, 'cacheDir' | 'blobStore' | 's3Endpoint' | 's3Region' | 's3ForcePathStyle'>;

/** `mustExist`: refuse a cache directory that is not there (a mistyped --cache-dir), instead of starting an empty cache. */
export async function createBlobStore(config: BlobStoreConfig, log?: Logger, options: { mustExist?: boolean } = {}): Promise<BlobStore> {
  if (config.blobStore === null) {
    if (options.mustExist && !existsSync(config.cacheDir))
      throw new StorageError(`there is no cache at ${config.cacheDir} (set --cache-dir or NUGET_PROXY_CACHE_DIR to the proxy's, or --blob-store for object storage)`, 'NO_CACHE');
    return new DiskBlobStore(config.cacheDir);
  }
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
