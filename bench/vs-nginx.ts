// Benchmark: nuget-proxy against the reference a sysadmin would pick instead — nginx as a caching,
// sub_filter-rewriting reverse proxy in front of the same NuGet V3 feed. Throughput and latency of warm
// cached documents and packages, single-flight on a cold package, and the correctness/behaviour points
// that matter to NuGet clients (URL rewriting, gzip registration hives, search host, byte identity,
// upstream stopped or black-holed).
//
// Needs Debian's nginx-light (`apt-get install -y --no-install-recommends nginx-light`); installs nothing.
// The fake upstream runs in a child process (this very file with `--fake-upstream-child`, driven over IPC
// so the parent can read its request log), nuget-proxy and nginx are child processes too: the load
// generator's event loop is shared with none of them. Everything binds 127.0.0.1, every load loop is
// bounded in count and time, and everything is stopped in finally blocks (and killed at exit).
//
// Knobs: BENCH_SECONDS (5, per warm run), BENCH_CONCURRENCY (32), BENCH_WARMUP_MS (1000, unmeasured load
// before each warm run), BENCH_NGINX_WORKERS (auto), BENCH_KEEP_TMP=1 (keep nginx.conf, error.log, caches).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { PROXY_ENTRY, ROOT, agent, loadLoop, percentile, table, timedGet } from './lib.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const WARMUP_MS = Number(process.env['BENCH_WARMUP_MS'] ?? 1000);
const COLD_REQUESTS = 50;
/** What NuGet's HttpClient sends: it always accepts gzip, and always names itself. */
const CLIENT_HEADERS = { 'accept-encoding': 'gzip, deflate', 'user-agent': 'NuGet .NET Core MSBuild Task/6.14.0 (bench vs-nginx)' };
const PACKAGES_ROOT = '/opt/nuget/packages';
const WARM = { id: 'newtonsoft.json', version: '13.0.3' };
const COLD = { id: 'microsoft.codecoverage', version: '18.0.1' };
/** Documents the 1-s-TTL twins cache at the start and are asked for again, expired, at the end. */
const EXPIRED_ID = 'xunit.assert';
const BLACKHOLE_ID = 'xunit.abstractions';
/** How long a client waits for one answer in the upstream-down checks. */
const DOWN_TIMEOUT_MS = 5000;
/** nginx worker_processes; `auto` is one per CPU. */
const NGINX_WORKERS = process.env['BENCH_NGINX_WORKERS'] ?? 'auto';

// ---------------------------------------------------------------------------------------------------
// Child processes

/** Ends every child still running when this process exits, whatever happened. */
const living = new Map<ChildProcess, NodeJS.Signals>();
process.once('exit', () => {
  for (const [child, signal] of living) child.kill(signal);
});

/** `atExit`: SIGKILL for Node children; nginx gets SIGTERM, so its master takes the workers with it. */
function track(child: ChildProcess, atExit: NodeJS.Signals = 'SIGKILL'): ChildProcess {
  living.set(child, atExit);
  child.once('exit', () => living.delete(child));
  return child;
}

/** Sends `signal` (none: just waits), waits for the exit, SIGKILL after `ms`. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals | null, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (signal) child.kill(signal);
  });
}

/** Keeps the last few KB a child printed, for error messages. */
function tail(child: ChildProcess): () => string {
  let buf = '';
  const keep = (d: Buffer): void => {
    buf = (buf + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => buf;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function waitForPort(port: number, child: ChildProcess, what: string, output: () => string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${ms} ms: ${output()}`);
    await sleep(50);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `/proc/PID/stat` fields from the 3rd (state) on: the command name may contain spaces. */
async function procStat(pid: number): Promise<string[] | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU seconds (user + system, all threads) the processes have used so far. */
async function cpuSeconds(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const f = await procStat(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15), in 1/100 s
  }
  return ticks / 100;
}

/** The process and its direct children (nginx's master, workers, cache manager). */
async function withChildren(pid: number): Promise<number[]> {
  const out = [pid];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = await procStat(Number(entry));
    if (f && Number(f[1]) === pid) out.push(Number(entry));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The fake upstream, in a child process

type ChildRequest = { op: 'count'; pattern: string } | { op: 'blackhole'; on: boolean } | { op: 'stop' };
type ChildMessage = { ready: true; url: string; searchUrl: string } | { id: number; result: unknown };

interface Upstream {
  /** Main origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly searchUrl: string;
  /** Requests so far whose path (plus query) matches the regular expression. */
  count(pattern: string): Promise<number>;
  blackhole(on: boolean): Promise<void>;
  /** Closes both servers: connections are refused afterwards. */
  stop(): Promise<void>;
  /** Ends the child process. */
  exit(): Promise<void>;
}

async function fakeUpstreamChild(): Promise<void> {
  const { startStandardFakeUpstream } = await import('../test/helpers/fake-upstream.ts');
  const fake = await startStandardFakeUpstream({ port: 0, searchPort: 0 });
  process.on('message', (m: ChildRequest & { id: number }) => {
    void (async () => {
      let result: unknown = null;
      if (m.op === 'count') result = fake.count(new RegExp(m.pattern));
      else if (m.op === 'blackhole') fake.setBlackhole(m.on, 'both');
      else if (m.op === 'stop') await fake.stop();
      process.send?.({ id: m.id, result });
    })();
  });
  // The parent went away (finished or crashed) or asks to end: stop serving and exit through
  // process.exit, so fake-upstream's exit hook removes its temp package folder.
  const end = (): void => void fake.stop().finally(() => process.exit(0));
  process.once('disconnect', end);
  process.once('SIGTERM', end);
  process.send?.({ ready: true, url: fake.url, searchUrl: fake.searchUrl });
}

async function startUpstream(): Promise<Upstream> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fake-upstream-child'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
  const output = tail(child);
  let next = 1;
  const pending = new Map<number, (v: unknown) => void>();
  try {
    const ready = await new Promise<{ url: string; searchUrl: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake upstream not ready within 60 s: ${output()}`)), 60_000);
      child.on('message', (m: ChildMessage) => {
        if ('ready' in m) {
          clearTimeout(timer);
          resolve(m);
          return;
        }
        pending.get(m.id)?.(m.result);
        pending.delete(m.id);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`fake upstream exited with ${code}: ${output()}`));
      });
    });
    const call = (req: ChildRequest): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => reject(new Error(`fake upstream did not answer ${req.op}`)), 10_000);
        pending.set(id, (v) => {
          clearTimeout(timer);
          resolve(v);
        });
        child.send({ ...req, id });
      });
    return {
      url: ready.url,
      searchUrl: ready.searchUrl,
      count: async (pattern) => Number(await call({ op: 'count', pattern })),
      blackhole: async (on) => void (await call({ op: 'blackhole', on })),
      stop: async () => void (await call({ op: 'stop' })),
      exit: async () => {
        if (child.connected) child.disconnect();
        await stopChild(child, null, 5000);
      },
    };
  } catch (err) {
    await stopChild(child, 'SIGTERM', 5000);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------
// The servers under test

interface Server {
  readonly name: string;
  /** Origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The processes serving it, for CPU accounting. */
  pids(): Promise<number[]>;
}

/**
 * `nuget-proxy serve` from the sources, like bench/lib.ts's spawnProxy, but at log level warn: spawnProxy
 * learns the port from the info-level "listening" line, which warn hides, so this one picks a free port
 * itself and waits until it accepts connections.
 */
async function spawnQuietProxy(name: string, env: Record<string, string>): Promise<Server & { stop(): Promise<void> }> {
  const [port] = await freePorts(1);
  const child = track(
    spawn(process.execPath, [...PROXY_ENTRY, 'serve'], {
      cwd: ROOT,
      env: { ...process.env, NUGET_PROXY_HOST: '127.0.0.1', NUGET_PROXY_PORT: String(port), NUGET_PROXY_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const output = tail(child);
  try {
    await waitForPort(port as number, child, name, output, 30_000);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
  return { name, url: `http://127.0.0.1:${port}`, pids: async () => [child.pid as number], stop: () => stopChild(child, 'SIGTERM') };
}

interface NginxSite {
  readonly name: string;
  readonly port: number;
  readonly zone: string;
  /** proxy_cache_valid for 200 responses. */
  readonly valid: string;
  /** false: the config as a sysadmin would first write it; true: the best shot (see `location`). */
  readonly best: boolean;
}

function nginxConfig(dir: string, upstream: Upstream, sites: readonly NginxSite[]): string {
  const mainHost = new URL(upstream.url).host;
  const searchHost = new URL(upstream.searchUrl).host;
  const location = (site: NginxSite, search: boolean): string => {
    const origin = `http://127.0.0.1:${site.port}`;
    const lines = [
      // Keep-alive connections to upstream.
      'proxy_http_version 1.1;',
      'proxy_set_header Connection "";',
      `proxy_set_header Host ${search ? searchHost : mainHost};`,
      // sub_filter only rewrites identity bodies.
      'proxy_set_header Accept-Encoding "";',
      `proxy_cache ${site.zone};`,
      // Its single-flight: one request fills, the others wait for the cache entry.
      'proxy_cache_lock on;',
      `proxy_cache_valid 200 ${search && site.best && site.valid !== '1s' ? '30s' : site.valid};`,
      `sub_filter '${upstream.url}/' '${origin}/';`,
      'sub_filter_once off;',
      'sub_filter_types application/json;',
    ];
    if (!site.best) {
      lines.push('proxy_cache_use_stale error timeout;');
      return lines.join('\n      ');
    }
    lines.push(
      // nuget.org says no-store on registration and max-age=10 on version lists: honoured, nginx would not
      // cache registration at all (nothing to serve when upstream is down) and refetch version lists every
      // 10 s. nuget-proxy keeps its own TTLs too.
      'proxy_ignore_headers Cache-Control Expires Set-Cookie;',
      'proxy_cache_valid 404 1m;',
      // Serve stale on errors and while one request refreshes in the background (stale-while-revalidate),
      // so an expired entry never waits for a slow or black-holed upstream.
      'proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
      'proxy_cache_background_update on;',
      'proxy_cache_revalidate on;',
      // nuget-proxy's own defaults (connect 5 s, response 30 s) instead of nginx's 60 s.
      'proxy_connect_timeout 5s;',
      'proxy_read_timeout 30s;',
      // The search host too, under a path of this server.
      `sub_filter '${upstream.searchUrl}/' '${origin}/nuget-search/';`,
      // The gz registration hives are gzip on the wire whatever Accept-Encoding says, and sub_filter skips
      // encoded bodies. gunzip decompresses for clients that do not accept gzip; gzip_disable "." makes
      // every client with a User-Agent (NuGet always sends one) count as such, and the gunzip filter runs
      // before sub_filter, so the decompressed body gets rewritten.
      'gunzip on;',
      'gzip_disable ".";',
    );
    return lines.join('\n      ');
  };
  const server = (site: NginxSite): string => `
  server {
    listen 127.0.0.1:${site.port};
    location / {
      proxy_pass http://nuget_main;
      ${location(site, false)}
    }${
      site.best
        ? `
    location /nuget-search/ {
      proxy_pass http://nuget_search/;
      ${location(site, true)}
    }`
        : ''
    }
  }`;
  return `# generated by bench/vs-nginx.ts
worker_processes ${NGINX_WORKERS};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 100000;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_errors on;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream nuget_main { server ${mainHost}; keepalive 64; }
  upstream nuget_search { server ${searchHost}; keepalive 16; }
${sites
  .map(
    (s) =>
      `  proxy_cache_path ${dir}/cache-${s.zone} levels=1:2 keys_zone=${s.zone}:10m max_size=4g inactive=${s.best ? '30d' : '10m'} use_temp_path=off;`,
  )
  .join('\n')}
${sites.map(server).join('\n')}
}
`;
}

async function startNginx(dir: string, upstream: Upstream, sites: readonly NginxSite[]): Promise<{ version: string; pids(): Promise<number[]>; stop(): Promise<void> }> {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (probe.error) throw new Error('nginx not found: this benchmark needs `apt-get install -y --no-install-recommends nginx-light`');
  const version = /nginx\/(\S+)/.exec(probe.stderr)?.[1] ?? '?';
  // Workers run as nobody when started by root: they must reach the cache and temp directories.
  await chmod(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig(dir, upstream, sites));
  const child = track(spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] }), 'SIGTERM');
  const printed = tail(child);
  const output = (): string => `${printed()} ${readErrorLog(dir)}`;
  try {
    for (const site of sites) await waitForPort(site.port, child, 'nginx', output, 10_000);
  } catch (err) {
    await stopChild(child, 'SIGTERM');
    throw err;
  }
  // SIGTERM: fast shutdown of the master and its workers.
  return { version, pids: () => withChildren(child.pid as number), stop: () => stopChild(child, 'SIGTERM') };
}

function readErrorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------------
// HTTP

interface Got {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly ms: number;
}

function get(url: string, timeoutMs = 30_000): Promise<Got> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent, headers: CLIENT_HEADERS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started });
      });
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error(`response from ${url} cut short`));
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The body as the client sees it once decoded. */
function decoded(r: Got): Buffer {
  switch (String(r.headers['content-encoding'] ?? '').toLowerCase()) {
    case 'gzip':
      return gunzipSync(r.body);
    case 'deflate':
      return inflateSync(r.body);
    case 'br':
      return brotliDecompressSync(r.body);
    default:
      return r.body;
  }
}

const sha512 = (b: Buffer): string => createHash('sha512').update(b).digest('base64');
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------------------
// Feed discovery: each server's own service index says where its resources are.

interface Feed {
  readonly server: Server;
  readonly flat: string;
  readonly regPlain: string;
  readonly regGz: string;
  readonly search: string | undefined;
}

async function discover(server: Server): Promise<Feed> {
  const r = await get(`${server.url}/v3/index.json`);
  if (r.status !== 200) throw new Error(`${server.name}: service index ${r.status}`);
  const index = JSON.parse(decoded(r).toString('utf8')) as { resources: Array<{ '@id': string; '@type': string }> };
  const find = (type: string): string | undefined => index.resources.find((x) => x['@type'] === type)?.['@id'];
  const need = (type: string): string => {
    const id = find(type);
    if (!id) throw new Error(`${server.name}: no ${type} in the service index`);
    return id.endsWith('/') ? id : `${id}/`;
  };
  return {
    server,
    flat: need('PackageBaseAddress/3.0.0'),
    regPlain: need('RegistrationsBaseUrl'),
    regGz: need('RegistrationsBaseUrl/3.6.0'),
    search: find('SearchQueryService'),
  };
}

const flatIndexUrl = (f: Feed, id: string): string => `${f.flat}${id}/index.json`;
const nupkgUrl = (f: Feed, p: { id: string; version: string }): string => `${f.flat}${p.id}/${p.version}/${p.id}.${p.version}.nupkg`;
const registrationUrl = (base: string, id: string): string => `${base}${id}/index.json`;
const localNupkg = (p: { id: string; version: string }): Promise<Buffer> => readFile(join(PACKAGES_ROOT, p.id, p.version, `${p.id}.${p.version}.nupkg`));

// ---------------------------------------------------------------------------------------------------
// Scenarios

type Row = Array<string | number>;

const mbps = (bytesPerSecond: number): string => {
  const mb = bytesPerSecond / 1024 / 1024;
  return mb < 10 ? mb.toFixed(1) : mb.toFixed(0);
};

async function warmRun(label: string, feed: Feed, url: string, upstream: Upstream, upstreamPattern: string): Promise<Row> {
  const first = await get(url);
  if (first.status !== 200) throw new Error(`${feed.server.name}: ${url} answered ${first.status}`);
  const expected = first.body.length;
  // Warm-up at the same concurrency (JIT, open files, connection pool), not measured.
  await loadLoop(async () => (await timedGet(url, CLIENT_HEADERS)).ms, { concurrency: CONCURRENCY, maxCount: 200_000, maxMs: WARMUP_MS });
  const before = await upstream.count(upstreamPattern);
  let errors = 0;
  const pids = await feed.server.pids();
  const serverCpu = await cpuSeconds(pids);
  const generatorCpu = process.cpuUsage();
  const started = performance.now();
  const latencies = await loadLoop(
    async () => {
      const r = await timedGet(url, CLIENT_HEADERS);
      if (r.status !== 200 || r.bytes !== expected) errors++;
      return r.ms;
    },
    { concurrency: CONCURRENCY, maxCount: 2_000_000, maxMs: SECONDS * 1000 },
  );
  const wall = (performance.now() - started) / 1000;
  const generator = process.cpuUsage(generatorCpu);
  const cpu = `${Math.round(((await cpuSeconds(pids)) - serverCpu) / wall * 100)}% / ${Math.round((generator.user + generator.system) / 1e6 / wall * 100)}%`;
  const fetched = (await upstream.count(upstreamPattern)) - before;
  return [
    label,
    feed.server.name,
    latencies.length,
    Math.round(latencies.length / wall),
    mbps((latencies.length * expected) / wall),
    percentile(latencies, 50).toFixed(2),
    percentile(latencies, 99).toFixed(2),
    wall.toFixed(2),
    fetched,
    errors,
    cpu,
    '',
  ];
}

interface Streamed {
  readonly status: number;
  readonly bytes: number;
  readonly sha512: string;
  /** Time to the first body byte and to the end, ms. */
  readonly firstByteMs: number;
  readonly ms: number;
}

/**
 * GET counting the body's bytes, and hashing it as it streams in when `hash` (50 bodies of 10 MB are not
 * kept in memory, and SHA-512 of all 500 MB would make the load generator the bottleneck).
 */
function getStreamed(url: string, timeoutMs: number, hashIt: boolean): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent, headers: CLIENT_HEADERS }, (res) => {
      const hash = createHash('sha512');
      let bytes = 0;
      let firstByteMs = NaN;
      res.on('data', (c: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += c.length;
        if (hashIt) hash.update(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, bytes, sha512: hashIt ? hash.digest('base64') : '', firstByteMs, ms: performance.now() - started });
      });
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error(`response from ${url} cut short`));
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

interface ColdResult {
  readonly row: Row;
  readonly identical: boolean;
}

async function coldRun(label: string, feed: Feed, upstream: Upstream): Promise<ColdResult> {
  const file = await localNupkg(COLD);
  const expected = sha512(file);
  const pattern = `^/v3-flatcontainer/${escape(COLD.id)}/${escape(COLD.version)}/[^/]+\\.nupkg$`;
  const before = await upstream.count(pattern);
  const beforeAll = await upstream.count('.');
  const started = performance.now();
  // Every 10th response (the first, which may be the one that fills, among them) is hashed; all are counted.
  const hashed = (i: number): boolean => i % 10 === 0 || i === COLD_REQUESTS - 1;
  const results = await Promise.all(
    Array.from({ length: COLD_REQUESTS }, (_, i) => getStreamed(nupkgUrl(feed, COLD), 60_000, hashed(i)).catch((err: Error) => err)),
  );
  const wall = performance.now() - started;
  const ok = results.filter((r): r is Streamed => !(r instanceof Error) && r.status === 200);
  const identical =
    ok.length === COLD_REQUESTS && ok.every((r) => r.bytes === file.length) && results.every((r, i) => !hashed(i) || (r as Streamed).sha512 === expected);
  const latencies = ok.map((r) => r.ms);
  const downloads = (await upstream.count(pattern)) - before;
  const all = (await upstream.count('.')) - beforeAll;
  return {
    identical,
    row: [
      label,
      feed.server.name,
      COLD_REQUESTS,
      Math.round(COLD_REQUESTS / (wall / 1000)),
      mbps((file.length * ok.length) / (wall / 1000)),
      percentile(latencies, 50).toFixed(1),
      percentile(latencies, 99).toFixed(1),
      (wall / 1000).toFixed(2),
      all === downloads ? `${downloads} nupkg` : `${downloads} nupkg (+${all - downloads} other)`,
      COLD_REQUESTS - ok.length,
      '',
      `first byte: p50 ${percentile(ok.map((r) => r.firstByteMs), 50).toFixed(0)} ms, max ${Math.max(...ok.map((r) => r.firstByteMs)).toFixed(0)} ms`,
    ],
  };
}

type Checks = Record<string, string>;

const yesNo = (ok: boolean, why = ''): string => (ok ? 'yes' : why ? `no (${why})` : 'no');

/** Served with upstream down? `yes (ms)` or why not. */
async function servedWhileDown(url: string): Promise<string> {
  try {
    const r = await get(url, DOWN_TIMEOUT_MS);
    if (r.status !== 200) return `no (${r.status})`;
    return `yes (${r.ms < 10 ? r.ms.toFixed(1) : Math.round(r.ms)} ms)`;
  } catch {
    return `no (> ${DOWN_TIMEOUT_MS / 1000} s)`;
  }
}

async function correctness(feed: Feed, upstream: Upstream): Promise<Checks> {
  const origin = feed.server.url;
  const here = (u: string | undefined): boolean => u !== undefined && new URL(u).origin === origin;
  // Upstream URLs a client would fetch. Catalog ids (no client reads the catalog) and gallery web pages
  // (license, owner links a client shows, never fetches) may stay as they are.
  const upstreamUrlsIn = (body: Buffer): string[] => {
    const text = body.toString('utf8');
    const found = new Set<string>();
    for (const origin of [upstream.url, upstream.searchUrl]) {
      for (const m of text.matchAll(new RegExp(`${escape(origin)}(/[^"\\s]*)`, 'g'))) {
        const path = m[1] ?? '/';
        if (!/^\/(v3\/catalog0|packages|profiles)\//.test(path)) found.add(`${origin === upstream.url ? 'main' : 'search'}:${path}`);
      }
    }
    return [...found];
  };
  const noUpstreamUrls = (body: Buffer): string => {
    const left = upstreamUrlsIn(body);
    return yesNo(left.length === 0, `${left.length} upstream URL${left.length === 1 ? '' : 's'}, e.g. ${left[0]}`);
  };
  const c: Checks = {};

  c['service index: flat container + registration point here'] = yesNo(here(feed.flat) && here(feed.regPlain) && here(feed.regGz));
  c['search (SearchQueryService) points here'] = yesNo(here(feed.search), feed.search ? `→ ${new URL(feed.search).origin === upstream.searchUrl ? 'upstream search host' : feed.search}` : 'absent');
  if (feed.search) {
    const r = await get(`${feed.search}?q=newtonsoft&take=5&semVerLevel=2.0.0`);
    c['search results: URLs clients fetch point here'] = r.status === 200 ? noUpstreamUrls(decoded(r)) : `no (${r.status})`;
  }

  const gz = await get(registrationUrl(feed.regGz, WARM.id));
  let readable = false;
  let body: Buffer = Buffer.alloc(0);
  try {
    body = decoded(gz);
    JSON.parse(body.toString('utf8'));
    readable = gz.status === 200;
  } catch {
    readable = false;
  }
  c['gz registration hive (3.6.0): readable'] = yesNo(readable, `${gz.status}, content-encoding ${gz.headers['content-encoding'] ?? 'none'}`);
  c['gz registration hive: URLs clients fetch point here'] = readable ? noUpstreamUrls(body) : 'no (unreadable)';
  const plain = await get(registrationUrl(feed.regPlain, WARM.id));
  c['semver1 registration hive: URLs clients fetch point here'] = plain.status === 200 ? noUpstreamUrls(decoded(plain)) : `no (${plain.status})`;

  const pkg = await get(nupkgUrl(feed, WARM));
  c['Newtonsoft.Json 13.0.3 .nupkg byte-identical'] = yesNo(pkg.status === 200 && sha512(pkg.body) === sha512(await localNupkg(WARM)));
  // Warm the flat index for the upstream-stopped checks (the other documents are warm by now).
  await get(flatIndexUrl(feed, WARM.id));
  return c;
}

// ---------------------------------------------------------------------------------------------------

export async function run(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-nginx-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const upstream = await startUpstream();
    stops.push(() => upstream.exit());

    const [pBriefed, pBest, pBriefedTwin, pBestTwin] = (await freePorts(4)) as [number, number, number, number];
    const sites: NginxSite[] = [
      { name: 'nginx (as briefed)', port: pBriefed, zone: 'briefed', valid: '10m', best: false },
      { name: 'nginx (best shot)', port: pBest, zone: 'best', valid: '10m', best: true },
      { name: 'nginx (as briefed) 1-s twin', port: pBriefedTwin, zone: 'briefed_twin', valid: '1s', best: false },
      { name: 'nginx (best shot) 1-s twin', port: pBestTwin, zone: 'best_twin', valid: '1s', best: true },
    ];
    await mkdir(join(dir, 'tmp'), { recursive: true });
    const nginx = await startNginx(dir, upstream, sites);
    stops.push(() => nginx.stop());
    const proxyEnv = { NUGET_PROXY_UPSTREAM: `${upstream.url}/v3/index.json` };
    const proxy = await spawnQuietProxy('nuget-proxy', { ...proxyEnv, NUGET_PROXY_CACHE_DIR: join(dir, 'proxy-cache') });
    stops.push(() => proxy.stop());
    const oneSecond = { NUGET_PROXY_SERVICE_INDEX_TTL_SECONDS: '1', NUGET_PROXY_VERSIONS_TTL_SECONDS: '1', NUGET_PROXY_REGISTRATION_TTL_SECONDS: '1' };
    const proxyTwin = await spawnQuietProxy('nuget-proxy 1-s twin', { ...proxyEnv, ...oneSecond, NUGET_PROXY_CACHE_DIR: join(dir, 'proxy-twin-cache') });
    stops.push(() => proxyTwin.stop());
    const site = (s: NginxSite): Server => ({ name: s.name, url: `http://127.0.0.1:${s.port}`, pids: () => nginx.pids() });
    const [briefed, best, briefedTwin, bestTwin] = sites.map(site) as [Server, Server, Server, Server];

    // Every server under its own name, with its resources as its service index gives them.
    const feeds = new Map<Server, Feed>();
    for (const s of [proxy, briefed, best, proxyTwin, briefedTwin, bestTwin]) feeds.set(s, await discover(s));
    const feedOf = (s: Server): Feed => feeds.get(s) as Feed;

    // The twins (every TTL 1 s) cache what they will be asked for, expired, at the end.
    const twins: Array<[Server, Server]> = [
      [proxy, proxyTwin],
      [briefed, briefedTwin],
      [best, bestTwin],
    ];
    for (const [, twin] of twins) {
      const f = feedOf(twin);
      for (const url of [flatIndexUrl(f, EXPIRED_ID), registrationUrl(f.regPlain, EXPIRED_ID), flatIndexUrl(f, BLACKHOLE_ID)]) {
        const r = await get(url);
        if (r.status !== 200) throw new Error(`${twin.name}: ${url} answered ${r.status}`);
      }
    }
    const twinsWarmAt = Date.now();

    // Load: nuget-proxy against nginx's best shot. Cold first, while nothing is cached; the fake's own
    // package route is primed first (directly), so the first server measured does not pay for its JIT.
    const primed = await get(`${upstream.url}/v3-flatcontainer/${COLD.id}/${COLD.version}/${COLD.id}.${COLD.version}.nupkg`);
    if (primed.status !== 200) throw new Error(`fake upstream: ${COLD.id} ${COLD.version} answered ${primed.status}`);
    const perf: Row[] = [];
    const cold = new Map<Server, boolean>();
    for (const s of [proxy, best]) {
      const r = await coldRun(`cold: ${COLD_REQUESTS} at once, one uncached .nupkg (${COLD.id} ${COLD.version})`, feedOf(s), upstream);
      perf.push(r.row);
      cold.set(s, r.identical);
    }
    const indexPattern = `^/v3-flatcontainer/${escape(WARM.id)}/index\\.json`;
    const nupkgPattern = `^/v3-flatcontainer/${escape(WARM.id)}/${escape(WARM.version)}/`;
    for (const s of [proxy, best]) perf.push(await warmRun(`warm flat-container ${WARM.id}/index.json`, feedOf(s), flatIndexUrl(feedOf(s), WARM.id), upstream, indexPattern));
    for (const s of [proxy, best]) perf.push(await warmRun(`warm .nupkg (${WARM.id} ${WARM.version})`, feedOf(s), nupkgUrl(feedOf(s), WARM), upstream, nupkgPattern));

    // Correctness, on nuget-proxy, nginx as briefed and nginx's best shot.
    const servers = [proxy, briefed, best];
    const checks = new Map<Server, Checks>();
    for (const s of servers) checks.set(s, await correctness(feedOf(s), upstream));
    for (const s of servers) {
      const c = checks.get(s) as Checks;
      c[`${COLD.id} .nupkg byte-identical (cold fill; 6 of 50 hashed, all lengths)`] = cold.has(s) ? yesNo(cold.get(s) === true) : '—';
    }

    // Upstream black-holed (accepts, never answers): the twins' copies are expired by now.
    const waitMs = twinsWarmAt + 11_000 - Date.now(); // past nuget.org's max-age=10 on version lists too
    if (waitMs > 0) await sleep(waitMs);
    await upstream.blackhole(true);
    const blackholed = await Promise.all(twins.map(([, twin]) => servedWhileDown(flatIndexUrl(feedOf(twin), BLACKHOLE_ID))));
    await upstream.blackhole(false);

    // Upstream stopped (connections refused).
    await upstream.stop();
    for (const [i, [s, twin]] of twins.entries()) {
      const c = checks.get(s) as Checks;
      const f = feedOf(s);
      const t = feedOf(twin);
      c['upstream stopped: cached flat index served'] = await servedWhileDown(flatIndexUrl(f, WARM.id));
      c['upstream stopped: cached registration index served'] = await servedWhileDown(registrationUrl(f.regPlain, WARM.id));
      c['upstream stopped: cached .nupkg served'] = await servedWhileDown(nupkgUrl(f, WARM));
      c['upstream stopped, TTL expired (1-s twin): flat index served'] = await servedWhileDown(flatIndexUrl(t, EXPIRED_ID));
      c['upstream stopped, TTL expired (1-s twin): registration served'] = await servedWhileDown(registrationUrl(t.regPlain, EXPIRED_ID));
      c[`upstream black-holed, TTL expired (1-s twin): flat index within ${DOWN_TIMEOUT_MS / 1000} s`] = blackholed[i] as string;
    }

    const keys = Object.keys(checks.get(proxy) as Checks);
    const behaviour = keys.map((k) => [k, ...servers.map((s) => (checks.get(s) as Checks)[k] ?? '—')]);
    return [
      `vs-nginx: nuget-proxy (defaults, NUGET_PROXY_LOG_LEVEL=warn) vs nginx ${nginx.version} (proxy_cache + sub_filter, best-shot config: ` +
        `worker_processes ${NGINX_WORKERS}, upstream keepalive, sendfile, open_file_cache, access_log off), same fake upstream in its own process; ` +
        `${CONCURRENCY} keep-alive connections for ${SECONDS} s per warm run from one Node load generator; ${availableParallelism()} CPUs shared by all`,
      table(['scenario', 'server', 'requests', 'req/s', 'MB/s', 'p50 ms', 'p99 ms', 'wall s', 'upstream fetches', 'errors', 'CPU server / load gen', 'note'], perf),
      '',
      `vs-nginx: correctness and behaviour for NuGet clients (nginx as briefed: one origin sub_filter, proxy_cache_valid 200 10m, ` +
        `proxy_cache_use_stale error timeout; best shot adds the search host, gunzip for the gz hives, proxy_ignore_headers, ` +
        `stale-while-revalidate, nuget-proxy's timeouts; "1-s twin": the same server with every TTL at 1 s, asked after 11 s)`,
      table(['check', ...servers.map((s) => s.name)], behaviour),
    ].join('\n');
  } finally {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        console.error(`vs-nginx: cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (process.env['BENCH_KEEP_TMP']) console.error(`vs-nginx: kept ${dir} (nginx.conf, error.log, caches)`);
    else await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--fake-upstream-child') && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  fakeUpstreamChild().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
