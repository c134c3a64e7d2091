// Benchmark: nuget-proxy's hit path against nginx as a proxy_cache in front of the same feed, the
// reference a sysadmin would pick. Everything warm, load from wrk, same CPU budget for both servers,
// each comparison run A B A B A B in the same run; prints median ratios beside the targets of issue 9.
// A third server in each round, a bare node:http answering the proxy's bytes from memory (lib/node-http.ts),
// shows Node's own floor on the same CPUs: how much of the gap is the runtime and how much the proxy.
//
// Knobs: BENCH_WORKERS (1: proxy workers = nginx worker_processes = CPUs the servers are pinned to),
// BENCH_SECONDS (5 per measured run), BENCH_PIN=0 (no taskset), BENCH_KEEP_TMP=1 (keep configs and logs).

import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { pseudoRandomBytes, writePackages, type PackageSpec } from '../test/helpers/packages.ts';
import { commitOf, machineLine } from './lib/machine.ts';
import { startNginxCache } from './lib/nginx.ts';
import { startNodeHttp, type HeldReply } from './lib/node-http.ts';
import { cpuPlan, spawnProxy, type CpuPlan } from './lib/processes.ts';
import { NGINX, TASKSET, WRK, requireTools } from './lib/requirements.ts';
import { decoded, flatContainerOf, get, sha512 } from './lib/http.ts';
import { count, median, ms, progress, rate, ratio, table } from './lib/stats.ts';
import { NUGET_CLIENT_HEADERS, runWrk, type WrkResult } from './lib/wrk.ts';

const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 1);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const WARMUP_SECONDS = 2;
const ROUNDS = 3;
const THREADS = 2;

const HOT = { id: 'Bench.Hot', version: '1.0.0', bytes: 100 * 1000 };
const LARGE = { id: 'Bench.Large', version: '1.0.0', bytes: 40 * 1000 * 1000 };
const VERSIONS = { id: 'Bench.Versions', count: 40 };

interface Row {
  readonly name: string;
  readonly connections: number;
  /** Throughput in bytes (GB/s) rather than requests per second. */
  readonly throughput: boolean;
  /** Path on each server, from that server's flat-container base (or its origin for the service index). */
  url(s: Server): string;
  /** Target for proxy/nginx (higher is better). */
  readonly target: number;
  /** Target for the proxy's p99 over nginx's; null: none (the p99 target is for 64 connections). */
  readonly p99Target: number | null;
}

interface Server {
  readonly name: string;
  readonly origin: string;
  readonly flat: string;
  pids(): Promise<number[]>;
}

const lower = (s: string): string => s.toLowerCase();
const nupkgPath = (p: { id: string; version: string }): string => `${lower(p.id)}/${p.version}/${lower(p.id)}.${p.version}.nupkg`;

const HOT_NUPKG: Row = { name: '100 KB .nupkg', connections: 64, throughput: false, url: (s) => `${s.flat}${nupkgPath(HOT)}`, target: 0.8, p99Target: 2 };
const LARGE_NUPKG: Row = { name: '40 MB .nupkg', connections: 8, throughput: true, url: (s) => `${s.flat}${nupkgPath(LARGE)}`, target: 0.8, p99Target: null };
const VERSION_LIST: Row = {
  name: 'flat-container version list (small JSON)',
  connections: 64,
  throughput: false,
  url: (s) => `${s.flat}${lower(VERSIONS.id)}/index.json`,
  target: 0.5,
  p99Target: 2,
};
const SERVICE_INDEX: Row = { name: 'service index', connections: 64, throughput: false, url: (s) => `${s.origin}/v3/index.json`, target: 0.5, p99Target: 2 };
const ROWS: readonly Row[] = [HOT_NUPKG, LARGE_NUPKG, VERSION_LIST, SERVICE_INDEX];
const versionOf = (i: number): string => `1.${Math.floor(i / 10)}.${i % 10}`;

function packageSpecs(): PackageSpec[] {
  return [
    { id: HOT.id, version: HOT.version, extraFiles: { 'content/data.bin': pseudoRandomBytes(HOT.bytes, 1) } },
    { id: LARGE.id, version: LARGE.version, extraFiles: { 'content/data.bin': pseudoRandomBytes(LARGE.bytes, 2) } },
    ...Array.from({ length: VERSIONS.count }, (_, i) => ({ id: VERSIONS.id, version: versionOf(i) })),
  ];
}

/**
 * Each server answers every row's URL with what upstream has (nginx's second answer is a cache hit):
 * the same package bytes, the same version list. Returns what each answer weighs on the wire.
 */
async function check(servers: readonly Server[], files: ReadonlyMap<Row, Buffer>, versions: readonly string[]): Promise<string[]> {
  const notes: string[] = [];
  for (const row of ROWS) {
    for (const s of servers) {
      const url = row.url(s);
      let r = await get(url, { headers: NUGET_CLIENT_HEADERS, timeoutMs: 120_000 });
      if (r.status === 200) r = await get(url, { headers: NUGET_CLIENT_HEADERS, timeoutMs: 120_000 });
      if (r.status !== 200) throw new Error(`${s.name}: ${url} answered ${r.status}`);
      const cache = r.headers['x-cache-status'];
      if (cache !== undefined && cache !== 'HIT') throw new Error(`${s.name}: ${url} is not a cache hit on the second request (${String(cache)})`);
      const file = files.get(row);
      if (file && sha512(r.body) !== sha512(file)) throw new Error(`${s.name}: ${row.name} differs from upstream's file`);
      if (row === VERSION_LIST) {
        const listed = (JSON.parse(decoded(r).toString('utf8')) as { versions?: unknown }).versions;
        if (JSON.stringify(listed) !== JSON.stringify(versions)) throw new Error(`${s.name}: version list ${JSON.stringify(listed)}`);
      }
      const encoding = r.headers['content-encoding'] ? ` ${String(r.headers['content-encoding'])}` : '';
      if (!file) notes.push(`${row.name} from ${s.name}: ${r.body.length} B${encoding}`);
    }
  }
  return notes;
}

interface Measured {
  readonly row: Row;
  readonly proxy: WrkResult[];
  readonly nginx: WrkResult[];
  /** The bare node:http server answering the proxy's bytes from memory (lib/node-http.ts). */
  readonly node: WrkResult[];
}

/** What the proxy answers for each row (raw bytes on the wire, with their type and encoding), for the node:http floor. */
async function repliesOf(proxy: Server): Promise<HeldReply[]> {
  const replies: HeldReply[] = [];
  for (const row of ROWS) {
    const url = row.url(proxy);
    const r = await get(url, { headers: NUGET_CLIENT_HEADERS, timeoutMs: 120_000 });
    if (r.status !== 200) throw new Error(`nuget-proxy: ${url} answered ${r.status}`);
    const header = (name: string): string | undefined => (typeof r.headers[name] === 'string' ? (r.headers[name] as string) : undefined);
    replies.push({ path: new URL(url).pathname, body: r.body, contentType: header('content-type'), contentEncoding: header('content-encoding') });
  }
  return replies;
}

const value = (row: Row, r: WrkResult): number => (row.throughput ? r.bytesPerSecond : r.requestsPerSecond);
const shown = (row: Row, v: number): string => (row.throughput ? rate(v) : `${count(v)} req/s`);

async function wrk(row: Row, s: Server, plan: CpuPlan, seconds: number): Promise<WrkResult> {
  return runWrk({
    url: row.url(s),
    threads: THREADS,
    connections: row.connections,
    seconds,
    headers: NUGET_CLIENT_HEADERS,
    cpus: plan.load,
    serverPids: await s.pids(),
  });
}

export async function run(): Promise<string> {
  requireTools([WRK, NGINX, TASKSET]);
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-vs-nginx-'));
  await chmod(dir, 0o755); // nginx's workers run as nobody
  const stops: Array<() => Promise<void>> = [];
  const machine = machineLine();
  try {
    progress('writing packages (100 KB, 40 MB, 40 small versions)');
    const specs = packageSpecs();
    const paths = await writePackages(join(dir, 'packages'), specs);
    const upstream = await startFakeUpstream({ packages: paths });
    stops.push(() => upstream.stop());
    const files = new Map<Row, Buffer>([
      [HOT_NUPKG, await readFile(paths[0] as string)],
      [LARGE_NUPKG, await readFile(paths[1] as string)],
    ]);

    const plan = cpuPlan(WORKERS);
    const proxy = await spawnProxy({
      env: {
        NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
        NUGET_PROXY_CACHE_DIR: join(dir, 'proxy-cache'),
        // Nothing expires during the run, as for nginx (proxy_cache_valid 1h).
        NUGET_PROXY_VERSIONS_TTL_SECONDS: '3600',
        NUGET_PROXY_SERVICE_INDEX_TTL_SECONDS: '3600',
      },
      logFile: join(dir, 'proxy.log'),
      workers: WORKERS,
      cpus: plan.servers,
    });
    stops.push(() => proxy.stop());
    const nginx = await startNginxCache({ dir: join(dir, 'nginx'), upstream: upstream.url, workers: WORKERS, cpus: plan.servers });
    stops.push(() => nginx.stop());

    const servers: Server[] = [
      { name: 'nuget-proxy', origin: proxy.url, flat: await flatContainerOf(`${proxy.url}/v3/index.json`, 'nuget-proxy'), pids: () => proxy.pids() },
      { name: 'nginx', origin: nginx.url, flat: await flatContainerOf(`${nginx.url}/v3/index.json`, 'nginx'), pids: () => nginx.pids() },
    ];
    const [p, n] = servers as [Server, Server];
    const notes = await check(servers, files, Array.from({ length: VERSIONS.count }, (_, i) => versionOf(i)));
    const floor = await startNodeHttp({ dir: join(dir, 'node-http'), replies: await repliesOf(p), cpus: plan.servers });
    stops.push(() => floor.stop());
    const b: Server = { name: 'node:http', origin: floor.url, flat: `${floor.url}${new URL(p.flat).pathname}`, pids: () => floor.pids() };
    servers.push(b);

    progress(`warming up: ${WARMUP_SECONDS} s of wrk per request and server (${plan.description})`);
    for (const row of ROWS) for (const s of servers) await wrk(row, s, plan, WARMUP_SECONDS);

    upstream.resetLog();
    const measured: Measured[] = [];
    for (const row of ROWS) {
      const m: Measured = { row, proxy: [], nginx: [], node: [] };
      for (let round = 1; round <= ROUNDS; round++) {
        m.proxy.push(await wrk(row, p, plan, SECONDS));
        m.nginx.push(await wrk(row, n, plan, SECONDS));
        m.node.push(await wrk(row, b, plan, SECONDS));
        progress(
          `${row.name}, round ${round}: proxy ${shown(row, value(row, m.proxy.at(-1) as WrkResult))}, nginx ${shown(row, value(row, m.nginx.at(-1) as WrkResult))}, ` +
            `node:http ${shown(row, value(row, m.node.at(-1) as WrkResult))}`,
        );
      }
      measured.push(m);
    }
    const upstreamRequests = upstream.requests().length;

    const yes = (ok: boolean): string => (ok ? 'met' : 'not met');
    const summary = measured.map(({ row, proxy: pr, nginx: ng }) => {
      const ratios = pr.map((r, i) => value(row, r) / value(row, ng[i] as WrkResult));
      const p99Ratios = pr.map((r, i) => r.p99Ms / (ng[i] as WrkResult).p99Ms);
      const rt = median(ratios);
      const p99 = median(p99Ratios);
      return [
        row.name,
        row.connections,
        shown(row, median(pr.map((r) => value(row, r)))),
        shown(row, median(ng.map((r) => value(row, r)))),
        ratio(rt),
        `≥ ${row.target} (${yes(rt >= row.target)})`,
        ms(median(pr.map((r) => r.p99Ms))),
        ms(median(ng.map((r) => r.p99Ms))),
        ratio(p99),
        row.p99Target === null ? '—' : `≤ ${row.p99Target} (${yes(p99 <= row.p99Target)})`,
      ];
    });
    const floorSummary = measured.map(({ row, proxy: pr, nginx: ng, node: nd }) => [
      row.name,
      shown(row, median(nd.map((r) => value(row, r)))),
      ratio(median(nd.map((r, i) => value(row, r) / value(row, ng[i] as WrkResult)))),
      ms(median(nd.map((r) => r.p99Ms))),
      ratio(median(nd.map((r, i) => r.p99Ms / (ng[i] as WrkResult).p99Ms))),
      ratio(median(pr.map((r, i) => value(row, r) / value(row, nd[i] as WrkResult)))),
    ]);
    // Server CPU per request: what a request cost each server, whatever the load generator managed. On a
    // shared machine a core can run at half speed for a while (a neighbour); that shows as a dearer round
    // for whichever server ran then, so each server's cheapest round is its cost on an unslowed core.
    const costUs = (r: WrkResult): number => (r.serverCpus / r.requestsPerSecond) * 1e6;
    const us = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
    const cheapest = (runs: readonly WrkResult[]): number => Math.min(...runs.map(costUs));
    const span = (runs: readonly WrkResult[]): string => `${us(cheapest(runs))}–${us(Math.max(...runs.map(costUs)))}`;
    const costSummary = measured.map(({ row, proxy: pr, nginx: ng, node: nd }) => [
      row.name,
      span(pr),
      span(ng),
      span(nd),
      ratio(cheapest(ng) / cheapest(pr)),
      ratio(cheapest(nd) / cheapest(pr)),
    ]);
    const details = measured.flatMap(({ row, proxy: pr, nginx: ng, node: nd }) =>
      pr.flatMap((r, i) =>
        [
          ['nuget-proxy', r],
          ['nginx', ng[i] as WrkResult],
          ['node:http', nd[i] as WrkResult],
        ].map(([name, x]) => {
          const w = x as WrkResult;
          return [row.name, i + 1, name as string, count(w.requestsPerSecond), rate(w.bytesPerSecond), ms(w.p50Ms), ms(w.p99Ms), ms(w.maxMs), w.serverCpus.toFixed(2), us(costUs(w)), w.loadCpus.toFixed(2), w.errors];
        }),
      ),
    );
    const errors = measured.some((m) => [...m.proxy, ...m.nginx, ...m.node].some((r) => r.errors > 0));
    return [
      `vs-nginx: nuget-proxy ${commitOf()} (compiled build, ${WORKERS} worker${WORKERS === 1 ? '' : 's'}, default settings, log lines to a file) ` +
        `vs nginx ${nginx.version} (proxy_cache, sendfile, worker_processes ${WORKERS}, access log to a file) in front of the same fake feed; ` +
        `everything warm; wrk ${THREADS} threads, ${SECONDS} s per run, NuGet's request headers; A B A B A B, medians of ${ROUNDS}; ${plan.description}`,
      `machine: ${machine}`,
      '',
      table(['request', 'connections', 'nuget-proxy', 'nginx', 'ratio', 'target', 'p99 ms proxy', 'p99 ms nginx', 'p99 ratio', 'p99 target'], summary),
      '',
      "Node's floor: a bare node:http server answering the proxy's bytes from memory, one res.end per request, same CPUs (medians, each ratio taken within a round):",
      table(['request', 'node:http', 'node:http / nginx', 'p99 ms node:http', 'p99 node:http / nginx', 'nuget-proxy / node:http'], floorSummary),
      '',
      'CPU per request (server CPU time ÷ requests, µs; lowest–highest of the rounds: a dearer round of the same server is a slowed core or a load that changed) and, on each server\'s cheapest round, the proxy\'s cost against the others:',
      table(['request', 'nuget-proxy µs', 'nginx µs', 'node:http µs', 'nginx / nuget-proxy, cheapest rounds', 'node:http / nuget-proxy, cheapest rounds'], costSummary),
      '',
      'each run (server CPUs, wrk CPUs: cores each kept busy over the run, 1.00 = one core all the time; µs/request: server CPU time per request; errors: non-2xx and socket errors):',
      table(['request', 'round', 'server', 'req/s', 'transfer', 'p50 ms', 'p99 ms', 'max ms', 'server CPUs', 'µs/request', 'wrk CPUs', 'errors'], details),
      '',
      `responses: ${notes.join('; ')}`,
      `upstream requests during the measured runs: ${upstreamRequests}${upstreamRequests > 0 ? ' (not everything was warm)' : ''}`,
      ...(errors ? ['some runs had errors: their figures are not comparable'] : []),
    ].join('\n');
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(`vs-nginx: cleanup failed: ${String(err)}`));
    if (process.env['BENCH_KEEP_TMP']) console.error(`vs-nginx: kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}
