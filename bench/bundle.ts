// Benchmark: prefetch throughput (packages/s, MB/s) against the fake upstream serving every standard test
// package and the real packages in /opt/nuget/packages (in its own process), then export and import of
// that cache, and of a cache with one large package to show import streams (peak RSS stays flat).
// Everything on 127.0.0.1 and a temp directory, bounded by the package set.

import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { writeBlobFrom } from '../src/storage/blob-store.ts';
import { createBlobStore } from '../src/storage/create.ts';
import { packageKey } from '../src/storage/layout.ts';
import { exportBundle } from '../src/bundles/export.ts';
import { importBundle } from '../src/bundles/import.ts';
import { prefetch } from '../src/prefetch/prefetch.ts';
import { startFakeUpstreamProcess } from './lib/fake-upstream-process.ts';
import { table } from './lib/stats.ts';
import { pseudoRandomBytes, standardTestPackages } from '../test/helpers/packages.ts';
import { realPackagePaths } from '../test/helpers/fake-upstream.ts';

const BIG_MB = Number(process.env['BENCH_BIG_MB'] ?? 512);
const log = createLogger({ level: 'silent', format: 'json' });
const MB = 1024 * 1024;

/** Samples RSS while `fn` runs; returns its result, the wall time and the peak RSS growth. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; peakRssMb: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t = performance.now();
  try {
    const value = await fn();
    return { value, seconds: (performance.now() - t) / 1000, peakRssMb: (Math.max(peak, process.memoryUsage().rss) - base) / MB };
  } finally {
    clearInterval(timer);
  }
}

/** A cache holding one package file of `mb` incompressible megabytes, written through the storage API in chunks. */
async function bigCache(dir: string, mb: number): Promise<void> {
  const store = await createBlobStore(parseConfig('export', [], { NUGET_PROXY_CACHE_DIR: dir }).config);
  const chunk = pseudoRandomBytes(MB);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < mb; i++) yield chunk;
  }
  await writeBlobFrom(store, packageKey('contoso.big', '1.0.0', 'nupkg'), chunks());
}

function row(name: string, packages: number | string, bytes: number, seconds: number, peakRssMb: number | string): Array<string | number> {
  return [name, packages, bytes / MB, seconds, typeof packages === 'number' && seconds > 0 ? packages / seconds : '', bytes / MB / seconds, peakRssMb];
}

export async function run(): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-bundle-'));
  const upstream = await startFakeUpstreamProcess();
  try {
    const specs = standardTestPackages().map((s) => `${s.id}@${s.version}`);
    const real = (await realPackagePaths()).map((p) => {
      const [id, version] = p.split('/').slice(-3, -1);
      return `${id ?? ''}@${version ?? ''}`;
    });
    const list = join(work, 'all.txt');
    await writeFile(list, `${[...specs, ...real].join('\n')}\n`);
    const cache = join(work, 'cache');
    const config = parseConfig('prefetch', [], { NUGET_PROXY_UPSTREAM: upstream.url, NUGET_PROXY_CACHE_DIR: cache, NUGET_PROXY_LOG_LEVEL: 'silent' }).config;

    const rows: Array<Array<string | number>> = [];
    const cold = await measured(() => prefetch(config, [list], { log }));
    if (cold.value.failures.length > 0) throw new Error(`prefetch failed: ${JSON.stringify(cold.value.failures.slice(0, 3))}`);
    rows.push(row(`prefetch, cold (concurrency ${config.concurrency})`, cold.value.packages.length, cold.value.bytesDownloaded, cold.seconds, cold.peakRssMb.toFixed(0)));
    const warm = await measured(() => prefetch(config, [list], { log }));
    rows.push(row('prefetch, warm (nothing to fetch)', warm.value.packages.length, 0, warm.seconds, warm.peakRssMb.toFixed(0)));

    const bundle = join(work, 'all.tar');
    const exp = await measured(() => exportBundle(parseConfig('export', ['--output', bundle], { NUGET_PROXY_CACHE_DIR: cache }).config, { log }));
    rows.push(row(`export (${exp.value.files} files)`, exp.value.packages, exp.value.bytes, exp.seconds, exp.peakRssMb.toFixed(0)));
    const imp = await measured(() => importBundle(parseConfig('import', [], { NUGET_PROXY_CACHE_DIR: join(work, 'imported') }).config, bundle, { log }));
    rows.push(row('import into an empty cache', imp.value.packagesAdded, imp.value.bytes, imp.seconds, imp.peakRssMb.toFixed(0)));
    const again = await measured(() => importBundle(parseConfig('import', [], { NUGET_PROXY_CACHE_DIR: join(work, 'imported') }).config, bundle, { log }));
    rows.push(row(`import again (${again.value.packageFilesUnchanged} files already present)`, exp.value.packages, again.value.bytes, again.seconds, again.peakRssMb.toFixed(0)));
    const gzBundle = join(work, 'all.tar.gz');
    const expGz = await measured(() => exportBundle(parseConfig('export', ['--output', gzBundle], { NUGET_PROXY_CACHE_DIR: cache }).config, { log }));
    rows.push(row(`export .tar.gz (${((await stat(gzBundle)).size / MB).toFixed(1)} MB)`, expGz.value.packages, expGz.value.bytes, expGz.seconds, expGz.peakRssMb.toFixed(0)));
    const impGz = await measured(() => importBundle(parseConfig('import', [], { NUGET_PROXY_CACHE_DIR: join(work, 'imported-gz') }).config, gzBundle, { log }));
    rows.push(row('import .tar.gz', impGz.value.packagesAdded, impGz.value.bytes, impGz.seconds, impGz.peakRssMb.toFixed(0)));

    const big = join(work, 'big');
    await bigCache(big, BIG_MB);
    await rm(bundle, { force: true });
    const bigBundle = join(work, 'big.tar');
    const expBig = await measured(() => exportBundle(parseConfig('export', ['--output', bigBundle], { NUGET_PROXY_CACHE_DIR: big }).config, { log }));
    rows.push(row(`export, one ${BIG_MB} MB package`, 1, expBig.value.bytes, expBig.seconds, expBig.peakRssMb.toFixed(0)));
    await rm(big, { recursive: true, force: true });
    const impBig = await measured(() => importBundle(parseConfig('import', [], { NUGET_PROXY_CACHE_DIR: join(work, 'big-imported') }).config, bigBundle, { log }));
    rows.push(row(`import, one ${BIG_MB} MB package`, 1, impBig.value.bytes, impBig.seconds, impBig.peakRssMb.toFixed(0)));

    return [
      `bundle: prefetch of ${specs.length} standard test packages + ${real.length} real nuget.org packages (with dependencies) from a local fake upstream, then export/import`,
      table(['phase', 'packages', 'MB', 'seconds', 'packages/s', 'MB/s', 'peak RSS +MB'], rows),
    ].join('\n');
  } finally {
    await upstream.stop();
    await rm(work, { recursive: true, force: true });
  }
}
