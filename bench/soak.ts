// Benchmark: a bounded soak (BENCH_SOAK_SECONDS, default 300). The compiled proxy serves a mixed,
// closed-loop load — cached packages and documents, revalidations (short TTLs), made-up ids (upstream
// 404s), searches, hostile paths — while the fake upstream goes through fault phases (503s, a black
// hole, truncated bodies). Every BENCH_SOAK_REPORT_SECONDS (30) it prints the proxy's RSS, open file
// descriptors, files in metadata/ and tmp/, and the answers by class: what should stay flat stays flat.
//
// The load comes from this process (a handful of keep-alive connections at a moderate rate): this is
// about memory, disk and errors over time, not throughput (wrk measures that: vs-nginx).
//
// Knobs: BENCH_SOAK_SECONDS, BENCH_SOAK_REPORT_SECONDS, BENCH_SOAK_CONNECTIONS (8).

import { randomBytes } from 'node:crypto';
import { readdir, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStandardFakeUpstream, type FakeUpstream, type FaultRule } from '../test/helpers/fake-upstream.ts';
import { get } from './lib/http.ts';
import { commitOf, machineLine } from './lib/machine.ts';
import { memoryOf, spawnProxy, sleep } from './lib/processes.ts';
import { percentile, progress, table } from './lib/stats.ts';

const SECONDS = Number(process.env['BENCH_SOAK_SECONDS'] ?? '300');
const REPORT_SECONDS = Number(process.env['BENCH_SOAK_REPORT_SECONDS'] ?? '30');
const CONNECTIONS = Number(process.env['BENCH_SOAK_CONNECTIONS'] ?? '8');

const IDS = ['contoso.tool', 'contoso.paged', 'contoso.twopages', 'contoso.unlisted', 'contoso.prerelease', 'contoso.vulnerable', 'contoso.deprecated', 'contoso.dependent', 'contoso.iconreadme', 'contoso.mixedcase.lib'];
const PACKAGES = [
  '/v3/flatcontainer/contoso.tool/1.0.0/contoso.tool.1.0.0.nupkg',
  '/v3/flatcontainer/contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg',
  '/v3/flatcontainer/contoso.iconreadme/1.0.0/contoso.iconreadme.1.0.0.nupkg',
  '/v3/flatcontainer/contoso.iconreadme/1.0.0/icon',
  '/v3/flatcontainer/contoso.vulnerable/2.0.0/contoso.vulnerable.nuspec',
];
const HOSTILE = ['/v3/flatcontainer/..%2f..%2fetc%2fpasswd/index.json', '/v3/registration/semver2/%2e%2e/index.json', '/packages/%00', '/v3/flatcontainer/x/1.0.0/..%5c..%5cx', '/v3/search/query?q=%0d%0aX:%20y'];

/** One request of the mix, by weight. */
function pick(): { kind: string; path: string } {
  const r = Math.random();
  const id = IDS[Math.floor(Math.random() * IDS.length)] as string;
  if (r < 0.35) return { kind: 'package', path: PACKAGES[Math.floor(Math.random() * PACKAGES.length)] as string };
  if (r < 0.6) return { kind: 'metadata', path: Math.random() < 0.5 ? `/v3/flatcontainer/${id}/index.json` : `/v3/registration/semver2/${id}/index.json` };
  if (r < 0.8) {
    const made = `made.up.${randomBytes(6).toString('hex')}`;
    return { kind: 'made-up id', path: Math.random() < 0.5 ? `/v3/flatcontainer/${made}/index.json` : `/v3/flatcontainer/${made}/1.0.0/${made}.1.0.0.nupkg` };
  }
  if (r < 0.92) return { kind: 'search', path: `/v3/search/query?q=${randomBytes(3).toString('hex')}&take=5` };
  return { kind: 'hostile', path: HOSTILE[Math.floor(Math.random() * HOSTILE.length)] as string };
}

/** Fault phases, in turn: 20 s of each out of every 60 s. */
const PHASES: Array<{ name: string; rules: FaultRule[] }> = [
  { name: '503s on the flat container', rules: [{ match: /\/v3-flatcontainer\//, kind: 'status', status: 503 }] },
  { name: 'black hole (everything)', rules: [] },
  { name: 'truncated registration', rules: [{ match: /\/registration5-/, kind: 'truncate', bytes: 20 }] },
];

async function countFiles(dir: string): Promise<number> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

interface Window {
  requests: number;
  byClass: Map<string, number>;
  latencies: number[];
  clientErrors: number;
}

function newWindow(): Window {
  return { requests: 0, byClass: new Map(), latencies: [], clientErrors: 0 };
}

export async function run(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-soak-'));
  const cacheDir = join(dir, 'cache');
  const upstream: FakeUpstream = await startStandardFakeUpstream({ includeRealPackages: false });
  const proxy = await spawnProxy({
    env: {
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_CACHE_DIR: cacheDir,
      NUGET_PROXY_LOG_LEVEL: 'warn',
      NUGET_PROXY_VERSIONS_TTL_SECONDS: '5',
      NUGET_PROXY_REGISTRATION_TTL_SECONDS: '5',
      NUGET_PROXY_SEARCH_TTL_SECONDS: '5',
      NUGET_PROXY_UPSTREAM_RESPONSE_TIMEOUT_MS: '2000',
      NUGET_PROXY_REQUEST_DEADLINE_MS: '3000',
      NUGET_PROXY_BREAKER_BACKOFF_MS: '2000',
      NUGET_PROXY_RETENTION_INTERVAL_SECONDS: '30',
    },
    logFile: join(dir, 'proxy.log'),
    // One process, as the container runs it; memory and descriptors are summed over its processes anyway.
    workers: 1,
  });
  const rows: Array<Array<string | number>> = [];
  const totals = newWindow();
  const rssSeries: number[] = [];
  try {
    progress(`soak: ${SECONDS} s, ${CONNECTIONS} connections, report every ${REPORT_SECONDS} s`);
    const started = Date.now();
    const endAt = started + SECONDS * 1000;
    let window = newWindow();
    let phase = '-';
    /** Fault phases active at some point of the current report window. */
    let windowPhases = new Set<string>();
    let removeFaults: Array<() => void> = [];
    const setPhase = (secondsIn: number): void => {
      const slot = Math.floor(secondsIn / 20) % 3;
      const cycle = Math.floor(secondsIn / 60);
      // The first minute runs clean (the cache warms up); then one fault phase per minute, in turn.
      const active = cycle > 0 && slot === 1 ? (PHASES[(cycle - 1) % PHASES.length] ?? null) : null;
      const name = active?.name ?? '-';
      if (active) windowPhases.add(name);
      if (name === phase) return;
      for (const remove of removeFaults) remove();
      removeFaults = [];
      upstream.setBlackhole(false, 'both');
      if (active) {
        if (active.rules.length === 0) upstream.setBlackhole(true, 'both');
        for (const rule of active.rules) removeFaults.push(upstream.addFault(rule));
      }
      phase = name;
    };
    const worker = async (): Promise<void> => {
      while (Date.now() < endAt) {
        const { kind, path } = pick();
        const t0 = performance.now();
        try {
          const r = await get(proxy.url + path, { timeoutMs: 15_000 });
          const cls = `${kind} ${Math.floor(r.status / 100)}xx`;
          for (const w of [window, totals]) {
            w.byClass.set(cls, (w.byClass.get(cls) ?? 0) + 1);
            w.requests++;
            w.latencies.push(performance.now() - t0);
          }
        } catch {
          window.clientErrors++;
          totals.clientErrors++;
        }
        // At most 20 requests per second per connection: a soak, not a load test.
        await sleep(50);
      }
    };
    const reporter = async (): Promise<void> => {
      let last = started;
      while (Date.now() < endAt) {
        await sleep(1000);
        setPhase((Date.now() - started) / 1000);
        if (Date.now() - last < REPORT_SECONDS * 1000 && Date.now() < endAt) continue;
        last = Date.now();
        const { rssMb, fds } = await memoryOf(await proxy.pids());
        rssSeries.push(rssMb);
        const fivexx = [...window.byClass].filter(([k]) => k.endsWith('5xx')).reduce((n, [, v]) => n + v, 0);
        const errorsByKind = [...window.byClass].filter(([k]) => k.endsWith('5xx')).map(([k, v]) => `${k.replace(' 5xx', '')} ${v}`).join(', ');
        rows.push([
          Math.round((Date.now() - started) / 1000),
          [...windowPhases].join(', ') || '-',
          window.requests,
          Math.round(percentile(window.latencies, 99)),
          fivexx,
          errorsByKind || '-',
          window.clientErrors,
          rssMb.toFixed(0),
          fds,
          await countFiles(join(cacheDir, 'metadata')),
          await countFiles(join(cacheDir, 'tmp')),
        ]);
        progress(`soak: ${rows.at(-1)?.join(' | ')}`);
        window = newWindow();
        windowPhases = new Set(phase === '-' ? [] : [phase]);
      }
    };
    await Promise.all([reporter(), ...Array.from({ length: CONNECTIONS }, worker)]);
    for (const remove of removeFaults) remove();
    upstream.setBlackhole(false, 'both');
  } finally {
    await proxy.stop();
    await upstream.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const byClass = [...totals.byClass].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v]);
  return [
    `soak: nuget-proxy ${commitOf()} (compiled build, 1 worker; RSS and fds summed over its processes), ${SECONDS} s, ${CONNECTIONS} connections; ${machineLine()}`,
    'Fault phases (20 s of each minute after the first): 503s on the flat container, a black hole, truncated registration documents. 5xx are expected only during them, for what is not cached (made-up ids, a package never filled).',
    table(['t s', 'fault phases', 'requests', 'p99 ms', '5xx', '5xx by kind', 'client errors', 'RSS MB', 'open fds', 'metadata files', 'tmp files'], rows),
    '',
    `RSS MB: first ${rssSeries[0]?.toFixed(0) ?? '—'}, last ${rssSeries.at(-1)?.toFixed(0) ?? '—'}, max ${Math.max(...rssSeries).toFixed(0)}; requests ${totals.requests}, client errors (no answer) ${totals.clientErrors}`,
    table(['answers', 'count'], byClass),
  ].join('\n');
}
