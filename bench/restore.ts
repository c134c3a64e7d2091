// Benchmark: `dotnet restore` of a project of ≥ 100 packages, straight from a feed and through the proxy
// with an empty cache (cold) and a filled one (warm); fresh client state (HOME, NUGET_PACKAGES, http
// cache) and a fresh project folder for every client run; three rounds of direct, cold, warm; medians.
// On the fake feed also cold in a warmed process: a new proxy restores a second generated graph first, so
// the measured cold restore shows the fills' cost without the new process's JIT warm-up. Each run also
// notes where the CPU went: the whole machine's busy share and the proxy's own CPU seconds.
//
// Two feeds: (a) the project's own fake upstream serving a generated graph of packages plus the real
// signed packages in /opt/nuget/packages; (b) the machine's own NuGet source (`dotnet nuget list
// source`), when it answers, with an ASP.NET-style project whose packages are picked at run time from a
// candidate list (those the feed serves). Its address is never printed.
//
// On the fake feed each round also restores through nginx (lib/nginx.ts: proxy_cache, the cache a sysadmin
// would put there instead), cold and warm, with as many worker processes as the proxy: what any cache in
// front of the feed costs on this machine, beside what nuget-proxy costs.
//
// Knobs: BENCH_ROUNDS (3), BENCH_RESTORE_FEEDS (fake,machine), BENCH_WORKERS (the proxy's default), BENCH_KEEP_TMP=1.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { dotnet, freshClientState, makeProject, type ProjectSpec } from '../test/helpers/clients.ts';
import { realPackagePaths, startFakeUpstream, type FakeUpstream } from '../test/helpers/fake-upstream.ts';
import { pseudoRandomBytes, writePackages, type PackageSpec } from '../test/helpers/packages.ts';
import { commitOf, machineLine, machineNuGetFeed, type MachineFeed } from './lib/machine.ts';
import { flatContainerOf, get } from './lib/http.ts';
import { startNginxCache, type NginxCache } from './lib/nginx.ts';
import { cpuSeconds, machineTicks, spawnProxy, type ProxyProcess } from './lib/processes.ts';
import { DOTNET, NGINX, requireTools } from './lib/requirements.ts';
import { median, progress, ratio, seconds, table } from './lib/stats.ts';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
/** Proxy worker processes; unset: the proxy's default (auto: one per CPU). */
const WORKERS = process.env['BENCH_WORKERS'] ? Number(process.env['BENCH_WORKERS']) : undefined;
const FEEDS = (process.env['BENCH_RESTORE_FEEDS'] ?? 'fake,machine').split(',');
const RESTORE_TIMEOUT_MS = 600_000;
const COLD_TARGET = 1.1;

// ---------------------------------------------------------------------------------------------------
// (a) The fake feed: a generated graph

const GRAPH_SIZE = 110;
const GRAPH_ROOTS = 4;
/** Sizes of the generated packages' content, cycled: a mix like a real restore's. */
const SIZES_KB = [20, 50, 120, 300, 1200];
const graphId = (i: number, prefix = 'Contoso.Graph'): string => `${prefix}.Pkg${String(i).padStart(3, '0')}`;
/** The ids of a second graph of the same shape, restored first through a fresh proxy (warmed process, see measure). */
const WARMUP_PREFIX = 'Contoso.Warmup';

/**
 * GRAPH_SIZE ids, each in versions 1.0.0, 1.1.0 and 2.0.0; 1.1.0 is the one restored (it carries the
 * content and the dependencies: package i depends on 3i+1…3i+3 at `[1.1.0, )`), so package 0's closure
 * is the whole graph, five levels deep, as real dependency trees are.
 */
function graphSpecs(prefix?: string): PackageSpec[] {
  return Array.from({ length: GRAPH_SIZE }, (_, i) => {
    const deps = [3 * i + 1, 3 * i + 2, 3 * i + 3].filter((d) => d < GRAPH_SIZE).map((d) => ({ id: graphId(d, prefix), range: '[1.1.0, )' }));
    const kb = SIZES_KB[i % SIZES_KB.length] as number;
    return [
      { id: graphId(i, prefix), version: '1.0.0' },
      {
        id: graphId(i, prefix),
        version: '1.1.0',
        description: `Generated package ${i} of the restore benchmark (${kb} KB of content).`,
        dependencies: deps.length > 0 ? [{ targetFramework: '.NETStandard2.0', deps }] : [],
        extraFiles: { 'content/data.bin': pseudoRandomBytes(kb * 1024, i + 1) },
      },
      { id: graphId(i, prefix), version: '2.0.0' },
    ];
  }).flat();
}

const FAKE_PROJECT: ProjectSpec = {
  packages: [
    ...Array.from({ length: GRAPH_ROOTS }, (_, i) => ({ id: graphId(i), version: '1.1.0' })),
    // Real signed packages from nuget.org, served by the fake when /opt/nuget/packages has them.
    { id: 'xunit', version: '2.9.3' },
    { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ],
};

// ---------------------------------------------------------------------------------------------------
// (b) The machine's feed: an ASP.NET-style project

/** Candidates for an ASP.NET Core service's references; only those the feed serves are kept. */
const ASPNET_CANDIDATES: ReadonlyArray<{ id: string; version: string }> = [
  { id: 'Microsoft.EntityFrameworkCore', version: '10.0.15' },
  { id: 'Microsoft.EntityFrameworkCore.SqlServer', version: '10.0.15' },
  { id: 'Microsoft.EntityFrameworkCore.Sqlite', version: '10.0.15' },
  { id: 'Npgsql.EntityFrameworkCore.PostgreSQL', version: '10.0.3' },
  { id: 'Serilog', version: '4.4.0' },
  { id: 'Serilog.AspNetCore', version: '10.0.0' },
  { id: 'Serilog.Sinks.Console', version: '6.1.1' },
  { id: 'Serilog.Sinks.File', version: '7.0.0' },
  { id: 'Serilog.Settings.Configuration', version: '10.0.1' },
  { id: 'Serilog.Enrichers.Environment', version: '3.0.1' },
  { id: 'Serilog.Sinks.Seq', version: '9.1.0' },
  { id: 'Polly', version: '8.9.1' },
  { id: 'Polly.Extensions.Http', version: '3.0.0' },
  { id: 'Microsoft.Extensions.Http.Polly', version: '11.0.0' },
  { id: 'Microsoft.Extensions.Http.Resilience', version: '10.11.0' },
  { id: 'AWSSDK.S3', version: '4.1.0' },
  { id: 'AWSSDK.SQS', version: '4.0.100.25' },
  { id: 'AWSSDK.DynamoDBv2', version: '4.1.0' },
  { id: 'AWSSDK.SecurityToken', version: '4.0.101.10' },
  { id: 'AWSSDK.Extensions.NETCore.Setup', version: '4.0.102.10' },
  { id: 'Azure.Identity', version: '1.21.0' },
  { id: 'Azure.Storage.Blobs', version: '12.30.1' },
  { id: 'Azure.Storage.Queues', version: '12.28.1' },
  { id: 'Azure.Messaging.ServiceBus', version: '7.21.0' },
  { id: 'Azure.Security.KeyVault.Secrets', version: '4.12.0' },
  { id: 'Azure.Data.Tables', version: '12.13.0' },
  { id: 'Microsoft.Extensions.Azure', version: '1.14.1' },
  { id: 'Swashbuckle.AspNetCore', version: '11.0.1' },
  { id: 'Microsoft.AspNetCore.Authentication.JwtBearer', version: '10.0.15' },
  { id: 'Microsoft.AspNetCore.OpenApi', version: '10.0.15' },
  { id: 'StackExchange.Redis', version: '3.4.35' },
  { id: 'Newtonsoft.Json', version: '13.0.4' },
  { id: 'FluentValidation.DependencyInjectionExtensions', version: '12.2.0' },
  { id: 'AutoMapper', version: '14.0.0' },
  { id: 'Dapper', version: '2.1.86' },
  { id: 'OpenTelemetry.Extensions.Hosting', version: '1.20.1' },
  { id: 'OpenTelemetry.Instrumentation.AspNetCore', version: '1.20.2' },
  { id: 'OpenTelemetry.Instrumentation.Http', version: '1.20.2' },
  { id: 'OpenTelemetry.Exporter.OpenTelemetryProtocol', version: '1.20.1' },
  { id: 'Hangfire.AspNetCore', version: '1.8.25' },
  { id: 'Refit.HttpClientFactory', version: '16.4.0' },
  { id: 'Scrutor', version: '7.0.0' },
  { id: 'Asp.Versioning.Mvc', version: '10.2.1' },
  { id: 'Microsoft.FeatureManagement.AspNetCore', version: '4.7.0' },
  { id: 'RabbitMQ.Client', version: '7.2.2' },
  { id: 'Quartz.Extensions.Hosting', version: '4.7.3' },
  { id: 'AspNetCore.HealthChecks.UI.Client', version: '9.0.0' },
];

/** The candidates whose version the feed's flat container lists. */
async function servedCandidates(serviceIndexUrl: string): Promise<Array<{ id: string; version: string }>> {
  const flat = await flatContainerOf(serviceIndexUrl, 'machine feed');
  const kept: Array<{ id: string; version: string }> = [];
  for (let i = 0; i < ASPNET_CANDIDATES.length; i += 8) {
    const batch = ASPNET_CANDIDATES.slice(i, i + 8);
    const served = await Promise.all(
      batch.map(async (c) => {
        const r = await get(`${flat}${c.id.toLowerCase()}/index.json`, { timeoutMs: 30_000 }).catch(() => null);
        if (r?.status !== 200) return false;
        const versions = (JSON.parse(r.body.toString('utf8')) as { versions?: string[] }).versions ?? [];
        return versions.includes(c.version.toLowerCase());
      }),
    );
    kept.push(...batch.filter((_, j) => served[j]));
  }
  return kept;
}

/** Candidate ids named by the restore errors that can be fixed by leaving a reference out. */
function blamed(output: string, candidates: ReadonlyArray<{ id: string }>): Set<string> {
  const out = new Set<string>();
  for (const line of output.split('\n')) {
    if (!/error NU1(10[1-7]|605|608)/.test(line)) continue;
    for (const c of candidates) if (new RegExp(`\\b${c.id.replace(/\./g, '\\.')}\\b`, 'i').test(line)) out.add(c.id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Client runs

interface Restored {
  readonly ms: number;
  /** `lowerid/version` → the .nupkg's SHA-512 as NuGet recorded it. */
  readonly packages: Map<string, string>;
}

async function recordedHashes(globalPackages: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!existsSync(globalPackages)) return out;
  for (const id of await readdir(globalPackages)) {
    for (const version of await readdir(join(globalPackages, id)).catch(() => [] as string[])) {
      const file = join(globalPackages, id, version, `${id}.${version}.nupkg.sha512`);
      if (existsSync(file)) out.set(`${id}/${version}`, (await readFile(file, 'utf8')).trim());
    }
  }
  return out;
}

let runNumber = 0;

/** One `dotnet restore` with fresh client state in a fresh project folder; throws when it fails. */
async function restore(work: string, project: ProjectSpec, feedUrl: string): Promise<Restored> {
  const dir = await makeProject(join(work, `run-${++runNumber}`), project, { url: feedUrl });
  const state = await freshClientState();
  try {
    const r = await dotnet(['restore', '--verbosity', 'minimal'], dir, state, RESTORE_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(`dotnet restore failed (${r.code}):\n${(r.stdout + r.stderr).slice(-3000)}`);
    return { ms: r.durationMs, packages: await recordedHashes(state.packages) };
  } finally {
    await rm(dirname(state.home), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

interface FeedResult {
  readonly feed: string;
  readonly packages: number;
  readonly direct: number[];
  readonly cold: number[];
  /** Cold cache in a proxy process that has filled another project first (empty for these packages). */
  readonly coldWarmed: number[];
  readonly warm: number[];
  /** Through nginx's proxy_cache (fake feed only; empty elsewhere): a new nginx with an empty cache, then warm. */
  readonly nginxCold: number[];
  readonly nginxWarm: number[];
  /** Where the CPU went during each run (see Cpu). */
  readonly cpu: { direct: Cpu[]; cold: Cpu[]; coldWarmed: Cpu[]; warm: Cpu[] };
  readonly notes: string[];
}

/** The CPU one restore used: the whole machine's busy share (every CPU, every process) and the proxy's own. */
interface Cpu {
  /** Busy fraction of all CPUs over the restore, 0–1 (from /proc/stat: everything but idle and iowait). */
  readonly machineBusy: number;
  /** CPU seconds of the proxy's processes (NaN for direct runs). */
  readonly proxySeconds: number;
}

/** Runs a restore and notes the CPU it took: the machine's, and the proxy's when `proxy` is given. */
async function withCpu(proxy: ProxyProcess | null, run: () => Promise<Restored>): Promise<{ restored: Restored; cpu: Cpu }> {
  const pids = proxy ? await proxy.pids() : [];
  const proxyBefore = proxy ? await cpuSeconds(pids) : NaN;
  const before = machineTicks();
  const restored = await run();
  const after = machineTicks();
  const proxyAfter = proxy ? await cpuSeconds(pids) : NaN;
  return { restored, cpu: { machineBusy: (after.busy - before.busy) / Math.max(1, after.total - before.total), proxySeconds: proxyAfter - proxyBefore } };
}

/** A new proxy (defaults, BENCH_WORKERS) with an empty cache in `cacheDir`. */
function newProxy(upstreamUrl: string, cacheDir: string, logFile: string): Promise<ProxyProcess> {
  return spawnProxy({
    env: { NUGET_PROXY_UPSTREAM: upstreamUrl, NUGET_PROXY_CACHE_DIR: cacheDir },
    logFile,
    ...(WORKERS !== undefined ? { workers: WORKERS } : {}),
  });
}

/**
 * Rounds of direct, cold, warm. Every proxy run must restore exactly what the direct run restored (same
 * identities, same hashes); `upstreamDownloads`, when known, counts .nupkg downloads upstream saw.
 */
async function measure(
  feed: string,
  work: string,
  project: ProjectSpec,
  upstreamUrl: string,
  upstreamDownloads: (() => number) | null,
  /** A project of other packages: restored first through a second fresh proxy, which then restores `project` cold. */
  warmup: ProjectSpec | null,
  /** Also through nginx's proxy_cache (an http feed on this machine). */
  nginx: boolean,
): Promise<FeedResult> {
  const result: FeedResult = {
    feed,
    packages: 0,
    direct: [],
    cold: [],
    coldWarmed: [],
    warm: [],
    nginxCold: [],
    nginxWarm: [],
    cpu: { direct: [], cold: [], coldWarmed: [], warm: [] },
    notes: [],
  };
  let reference: Map<string, string> | undefined;
  const same = (what: string, got: Map<string, string>): void => {
    const ref = reference as Map<string, string>;
    const differs = [...ref].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
    if (got.size !== ref.size || differs.length > 0) throw new Error(`${feed}, ${what}: restored ${got.size} packages, direct ${ref.size}; different: ${differs.slice(0, 5).join(', ')}`);
  };
  for (let round = 1; round <= ROUNDS; round++) {
    const { restored: direct, cpu: directCpu } = await withCpu(null, () => restore(work, project, upstreamUrl));
    result.cpu.direct.push(directCpu);
    reference ??= direct.packages;
    same('direct', direct.packages);
    result.direct.push(direct.ms);

    let proxy: ProxyProcess | undefined;
    const cacheDir = join(work, `proxy-cache-${round}`);
    try {
      proxy = await newProxy(upstreamUrl, cacheDir, join(work, `proxy-${round}.log`));
      const feedUrl = `${proxy.url}/v3/index.json`;
      const before = upstreamDownloads?.() ?? 0;
      const { restored: cold, cpu: coldCpu } = await withCpu(proxy, () => restore(work, project, feedUrl));
      same('proxy cold', cold.packages);
      result.cold.push(cold.ms);
      result.cpu.cold.push(coldCpu);
      const afterCold = upstreamDownloads?.() ?? 0;
      const { restored: warm, cpu: warmCpu } = await withCpu(proxy, () => restore(work, project, feedUrl));
      result.cpu.warm.push(warmCpu);
      same('proxy warm', warm.packages);
      result.warm.push(warm.ms);
      if (upstreamDownloads) {
        const again = upstreamDownloads() - afterCold;
        if (again > 0) result.notes.push(`round ${round}: the warm restore made the proxy download ${again} packages again`);
        if (round === 1) result.notes.push(`cold restore: the proxy downloaded ${afterCold - before} .nupkg from upstream for ${cold.packages.size} packages`);
      }
    } finally {
      await proxy?.stop();
      await rm(cacheDir, { recursive: true, force: true });
    }
    if (warmup) {
      // A mirror's process runs for weeks: its JIT has compiled the fill path before a project it has never
      // seen arrives. A new process pays for that compilation during its first restore.
      let warmed: ProxyProcess | undefined;
      const warmedDir = join(work, `proxy-cache-${round}-warmed`);
      try {
        warmed = await newProxy(upstreamUrl, warmedDir, join(work, `proxy-${round}-warmed.log`));
        const feedUrl = `${warmed.url}/v3/index.json`;
        await restore(work, warmup, feedUrl);
        const { restored: cold, cpu } = await withCpu(warmed, () => restore(work, project, feedUrl));
        same('proxy cold, warmed process', cold.packages);
        result.coldWarmed.push(cold.ms);
        result.cpu.coldWarmed.push(cpu);
      } finally {
        await warmed?.stop();
        await rm(warmedDir, { recursive: true, force: true });
      }
    }
    if (nginx) {
      let cache: NginxCache | undefined;
      const dir = join(work, `nginx-${round}`);
      try {
        cache = await startNginxCache({ dir, upstream: new URL(upstreamUrl).origin, workers: WORKERS ?? cpus().length });
        const feedUrl = `${cache.url}${new URL(upstreamUrl).pathname}`;
        const cold = await restore(work, project, feedUrl);
        same('nginx cold', cold.packages);
        result.nginxCold.push(cold.ms);
        const warm = await restore(work, project, feedUrl);
        same('nginx warm', warm.packages);
        result.nginxWarm.push(warm.ms);
      } finally {
        await cache?.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }
    progress(
      `${feed}, round ${round}: direct ${seconds(direct.ms)} s, proxy cold ${seconds(result.cold.at(-1) ?? NaN)} s` +
        `${warmup ? `, cold in a warmed process ${seconds(result.coldWarmed.at(-1) ?? NaN)} s` : ''}, warm ${seconds(result.warm.at(-1) ?? NaN)} s` +
        `${nginx ? `; nginx cold ${seconds(result.nginxCold.at(-1) ?? NaN)} s, warm ${seconds(result.nginxWarm.at(-1) ?? NaN)} s` : ''}`,
    );
  }
  return { ...result, packages: reference?.size ?? 0 };
}

async function fakeFeed(work: string): Promise<FeedResult> {
  progress(`writing ${GRAPH_SIZE} generated packages (3 versions each)`);
  const generated = await writePackages(join(work, 'packages'), [...graphSpecs(), ...graphSpecs(WARMUP_PREFIX)]);
  const real = await realPackagePaths();
  let upstream: FakeUpstream | undefined;
  try {
    upstream = await startFakeUpstream({ packages: [...real, ...generated] });
    const fake = upstream;
    const project = real.length > 0 ? FAKE_PROJECT : { packages: FAKE_PROJECT.packages.filter((p) => p.id.startsWith('Contoso.')) };
    const warmup: ProjectSpec = { packages: Array.from({ length: GRAPH_ROOTS }, (_, i) => ({ id: graphId(i, WARMUP_PREFIX), version: '1.1.0' })) };
    const r = await measure('fake upstream (generated graph + real packages)', work, project, upstream.serviceIndexUrl, () => fake.count(/\.nupkg$/), warmup, true);
    return { ...r, notes: [`${project.packages.length} references (${GRAPH_ROOTS} generated roots${real.length > 0 ? ', xunit, Microsoft.NET.Test.Sdk, Newtonsoft.Json' : ''})`, ...r.notes] };
  } finally {
    await upstream?.stop();
  }
}

async function machineFeedRun(work: string): Promise<FeedResult | string> {
  const feed = machineNuGetFeed();
  if (!feed) return "machine feed: `dotnet nuget list source` names no enabled V3 source; skipped";
  // Its address stays out of everything printed, error messages (restore output, proxy logs) included.
  const hide = (text: string): string => text.split(new URL(feed.url).origin).join('<machine feed>');
  try {
    const r = await machineFeedRestores(work, feed);
    return typeof r === 'string' ? hide(r) : { ...r, notes: r.notes.map(hide) };
  } catch (err) {
    throw new Error(hide(err instanceof Error ? err.message : String(err)));
  }
}

async function machineFeedRestores(work: string, feed: MachineFeed): Promise<FeedResult | string> {
  const label = `machine's NuGet source '${feed.name}'`;
  const probe = await get(feed.url, { timeoutMs: 15_000 }).catch((err: unknown) => err as Error);
  if (probe instanceof Error || probe.status !== 200) return `${label}: does not answer (${probe instanceof Error ? probe.message : probe.status}); skipped`;

  let candidates = await servedCandidates(feed.url);
  progress(`${label}: serves ${candidates.length} of ${ASPNET_CANDIDATES.length} candidate references; probing a restore`);
  // One unmeasured restore finds references that cannot restore together, and warms the feed's own caches.
  let probed: Restored | undefined;
  for (let attempt = 0; attempt < 5 && !probed; attempt++) {
    try {
      probed = await restore(work, { sdk: 'Microsoft.NET.Sdk.Web', packages: candidates }, feed.url);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const drop = blamed(message, candidates);
      if (drop.size === 0) throw new Error(`${label}: the probe restore failed: ${message}`);
      progress(`${label}: leaving out ${[...drop].join(', ')}`);
      candidates = candidates.filter((c) => !drop.has(c.id));
    }
  }
  if (!probed) throw new Error(`${label}: no restorable set of references found`);
  const r = await measure(label, work, { sdk: 'Microsoft.NET.Sdk.Web', packages: candidates }, feed.url, null, null, false);
  return { ...r, notes: [`ASP.NET-style project (Microsoft.NET.Sdk.Web), ${candidates.length} references: ${candidates.map((c) => c.id).join(', ')}`, ...r.notes] };
}

export async function run(): Promise<string> {
  requireTools(FEEDS.includes('fake') ? [DOTNET, NGINX] : [DOTNET]);
  const work = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-restore-'));
  await chmod(work, 0o755); // nginx's workers run as nobody
  const machine = machineLine();
  const results: FeedResult[] = [];
  const skipped: string[] = [];
  try {
    if (FEEDS.includes('fake')) results.push(await fakeFeed(work));
    if (FEEDS.includes('machine')) {
      const r = await machineFeedRun(work);
      if (typeof r === 'string') skipped.push(r);
      else results.push(r);
    }
  } finally {
    if (process.env['BENCH_KEEP_TMP']) console.error(`restore: kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  const warmedCell = (v: number, d: number): string => (Number.isNaN(v) ? '—' : `${seconds(v)} (${ratio(v / d)})`);
  const rows = results.map((r) => {
    const [d, c, w] = [median(r.direct), median(r.cold), median(r.warm)];
    const cw = r.coldWarmed.length > 0 ? median(r.coldWarmed) : NaN;
    return [r.feed, r.packages, seconds(d), seconds(c), warmedCell(cw, d), seconds(w), ratio(c / d), ratio(w / d), `≤ ${COLD_TARGET} (${c / d <= COLD_TARGET ? 'met' : 'not met'})`];
  });
  const busy = (cpus: readonly Cpu[]): string => (cpus.length === 0 ? '—' : `${Math.round(median(cpus.map((c) => c.machineBusy)) * 100)} %`);
  const proxyCpu = (cpus: readonly Cpu[], packages: number): string => {
    if (cpus.length === 0) return '—';
    const s = median(cpus.map((c) => c.proxySeconds));
    return `${s.toFixed(1)} (${Math.round((s * 1000) / Math.max(1, packages))} ms/package)`;
  };
  const cpuRows = results.map((r) => [
    r.feed,
    busy(r.cpu.direct),
    busy(r.cpu.cold),
    busy(r.cpu.warm),
    proxyCpu(r.cpu.cold, r.packages),
    proxyCpu(r.cpu.coldWarmed, r.packages),
    proxyCpu(r.cpu.warm, r.packages),
  ]);
  const orDash = (v: number | undefined): string => (v === undefined ? '—' : seconds(v));
  const details = results.flatMap((r) =>
    r.direct.map((d, i) => [r.feed, i + 1, seconds(d), seconds(r.cold[i] ?? NaN), orDash(r.coldWarmed[i]), seconds(r.warm[i] ?? NaN), orDash(r.nginxCold[i]), orDash(r.nginxWarm[i])]),
  );
  const nginxRows = results
    .filter((r) => r.nginxCold.length > 0)
    .map((r) => {
      const [d, c, w, nc, nw] = [median(r.direct), median(r.cold), median(r.warm), median(r.nginxCold), median(r.nginxWarm)];
      return [r.feed, seconds(d), `${seconds(nc)} (${ratio(nc / d)})`, `${seconds(nw)} (${ratio(nw / d)})`, `${seconds(c)} (${ratio(c / d)})`, `${seconds(w)} (${ratio(w / d)})`, ratio(c / nc), ratio(w / nw)];
    });
  return [
    `restore: dotnet ${dotnetVersion()} restore, nuget-proxy ${commitOf()} (compiled build, defaults, ${WORKERS ?? 'default (auto)'} workers, http on 127.0.0.1); fresh HOME, NUGET_PACKAGES and project per run; ` +
      `${ROUNDS} rounds of direct, proxy cold (new proxy, empty cache), proxy warm (same proxy), and on the fake feed proxy cold in a warmed process ` +
      `(a second new proxy that first restored another generated graph of the same shape, none of whose packages the measured project uses) ` +
      `and nginx cold and warm; medians, seconds`,
    `machine: ${machine}`,
    '',
    table(['feed', 'packages restored', 'direct s', 'proxy cold s', 'proxy cold s, warmed process', 'proxy warm s', 'cold / direct', 'warm / direct', 'cold target'], rows),
    '',
    ...(nginxRows.length > 0
      ? [
          `the same restores through nginx (proxy_cache, as many workers as the proxy; a new nginx with an empty cache each round, then warm); medians, seconds (ratio to direct):`,
          table(['feed', 'direct s', 'nginx cold s', 'nginx warm s', 'proxy cold s', 'proxy warm s', 'proxy cold / nginx cold', 'proxy warm / nginx warm'], nginxRows),
          '',
        ]
      : []),
    `where the CPU went (medians; machine busy: all ${cpus().length} CPUs, every process, from /proc/stat; proxy CPU: its processes' user + system seconds during the restore):`,
    table(['feed', 'machine busy, direct', 'machine busy, proxy cold', 'machine busy, proxy warm', 'proxy CPU s, cold', 'proxy CPU s, cold in a warmed process', 'proxy CPU s, warm'], cpuRows),
    '',
    table(['feed', 'round', 'direct s', 'proxy cold s', 'proxy cold s, warmed process', 'proxy warm s', 'nginx cold s', 'nginx warm s'], details),
    '',
    ...results.flatMap((r) => r.notes.map((n) => `${r.feed}: ${n}`)),
    ...skipped,
  ].join('\n');
}

function dotnetVersion(): string {
  return spawnSync('dotnet', ['--version'], { encoding: 'utf8', timeout: 60_000 }).stdout?.trim() || '?';
}
