// Renders grafana/dashboards/nuget-proxy.json filled with real data, without a Grafana server:
//   fake NuGet upstream + redis-server + a real nuget-proxy (`serve`, own process) + a real Prometheus scraping it
//   every second → ~80 s of synthetic client traffic with an incident timeline → every panel's PromQL
//   through Prometheus' /api/v1/query_range → one SVG (Grafana dark theme) → PNG with rsvg-convert.
//
//   node --import tsx scripts/dashboard-preview/render.ts [--out docs/images/dashboard.png] [--seconds 80]
//        [--rate-interval 15s] [--svg path.svg] [--width 1600] [--dump data.json | --from-dump data.json]
//
// Everything listens on 127.0.0.1 and is stopped before exit. Needs the Debian packages prometheus,
// redis-server and librsvg2-bin; optional: fonts-inter (Grafana's font; DejaVu Sans otherwise) and
// pngquant (a ~3× smaller PNG).

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run, startProcess, waitFor } from '../../test/deploy/tools.ts';
import { REAL_PACKAGES_ROOT, startStandardFakeUpstream, type FakeUpstream } from '../../test/helpers/fake-upstream.ts';
import { standardTestPackages } from '../../test/helpers/packages.ts';
import { freePort } from '../../test/helpers/redis.ts';
import { drawDashboard, fontFiles, type PanelJson, type PanelResult, type Series } from './draw.ts';
import { driveTraffic, type Incident } from './traffic.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const JOB = 'nuget-proxy';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(REPO, 'docs/images/dashboard.png') },
    svg: { type: 'string' },
    seconds: { type: 'string', default: '80' },
    'rate-interval': { type: 'string', default: '15s' },
    width: { type: 'string', default: '1600' },
    workers: { type: 'string', default: '4' },
    'max-requests': { type: 'string', default: '40000' },
    /** Also write the measured data as JSON. */
    dump: { type: 'string' },
    /** Draw from a --dump file instead of running anything (for working on the drawing). */
    'from-dump': { type: 'string' },
  },
});
const seconds = Math.min(600, Math.max(20, Number(args.seconds) || 80));
const workers = Math.min(16, Math.max(1, Math.floor(Number(args.workers)) || 4));
const maxRequests = Math.max(1, Math.floor(Number(args['max-requests'])) || 40_000);
const rateInterval = args['rate-interval'];
if (!/^[0-9]+[smh]$/.test(rateInterval)) throw new Error(`--rate-interval: expected e.g. 15s, got ${rateInterval}`);

const log = (line: string) => process.stderr.write(`[preview ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** A redis-server on a fixed 127.0.0.1 port that can be killed and started again (for the Redis outage). */
function redisOnPort(port: number) {
  let child: ChildProcess | null = null;
  const ping = async () => {
    const { connect } = await import('node:net');
    return new Promise<boolean>((ok) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d) => (s.destroy(), ok(d.toString().startsWith('+PONG'))));
      s.once('error', () => ok(false));
    });
  };
  const self = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const c = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      child = c;
      c.once('error', () => undefined);
      await waitFor('redis-server', 10_000, async () => {
        if (c.exitCode !== null) throw new Error('redis-server exited');
        return (await ping()) || undefined;
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await exited;
    },
  };
  return self;
}

async function packageIds(): Promise<string[]> {
  // Real nuget.org packages (when present) first: they are the "popular" ones in the traffic mix.
  const real = await readdir(REAL_PACKAGES_ROOT).catch(() => [] as string[]);
  const test = [...new Set(standardTestPackages().map((p) => p.id))];
  return [...real.sort(), ...test];
}

async function promQueryRange(api: string, expr: string, start: number, end: number, step: number) {
  const res = await fetch(`${api}/api/v1/query_range`, {
    method: 'POST',
    body: new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) }),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
  };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

function legendName(format: string | undefined, metric: Record<string, string>, expr: string): string {
  if (format && format !== '__auto') return format.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, l: string) => metric[l] ?? '');
  const labels = Object.entries(metric).map(([k, v]) => `${k}="${v}"`);
  return labels.length ? `{${labels.join(', ')}}` : expr;
}

/** What a run measured: everything the picture is drawn from (and what --dump writes). */
interface Capture {
  readonly instance: string;
  readonly promVersion: string;
  readonly rateInterval: string;
  readonly times: number[];
  readonly results: Array<[number, PanelResult]>;
  readonly incidents: Incident[];
  readonly requests: number;
  readonly byStatus: Record<string, number>;
}

/** Starts everything, drives the traffic, evaluates every panel's queries, stops everything. */
async function capture(panels: readonly PanelJson[], signal: AbortSignal): Promise<Capture> {
  const scratch = await mkdtemp(join(tmpdir(), 'nuget-proxy-preview-'));
  const cleanups: Array<[string, () => Promise<unknown>]> = [];
  try {
    // 1. Fake upstream, Redis, proxy.
    const upstream: FakeUpstream = await startStandardFakeUpstream();
    cleanups.push(['fake upstream', () => upstream.stop()]);
    const redis = redisOnPort(await freePort());
    cleanups.push(['redis-server', () => redis.kill('SIGTERM')]);
    await redis.start();
    // The proxy runs as its own process, exactly as `nuget-proxy serve` (default Node.js metrics on), so
    // the Process row measures the proxy alone, not this script's traffic generator and fake upstream.
    const proxyPort = await freePort();
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(NUGET_PROXY_|HTTPS?_PROXY$|NO_PROXY$)/i.test(k)) env[k] = v;
    Object.assign(env, {
      NUGET_PROXY_HOST: '127.0.0.1',
      NUGET_PROXY_PORT: String(proxyPort),
      NUGET_PROXY_CACHE_DIR: join(scratch, 'cache'),
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_REDIS_URL: redis.url,
      // Short freshness so metadata is revalidated (and served stale during the outage) within the run.
      NUGET_PROXY_VERSIONS_TTL_SECONDS: '8',
      NUGET_PROXY_REGISTRATION_TTL_SECONDS: '8',
      NUGET_PROXY_SEARCH_TTL_SECONDS: '5',
      NUGET_PROXY_NOT_FOUND_TTL_SECONDS: '10',
      NUGET_PROXY_STALE_WAIT_MS: '200',
      NUGET_PROXY_UPSTREAM_RETRY_BASE_MS: '50',
      NUGET_PROXY_UPSTREAM_CONNECT_TIMEOUT_MS: '1000',
      NUGET_PROXY_UPSTREAM_RESPONSE_TIMEOUT_MS: '3000',
      NUGET_PROXY_BREAKER_BACKOFF_MS: '3000',
      NUGET_PROXY_BREAKER_MAX_BACKOFF_MS: '6000',
      NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '5000',
      NUGET_PROXY_LOG_LEVEL: 'error',
    });
    const proxy = startProcess(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/nuget-proxy.ts'), 'serve'], { cwd: REPO, env });
    cleanups.push(['proxy', () => proxy.stop()]);
    await waitFor('the proxy to be ready', 60_000, async () => {
      if (proxy.child.exitCode !== null) throw new Error(`nuget-proxy exited:\n${proxy.output()}`);
      const r = await fetch(`${proxyUrl}/readyz`);
      await r.arrayBuffer();
      return r.status === 200 ? true : undefined;
    });
    const instance = `127.0.0.1:${proxyPort}`;
    log(`proxy ${proxyUrl} (pid ${proxy.child.pid}) → upstream ${upstream.serviceIndexUrl}, redis ${redis.url}`);

    // 2. Prometheus, 1 s scrapes.
    const promPort = await freePort();
    const api = `http://127.0.0.1:${promPort}`;
    const promConfig = join(scratch, 'prometheus.yml');
    await writeFile(
      promConfig,
      ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', `  - job_name: ${JOB}`, '    static_configs:', `      - targets: ["${instance}"]`, ''].join('\n'),
    );
    const prometheus = startProcess(
      'prometheus',
      [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(scratch, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { cwd: scratch },
    );
    cleanups.push(['prometheus', () => prometheus.stop()]);
    await waitFor('Prometheus scraping the proxy', 30_000, async () => {
      if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited:\n${prometheus.output()}`);
      const r = await fetch(`${api}/api/v1/query?${new URLSearchParams({ query: `up{job="${JOB}"}` })}`);
      const body = (await r.json()) as { data?: { result: Array<{ value: [number, string] }> } };
      return body.data?.result[0]?.value[1] === '1' ? true : undefined;
    });
    const promVersion = (await run('prometheus', ['--version'])).stdout.match(/version (\S+)/)?.[1] ?? '?';
    log(`prometheus ${promVersion} on ${api}, scraping ${instance} every 1 s`);

    // 3. Traffic.
    await sleep(3000); // a few idle scrapes before the traffic starts
    const start = Math.floor(Date.now() / 1000) - 3;
    log(`driving traffic for ${seconds} s`);
    const traffic = await driveTraffic({
      proxyUrl,
      upstream,
      redis,
      packageIds: await packageIds(),
      durationMs: seconds * 1000,
      maxRequests,
      workers,
      signal,
      log,
    });
    log(`traffic done: ${traffic.requests} requests ${JSON.stringify(traffic.byStatus)}`);
    if (signal.aborted) throw new Error('interrupted');
    await sleep(3000); // the last scrapes
    const end = Math.floor(Date.now() / 1000) - 1;

    // 4. Every panel's queries, with Grafana's variables expanded.
    const instanceRe = instance.replaceAll('.', '\\\\.');
    const expand = (e: string) =>
      e
        .replaceAll('$__rate_interval', rateInterval)
        .replaceAll('$__range', `${end - start}s`)
        .replaceAll('${job}', JOB)
        .replaceAll('$job', JOB)
        .replaceAll('${instance}', instanceRe)
        .replaceAll('$instance', instanceRe);
    const times: number[] = [];
    for (let t = start; t <= end; t++) times.push(t);
    const results: Array<[number, PanelResult]> = [];
    for (const panel of panels) {
      if (panel.type === 'row') continue;
      const series: Series[] = [];
      let error: string | undefined;
      for (const target of panel.targets ?? []) {
        try {
          for (const r of await promQueryRange(api, expand(target.expr), start, end, 1)) {
            const byTime = new Map(r.values.map(([t, v]) => [Math.round(t), Number(v)]));
            const values = times.map((t) => {
              const v = byTime.get(t);
              return v === undefined || !Number.isFinite(v) ? null : v;
            });
            series.push({ name: legendName(target.legendFormat, r.metric, target.expr), values });
          }
        } catch (err) {
          error = (err as Error).message;
          log(`panel "${panel.title}": ${error}`);
        }
      }
      if (panel.type !== 'stat') series.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
      results.push([panel.id, { series, ...(error ? { error } : {}) }]);
      if (series.length === 0) log(`panel "${panel.title}": no data`);
    }
    log(`${results.length} panels, ${results.reduce((n, [, r]) => n + r.series.length, 0)} series`);
    return { instance, promVersion, rateInterval, times, results, incidents: traffic.incidents, requests: traffic.requests, byStatus: traffic.byStatus };
  } finally {
    for (const [what, stop] of cleanups.reverse()) {
      await stop().catch((err: unknown) => log(`stopping ${what}: ${String(err)}`));
    }
    await rm(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const t00 = Date.now();
  const stopping = new AbortController();
  const onSignal = () => {
    log('interrupted: stopping traffic and cleaning up');
    stopping.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const dashboard = JSON.parse(await readFile(join(REPO, 'grafana/dashboards/nuget-proxy.json'), 'utf8')) as { title: string; panels: PanelJson[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const data: Capture = args['from-dump']
    ? (JSON.parse(await readFile(args['from-dump'], 'utf8')) as Capture)
    : await capture(panels, stopping.signal);
  if (args.dump) await writeFile(args.dump, JSON.stringify(data));

  // 5. SVG → PNG.
  const start = data.times[0]!;
  const end = data.times[data.times.length - 1]!;
  const hms = (t: number) => new Date(t * 1000).toLocaleTimeString('en-GB', { hour12: false });
  const { svg, width, height } = drawDashboard({
    title: dashboard.title,
    panels,
    results: new Map(data.results),
    times: data.times,
    variables: [
      { label: 'Data source', value: 'Prometheus' },
      { label: 'Job', value: JOB },
      { label: 'Instance', value: data.instance },
    ],
    timeRange: `${hms(start)} to ${hms(end)}`,
    footer: footerText(data),
    regions: data.incidents,
    width: Number(args.width),
  });
  const scratch = await mkdtemp(join(tmpdir(), 'nuget-proxy-preview-png-'));
  try {
    const svgPath = args.svg ?? join(scratch, 'dashboard.svg');
    await writeFile(svgPath, svg);
    const out = resolve(args.out);
    const raw = join(scratch, 'dashboard.png');
    const conv = await run('rsvg-convert', ['--format=png', `--output=${raw}`, svgPath]);
    if (conv.code !== 0) throw new Error(`rsvg-convert: ${conv.stderr}`);
    // pngquant (optional) turns the RGBA image into a palette PNG about a third of the size.
    const quant = await run('pngquant', ['--quality=70-95', '--speed=1', '--strip', '--force', `--output=${out}`, raw]).catch(() => null);
    if (!quant || quant.code !== 0) {
      log(`pngquant ${quant ? `failed (${quant.code}): ${quant.stderr.trim()}` : 'not installed'}; writing the unquantized PNG`);
      await copyFile(raw, out);
    }
    log(`wrote ${out} (${width}×${height}, ${Math.round((await stat(out)).size / 1024)} KiB; fonts ${fontFiles().join(', ')}) in ${Math.round((Date.now() - t00) / 1000)} s`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function footerText(d: Capture): string {
  const start = d.times[0]!;
  const when = d.incidents.map((i) => `${i.label} +${Math.round(i.from - start)}–${Math.round(i.to - start)} s`).join(', ');
  return (
    `Real data: Prometheus ${d.promVersion} scraping a real nuget-proxy serve process (with Redis and a local fake upstream) every 1 s while synthetic NuGet client traffic ran ` +
    `(${d.requests} requests; ${when}; shaded on the time axes). Drawn by scripts/dashboard-preview/render.ts from the dashboard JSON, not a Grafana screenshot.`
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
