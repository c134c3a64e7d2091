// Benchmark: the web page over a large cache. Writes BENCH_WEB_VERSIONS package versions (default
// 50,000: 10,000 ids × 5 versions, each a .nupkg, .nuspec and .sha512) into a disk blob store, starts the
// compiled proxy on it (offline, 127.0.0.1), and measures: the catalog's one listing of packages/, the
// first page view, then sequential page renders (median and p95 over BENCH_WEB_REQUESTS each), wrk
// throughput on the overview when wrk is installed, and the proxy's memory with the catalog built.

import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeBlob } from '../src/storage/blob-store.ts';
import { DiskBlobStore } from '../src/storage/disk-blob-store.ts';
import { packageKey } from '../src/storage/layout.ts';
import { timedGet } from './lib/http.ts';
import { spawnProxy } from './lib/processes.ts';
import { percentile, table } from './lib/stats.ts';

const VERSIONS = Number(process.env['BENCH_WEB_VERSIONS'] ?? 50_000);
const PER_ID = 5;
const REQUESTS = Number(process.env['BENCH_WEB_REQUESTS'] ?? 40);

function nuspec(id: string, version: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${id}</id>
    <version>${version}</version>
    <authors>Bench</authors>
    <description>Benchmark package ${id} ${version}: a description of ordinary length for the list page.</description>
    <dependencies><group targetFramework="net8.0"><dependency id="Bench.Pkg.00000" version="1.0.0" /></group></dependencies>
  </metadata>
</package>`;
}

/** 50,000 versions as a proxy would have filled them (bounded parallel writes). */
async function populate(blobs: DiskBlobStore): Promise<number> {
  const started = performance.now();
  const ids = Math.ceil(VERSIONS / PER_ID);
  let next = 0;
  const worker = async () => {
    while (next < VERSIONS) {
      const n = next++;
      const id = `Bench.Pkg.${String(n % ids).padStart(5, '0')}`;
      const lowerId = id.toLowerCase();
      const version = `1.${Math.floor(n / ids)}.0`;
      await writeBlob(blobs, packageKey(lowerId, version, 'sha512'), 'c2hhNTEy', { durable: false });
      await writeBlob(blobs, packageKey(lowerId, version, 'nuspec'), nuspec(id, version), { durable: false });
      await writeBlob(blobs, packageKey(lowerId, version, 'nupkg'), Buffer.alloc(2048 + (n % 97) * 512), { durable: false });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return performance.now() - started;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

async function wrkRequestsPerSecond(url: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('wrk', ['-t1', '-c4', '-d5s', '--timeout', '10s', url], { timeout: 30_000 });
    return /Requests\/sec:\s+([0-9.]+)/.exec(stdout)?.[1] ?? 'n/a';
  } catch {
    return 'wrk not available';
  }
}

export async function run(): Promise<string> {
  const dir = join(tmpdir(), `nuget-proxy-bench-web-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const blobs = new DiskBlobStore(dir);
  const populateMs = await populate(blobs);
  const proxy = await spawnProxy({ env: { NUGET_PROXY_CACHE_DIR: dir, NUGET_PROXY_OFFLINE: 'true', NUGET_PROXY_LOG_LEVEL: 'info' }, logFile: join(tmpdir(), `nuget-proxy-bench-web-${process.pid}.log`) });
  const rows: Array<Array<string | number>> = [];
  try {
    const pid = proxy.pid;
    // The first view starts the catalog's listing and waits for it (up to 5 s, then says "still reading").
    const t0 = performance.now();
    const first = await timedGet(`${proxy.url}/`);
    let readyMs = NaN;
    for (let i = 0; i < 1200 && Number.isNaN(readyMs); i++) {
      const body = await fetch(`${proxy.url}/?q=bench.pkg.${String(Math.ceil(VERSIONS / PER_ID) - 1).padStart(5, '0')}`).then((r) => r.text());
      if (body.includes('1 cached package matches')) readyMs = performance.now() - t0;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    rows.push(['first view of / (starts the listing, waits up to 5 s)', first.ms, first.ms, first.status]);
    rows.push([`catalog complete (one listing of ${VERSIONS * 3} objects)`, readyMs, readyMs, 200]);
    const measure = async (label: string, path: (i: number) => string) => {
      const ms: number[] = [];
      let status = 0;
      for (let i = 0; i < REQUESTS; i++) {
        const r = await timedGet(`${proxy.url}${path(i)}`);
        status = r.status;
        ms.push(r.ms);
      }
      rows.push([label, percentile(ms, 50), percentile(ms, 95), status]);
    };
    const pages = Math.ceil(VERSIONS / PER_ID / 50);
    await measure('/ (status + first 50 packages)', () => '/');
    await measure('/?page=N (a different page each time: nuspecs read cold)', (i) => `/?page=${1 + ((i * 37) % pages)}`);
    await measure('/?q=pkg.0123 (search, 11 matches)', () => '/?q=pkg.0123');
    await measure('/?q=bench (search, every id, page 1)', () => '/?q=bench');
    await measure('/?sort=size', () => '/?sort=size');
    await measure('/?sort=served', () => '/?sort=served');
    await measure('/packages/{id} (5 versions, nuspec, deps)', (i) => `/packages/bench.pkg.${String(i * 7).padStart(5, '0')}`);
    const rps = await wrkRequestsPerSecond(`${proxy.url}/`);
    const rss = await rssMb(pid);
    return [
      `web page with ${VERSIONS} cached versions (${Math.ceil(VERSIONS / PER_ID)} ids), disk store; store written in ${(populateMs / 1000).toFixed(1)} s`,
      table(['request', 'median ms', 'p95 ms', 'status'], rows),
      `wrk -t1 -c4 -d5s on /: ${rps} requests/s; proxy RSS with the catalog built: ${rss.toFixed(0)} MB`,
    ].join('\n');
  } finally {
    await proxy.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
