// Benchmark: the proxy's peak memory while it fills and serves packages of growing size. Fills stream
// from upstream to a temp file and are served from disk, so peak RSS must not grow with package size.
// Each size runs in a fresh proxy process (its own high-water mark); everything on 127.0.0.1.
//
// Knobs: BENCH_SIZES_MB (1,64,256).

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes } from '../test/helpers/packages.ts';
import { commitOf } from './lib/machine.ts';
import { flatContainerOf, timedGet } from './lib/http.ts';
import { peakRssMb, spawnProxy } from './lib/processes.ts';
import { table } from './lib/stats.ts';

const SIZES_MB = (process.env['BENCH_SIZES_MB'] ?? '1,64,256').split(',').map(Number);

export async function run(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-mem-'));
  const files: string[] = [];
  try {
    for (const mb of SIZES_MB) {
      const file = join(dir, `bench.big${mb}.1.0.0.nupkg`);
      // Incompressible content, so the .nupkg really is that large.
      await writeFile(file, buildPackage({ id: `Bench.Big${mb}`, version: '1.0.0', description: `${mb} MB`, extraFiles: { 'content/blob.bin': pseudoRandomBytes(mb * 1024 * 1024, mb) } }));
      files.push(file);
    }
    const upstream = await startFakeUpstream({ packages: files });
    const rows: Array<Array<string | number>> = [];
    try {
      for (const [i, mb] of SIZES_MB.entries()) {
        const proxy = await spawnProxy({ env: { NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_CACHE_DIR: join(dir, `cache-${mb}`) }, logFile: join(dir, 'proxy.log') });
        try {
          const idle = await peakRssMb(proxy.pid);
          const id = `bench.big${mb}`;
          const url = `${await flatContainerOf(`${proxy.url}/v3/index.json`, 'nuget-proxy')}${id}/1.0.0/${id}.1.0.0.nupkg`;
          const fill = await timedGet(url);
          const afterFill = await peakRssMb(proxy.pid);
          // Four concurrent cached downloads.
          const served = await Promise.all([1, 2, 3, 4].map(() => timedGet(url)));
          const afterServe = await peakRssMb(proxy.pid);
          const expected = (await readFile(files[i] as string)).length;
          if (fill.status !== 200 || fill.bytes !== expected || served.some((s) => s.bytes !== expected)) throw new Error(`bad download for ${mb} MB`);
          rows.push([mb, (expected / 1024 / 1024).toFixed(1), Math.round(fill.ms), Math.round(Math.max(...served.map((s) => s.ms))), idle.toFixed(0), afterFill.toFixed(0), afterServe.toFixed(0)]);
        } finally {
          await proxy.stop();
        }
      }
    } finally {
      await upstream.stop();
    }
    return [
      `blob-memory: nuget-proxy ${commitOf()} (compiled build); peak RSS (VmHWM) of the proxy process filling and serving one package of each size`,
      table(['package MB', 'file MB', 'fill ms', '4× cached ms', 'peak RSS idle MB', 'after fill MB', 'after 4 downloads MB'], rows),
    ].join('\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
