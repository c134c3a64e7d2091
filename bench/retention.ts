// Benchmark: retention sweep throughput. A store holding N package versions (each a .nupkg, .sha512 and
// .nuspec, as fills leave them) with access records for all of them; one sweep evicts down to a quota
// that keeps half. Prints the inventory time, eviction rate (versions/s, MB/s) and the whole sweep, on the
// disk store and on S3 (s3rver on 127.0.0.1), in-process (the Sweeper the proxy runs).
//
// Knobs: BENCH_RETENTION_VERSIONS (disk, default 20000), BENCH_RETENTION_S3_VERSIONS (default 2000; 0 skips
// S3), BENCH_RETENTION_KB (size of each .nupkg, default 64).

import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { accessDeltaKey, packageKey } from '../src/storage/layout.ts';
import { writeBlob, type BlobStore } from '../src/storage/blob-store.ts';
import { DiskBlobStore } from '../src/storage/disk-blob-store.ts';
import { serializeAccessMap } from '../src/retention/access-log.ts';
import { Sweeper } from '../src/retention/sweeper.ts';
import { pseudoRandomBytes } from '../test/helpers/packages.ts';
import { startS3 } from '../test/helpers/s3.ts';
import { commitOf, machineLine } from './lib/machine.ts';
import { progress, table } from './lib/stats.ts';

const DISK_VERSIONS = Number(process.env['BENCH_RETENTION_VERSIONS'] ?? 20_000);
const S3_VERSIONS = Number(process.env['BENCH_RETENTION_S3_VERSIONS'] ?? 2_000);
const NUPKG_BYTES = Number(process.env['BENCH_RETENTION_KB'] ?? 64) * 1024;
const WRITE_CONCURRENCY = 32;

async function populate(blobs: BlobStore, versions: number): Promise<{ bytes: number; ms: number }> {
  const started = performance.now();
  const nupkg = pseudoRandomBytes(NUPKG_BYTES, 7);
  const served = new Map<string, number>();
  const now = Date.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < versions; i = next++) {
      const id = `bench.retention.p${String(i).padStart(6, '0')}`;
      await writeBlob(blobs, packageKey(id, '1.0.0', 'sha512'), 'x'.repeat(88), { durable: false });
      await writeBlob(blobs, packageKey(id, '1.0.0', 'nuspec'), `<package><metadata><id>${id}</id><version>1.0.0</version></metadata></package>`, { durable: false });
      await writeBlob(blobs, packageKey(id, '1.0.0', 'nupkg'), nupkg, { durable: false });
      // Older ids were served longer ago: the sweep evicts the first half.
      served.set(`${id}/1.0.0`, now - (versions - i) * 1000);
      if (i % 1000 === 0) progress(`populated ${i}/${versions}`);
    }
  };
  await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
  await writeBlob(blobs, accessDeltaKey(now, 'bench'), serializeAccessMap(served));
  const perVersion = NUPKG_BYTES + 88 + 100;
  return { bytes: versions * perVersion, ms: performance.now() - started };
}

async function measure(name: string, blobs: BlobStore, versions: number): Promise<Array<string | number>> {
  progress(`${name}: writing ${versions} versions`);
  const { bytes, ms: populateMs } = await populate(blobs, versions);
  const sweeper = new Sweeper({
    blobs,
    log: createLogger({ level: 'silent', format: 'json' }),
    metrics: createMetrics({ defaultMetrics: false }),
    // The sweep evicts past 95% of the quota down to 90%: this quota keeps about half.
    policy: { maxBytes: Math.floor((bytes * 0.5) / 0.9), evictUnusedMs: null, graceMs: 0 },
  });
  progress(`${name}: sweeping`);
  const result = await sweeper.sweep();
  if (!result) throw new Error('the sweep did not run');
  await sweeper.close();
  const seconds = result.durationMs / 1000;
  return [
    name,
    versions.toLocaleString('en-US'),
    (populateMs / 1000).toFixed(1),
    result.evicted.length.toLocaleString('en-US'),
    (result.evictedBytes / 1e6).toFixed(0),
    seconds.toFixed(2),
    Math.round(result.evicted.length / seconds).toLocaleString('en-US'),
    (result.evictedBytes / 1e6 / seconds).toFixed(1),
  ];
}

export async function run(): Promise<string> {
  const rows: Array<Array<string | number>> = [];
  const dir = join(tmpdir(), `nuget-proxy-bench-retention-${process.pid}`);
  try {
    rows.push(await measure('disk', new DiskBlobStore(dir), DISK_VERSIONS));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (S3_VERSIONS > 0) {
    const s3 = await startS3();
    try {
      rows.push(await measure('S3 (s3rver)', s3.createStore(`bench-${Date.now()}/`), S3_VERSIONS));
    } finally {
      await s3.stop();
    }
  }
  return [
    `retention: nuget-proxy ${commitOf()}; ${machineLine()}; each version = ${NUPKG_BYTES / 1024} KB .nupkg + .sha512 + .nuspec; one sweep (inventory, fold access records, evict the least recently served half)`,
    table(['store', 'versions', 'populate s', 'evicted', 'evicted MB', 'sweep s', 'versions/s', 'MB/s'], rows),
  ].join('\n');
}
