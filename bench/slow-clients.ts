// Benchmark: memory and responsiveness under many slow downloads (issue 10: memory bounded by configuration,
// not by clients; issue 9: must not regress). Real sockets reading at a fixed rate from a separate process,
// a /healthz prober in this one, the proxy's RSS sampled from /proc. Scenarios:
//   1,000 clients at 100 KB/s on a 40 MB package held in the memory tier (defaults);
//   the same with a memory tier too small to hold it (streamed from disk, --max-package-streams 1000);
//   the same with the default stream cap (512): the rest queue, then get 503 + Retry-After;
//   20 clients at 100 KB/s on a 500 MB package (never held: larger than a quarter of the tier).
//
// Knobs: BENCH_SECONDS (30 per scenario), BENCH_CLIENTS (1000), BENCH_RATE_KB (100), BENCH_BIG_MB (500),
// BENCH_WORKERS (1).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPTIONS } from '../src/config.ts';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes } from '../test/helpers/packages.ts';
import { probeLatency, runSlowClientsApart } from '../test/helpers/slow-clients.ts';
import { commitOf, machineLine } from './lib/machine.ts';
import { flatContainerOf, timedGet } from './lib/http.ts';
import { memoryOf, sleep, spawnProxy } from './lib/processes.ts';
import { ms, progress, table } from './lib/stats.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 30);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 1000);
const RATE_KB = Number(process.env['BENCH_RATE_KB'] ?? 100);
const BIG_MB = Number(process.env['BENCH_BIG_MB'] ?? 500);
const RSS_TARGET_MB = 300;
const HEALTHZ_P99_TARGET_MS = 50;
/** The memory tier a scenario configures (MB): the targets are "… plus the configured memory tier". */
const configuredTierMb = (env: Readonly<Record<string, string>>): number =>
  Number(env['NUGET_PROXY_MEMORY_CACHE_MB'] ?? OPTIONS.find((o) => o.key === 'memoryCacheMb')?.default);
/** One process, as the container and the chart run it; RSS is summed over the primary and its workers either way. */
const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 1);

interface Scenario {
  readonly name: string;
  readonly clients: number;
  readonly packageId: string;
  readonly env: Readonly<Record<string, string>>;
  /** Downloads before the clients start (the second one puts a large package in the memory tier). */
  readonly warmDownloads: number;
  /** RSS target in MB above which the row is "not met" (before adding the memory tier). */
  readonly rssTargetMb: number;
}

async function scenario(dir: string, upstreamIndex: string, s: Scenario): Promise<Array<string | number>> {
  const proxy = await spawnProxy({ env: { NUGET_PROXY_UPSTREAM: upstreamIndex, NUGET_PROXY_CACHE_DIR: join(dir, 'cache'), ...s.env }, logFile: join(dir, 'proxy.log'), workers: WORKERS });
  const rss = async () => (await memoryOf(await proxy.pids())).rssMb;
  try {
    const id = s.packageId.toLowerCase();
    const url = `${await flatContainerOf(`${proxy.url}/v3/index.json`, 'nuget-proxy')}${id}/1.0.0/${id}.1.0.0.nupkg`;
    for (let i = 0; i < s.warmDownloads; i++) {
      const r = await timedGet(url);
      if (r.status !== 200) throw new Error(`warm download: ${r.status}`);
    }
    await sleep(1000); // a promotion into memory finishes; RSS settles
    const baseline = await rss();
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rss());
        await sleep(200);
      }
    })();
    progress(`${s.name}: ${s.clients} clients at ${RATE_KB} KB/s for ${SECONDS} s (RSS before: ${baseline.toFixed(0)} MB)`);
    const clients = runSlowClientsApart({ url, clients: s.clients, bytesPerSecond: RATE_KB * 1000, seconds: SECONDS, rampMs: 1000 });
    const probe = probeLatency(`${proxy.url}/healthz`, 20, clients);
    const [c, p] = await Promise.all([clients, probe]);
    sampling = false;
    await sampler;
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    const tierMb = Number(/^nuget_proxy_memory_tier_bytes ([0-9.e+]+)$/m.exec(metrics)?.[1] ?? 0) / 1024 / 1024;
    const stalled = Number(/^nuget_proxy_stalled_clients_total ([0-9.e+]+)$/m.exec(metrics)?.[1] ?? 0);
    const statuses = Object.entries(c.statuses).map(([k, v]) => `${v}× ${k}`).join(', ');
    const configured = configuredTierMb(s.env);
    const rssOk = peak <= s.rssTargetMb + configured;
    progress(`${s.name}: peak RSS ${peak.toFixed(0)} MB (tier ${tierMb.toFixed(0)} MB), /healthz p99 ${ms(p.p99Ms)} ms, ${statuses}`);
    return [
      s.name,
      s.clients,
      statuses || '—',
      c.receiving,
      (c.bytes / 1e6).toFixed(0),
      ((c.bytes / 1e6) / SECONDS).toFixed(1),
      baseline.toFixed(0),
      peak.toFixed(0),
      tierMb.toFixed(0),
      (peak - tierMb).toFixed(0),
      `≤ ${s.rssTargetMb} + ${configured} configured (${rssOk ? 'met' : 'not met'})`,
      ms(p.p50Ms),
      ms(p.p99Ms),
      ms(p.maxMs),
      `≤ ${HEALTHZ_P99_TARGET_MS} (${p.p99Ms <= HEALTHZ_P99_TARGET_MS && p.failures === 0 ? 'met' : 'not met'})`,
      c.cutOff + c.errors + stalled,
    ];
  } finally {
    await proxy.stop();
    await rm(join(dir, 'cache'), { recursive: true, force: true });
  }
}

export async function run(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-slow-'));
  const machine = machineLine();
  try {
    progress(`writing packages (40 MB, ${BIG_MB} MB)`);
    const files: string[] = [];
    for (const [id, mb, seed] of [['Bench.Slow40', 40, 40], [`Bench.Slow${BIG_MB}`, BIG_MB, 500]] as const) {
      const file = join(dir, `${id.toLowerCase()}.1.0.0.nupkg`);
      await writeFile(file, buildPackage({ id, version: '1.0.0', extraFiles: { 'content/blob.bin': pseudoRandomBytes(mb * 1000 * 1000, seed) } }));
      files.push(file);
    }
    const upstream = await startFakeUpstream({ packages: files });
    const rows: Array<Array<string | number>> = [];
    try {
      const scenarios: Scenario[] = [
        { name: '40 MB, held in memory (defaults)', clients: CLIENTS, packageId: 'Bench.Slow40', env: {}, warmDownloads: 2, rssTargetMb: RSS_TARGET_MB },
        {
          name: '40 MB, from disk (--memory-cache-mb 16 --max-package-streams 1000)',
          clients: CLIENTS,
          packageId: 'Bench.Slow40',
          env: { NUGET_PROXY_MEMORY_CACHE_MB: '16', NUGET_PROXY_MAX_PACKAGE_STREAMS: '1000' },
          warmDownloads: 1,
          rssTargetMb: RSS_TARGET_MB,
        },
        { name: '40 MB, from disk (--memory-cache-mb 16, default stream cap)', clients: CLIENTS, packageId: 'Bench.Slow40', env: { NUGET_PROXY_MEMORY_CACHE_MB: '16' }, warmDownloads: 1, rssTargetMb: RSS_TARGET_MB },
        { name: `${BIG_MB} MB (issue 9: must not regress)`, clients: 20, packageId: `Bench.Slow${BIG_MB}`, env: {}, warmDownloads: 1, rssTargetMb: 150 },
      ];
      for (const s of scenarios) rows.push(await scenario(dir, upstream.serviceIndexUrl, s));
    } finally {
      await upstream.stop();
    }
    return [
      `slow-clients: nuget-proxy ${commitOf()} (compiled build, ${WORKERS} worker${WORKERS === 1 ? '' : 's'}, RSS summed over its processes); clients read at ${RATE_KB} KB/s each (token bucket, separate process), ` +
        `opened over 1 s, for ${SECONDS} s; /healthz probed every 20 ms meanwhile; RSS sampled every 200 ms`,
      `machine: ${machine}`,
      '',
      table(
        ['scenario', 'clients', 'statuses', 'receiving at end', 'MB sent', 'MB/s', 'RSS before MB', 'peak RSS MB', 'memory tier MB', 'peak − tier in use MB', 'RSS target MB', 'healthz p50 ms', 'healthz p99 ms', 'healthz max ms', 'p99 target ms', 'cut off / stalled'],
        rows,
      ),
    ].join('\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
