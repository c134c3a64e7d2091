// Hostile requests, generated from a table and sent as raw bytes: path traversal in every encoding at
// every position of every route, SSRF targets, request smuggling, header spoofing, odd methods, oversized
// and malformed requests. Not one may get a 5xx (or no answer); the proxy (a real process, traced with
// strace) may open no file outside its cache directory and connect to no host but the upstream; a canary
// listener on another loopback address (127.0.0.2) must see no connection; canary files beside the cache
// directory must never be opened; a smuggled request must never reach upstream; a spoofed host must never
// appear in a rendered document.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { startReplicas, type Replica } from '../helpers/replicas.ts';

const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 20_000;

let upstream: FakeUpstream;
let proxy: Replica;
let workDir: string;
let cacheDir: string;
let canary: net.Server;
let canaryPort = 0;
let canaryConnections = 0;
let tracer: ChildProcess | null = null;
let traceFile: string;
let proxyPort = 0;

/** Where traversal aims: files beside the cache directory, named like what the proxy serves. */
const CANARY_NAMES = ['canary.nupkg', 'canary.nuspec', 'index.json', 'canary.json'];

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
  workDir = await makeTempDir('hostile');
  cacheDir = join(workDir, 'cache');
  await mkdir(join(workDir, 'secret'), { recursive: true });
  for (const name of CANARY_NAMES) await writeFile(join(workDir, 'secret', name), 'canary: never to be read by the proxy\n');
  canary = net.createServer((socket) => {
    canaryConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    canary.once('error', reject);
    canary.listen(0, '127.0.0.2', () => resolve());
  });
  canaryPort = (canary.address() as net.AddressInfo).port;
  const [replica] = await startReplicas(1, () => ({
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_CACHE_DIR: cacheDir,
    NUGET_PROXY_REWRITE_WORKERS: '0',
    NUGET_PROXY_LOG_LEVEL: 'info',
  }));
  proxy = replica ?? assert.fail('no proxy');
  proxyPort = Number(new URL(proxy.url).port);
  // Every route once, legitimately, before tracing: code loaded lazily is loaded now.
  for (const path of [
    '/v3/index.json',
    '/v3/flatcontainer/contoso.iconreadme/index.json',
    '/v3/flatcontainer/contoso.iconreadme/1.0.0/contoso.iconreadme.1.0.0.nupkg',
    '/v3/flatcontainer/contoso.iconreadme/1.0.0/icon',
    '/v3/flatcontainer/contoso.iconreadme/1.0.0/readme',
    '/v3/registration/semver2/contoso.iconreadme/index.json',
    '/v3/search/query?q=contoso',
    '/v3/search/autocomplete?q=contoso',
    '/v3/vulnerabilities/index.json',
    '/',
    '/packages/contoso.iconreadme',
    '/packages/contoso.iconreadme/1.0.0',
    '/ui/icon/contoso.iconreadme/1.0.0',
    '/ui/style.css',
    '/ui/favicon.svg',
    '/metrics',
    '/readyz',
    '/healthz',
  ]) {
    await (await fetch(proxy.url + path)).arrayBuffer();
  }
  traceFile = join(workDir, 'strace.txt');
  tracer = spawn('strace', ['-f', '-qq', '-e', 'trace=open,openat,openat2,creat,connect', '-o', traceFile, '-p', String(proxy.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  tracer.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // strace prints nothing when attached; give it a moment, and fail loudly if it could not attach.
  await sleep(1000);
  assert.equal(tracer.exitCode, null, `strace could not attach: ${stderr}`);
});

after(async () => {
  if (tracer && tracer.exitCode === null) tracer.kill('SIGINT');
  await proxy?.kill();
  await upstream?.stop();
  await new Promise((resolve) => canary?.close(resolve));
});

// ---------------------------------------------------------------------------------------------------
// The table

interface Hostile {
  readonly what: string;
  /** The raw request bytes. */
  readonly raw: string | Buffer;
}

const TRAVERSAL = [
  '..',
  '.',
  '../..',
  '../../../../../../etc/passwd',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '..%2f..%2fsecret%2fcanary.nupkg',
  '%2e%2e',
  '%2e%2e%2f%2e%2e%2fsecret',
  '%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret%2Findex.json',
  '%252e%252e%252f%252e%252e%252fsecret',
  '..%252f..%252fsecret',
  '..%5c..%5csecret%5ccanary.nupkg',
  '..\\..\\secret\\canary.nupkg',
  '%5c..%5c..%5csecret',
  '..%c0%af..%c0%afsecret',
  '%c0%ae%c0%ae%c0%afsecret',
  '%e0%80%ae%e0%80%ae/secret',
  '%u002e%u002e%u2215secret',
  '%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret',
  '..;/..;/secret',
  '....//....//secret',
  '.../.../secret',
  '%00',
  'canary.nupkg%00.json',
  '..%00/secret',
  '%2fetc%2fpasswd',
  '//etc/passwd',
  'file:%2F%2F%2Fetc%2Fpasswd',
  '~%2F.ssh%2Fid_rsa',
  '%0d%0aX-Injected:%20yes',
  '%0aSet-Cookie:%20a=b',
  'con',
  'nul.nupkg',
  'a'.repeat(300),
];

/** Where the proxy may be made to reach: the canary, as URLs, hosts and tricks. */
function ssrfTargets(): string[] {
  const hp = `127.0.0.2:${canaryPort}`;
  return [
    `http:%2F%2F${hp}%2F`,
    `http://${hp}/`,
    `%2F%2F${hp}%2Fx`,
    `@${hp}`,
    `%40${hp}`,
    hp,
    `2130706434:${canaryPort}`,
    `0x7f000002:${canaryPort}`,
    `%5B::ffff:127.0.0.2%5D:${canaryPort}`,
    `localhost.%40${hp}`,
  ];
}

/** Every position where a client-chosen value enters a route. */
const TEMPLATES = [
  (p: string) => `/v3/flatcontainer/${p}/index.json`,
  (p: string) => `/v3/flatcontainer/${p}/1.0.0/${p}.1.0.0.nupkg`,
  (p: string) => `/v3/flatcontainer/contoso.tool/${p}/contoso.tool.nuspec`,
  (p: string) => `/v3/flatcontainer/contoso.tool/1.0.0/${p}`,
  (p: string) => `/v3/registration/${p}/contoso.tool/index.json`,
  (p: string) => `/v3/registration/semver2/${p}/index.json`,
  (p: string) => `/v3/registration/semver2/contoso.tool/${p}.json`,
  (p: string) => `/v3/registration/semver2/contoso.paged/page/${p}/1.0.63.json`,
  (p: string) => `/v3/vulnerabilities/${p}/0123456789abcdef.json`,
  (p: string) => `/v3/repository-signatures/${p}/index.json`,
  (p: string) => `/packages/${p}`,
  (p: string) => `/ui/icon/${p}/1.0.0`,
  (p: string) => `/${p}`,
  (p: string) => `/v3/search/query?q=${p}&prerelease=${p}`,
  (p: string) => `/v3/search/autocomplete?${p}`,
];

function get(path: string, headers: Record<string, string> = {}): string {
  const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${proxyPort}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The id a smuggled request asks for: upstream must never be asked about it. */
const SMUGGLED = 'smuggled.canary';

function table(): Hostile[] {
  const out: Hostile[] = [];
  for (const [i, t] of TEMPLATES.entries()) {
    for (const p of TRAVERSAL) out.push({ what: `traversal ${JSON.stringify(p)} in template ${i}`, raw: get(t(p)) });
    for (const p of ssrfTargets()) out.push({ what: `ssrf ${JSON.stringify(p)} in template ${i}`, raw: get(t(p)) });
  }
  const hp = `127.0.0.2:${canaryPort}`;
  const smuggled = `GET /v3/flatcontainer/${SMUGGLED}/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  const requestLine = [
    `GET http://${hp}/v3/index.json HTTP/1.1\r\nHost: ${hp}\r\nConnection: close\r\n\r\n`,
    `GET http://${hp}/v3/flatcontainer/contoso.tool/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `CONNECT ${hp} HTTP/1.1\r\nHost: ${hp}\r\nConnection: close\r\n\r\n`,
    `GET //${hp}/v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/0.9\r\n\r\n`,
    `GET /v3/index.json HTTP/2.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET /v3/ind ex.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n`,
    `GET /v3/index.json?${'a=b&'.repeat(5000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET /${'x/'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(70_000)}\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Nul: a\0b\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: ${hp}\r\nConnection: close\r\n\r\n`,
    `GET /v3/index.json HTTP/1.1\r\nConnection: close\r\n\r\n`,
  ];
  for (const raw of requestLine) out.push({ what: `request line / headers: ${JSON.stringify(raw.slice(0, 80))}`, raw });
  const smuggling = [
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${smuggled.length + 5}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n${smuggled}\r\n0\r\n\r\n`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5, ${smuggled.length}\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n${smuggled}\r\n0\r\n\r\n`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n${smuggled}`,
    `POST /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1e3\r\n\r\n${smuggled}`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    `GET /v3/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
    `POST /ui/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
  ];
  // Each request's framing is ambiguous (the parser must refuse it), or the smuggled text is inside a body
  // whose length is plain: either way it must never be run as a request of its own.
  for (const raw of smuggling) out.push({ what: `smuggling: ${JSON.stringify(raw.slice(0, 120))}`, raw });
  const spoofs: Array<Record<string, string>> = [
    { 'X-Forwarded-Host': hp },
    { 'X-Forwarded-Host': hp, 'X-Forwarded-Proto': 'https' },
    { 'X-Forwarded-Prefix': `//${hp}` },
    { 'X-Forwarded-Prefix': '/../../x' },
    { Forwarded: `host=${hp};proto=https` },
    { 'X-Original-URL': '/../../etc/passwd' },
    { 'X-Rewrite-URL': '/../../etc/passwd' },
    { 'X-Forwarded-For': '127.0.0.2' },
    { 'X-Request-Id': '../../etc/passwd\r\nX-Injected: yes' },
    { 'X-Request-Id': 'a'.repeat(1000) },
    { 'Accept-Encoding': 'gzip;q=1e99999, br, *' },
    { Range: 'bytes=0-0,1-1,2-2' },
    { 'If-None-Match': '*'.repeat(5000) },
    { Cookie: 'nuget-proxy-ui=../../etc/passwd' },
    { Authorization: `Bearer ${'x'.repeat(5000)}` },
  ];
  for (const headers of spoofs) {
    for (const path of ['/v3/index.json', '/v3/flatcontainer/contoso.tool/index.json', '/v3/registration/semver2/contoso.tool/index.json', '/']) {
      out.push({ what: `spoofed headers ${JSON.stringify(headers).slice(0, 100)} on ${path}`, raw: get(path, headers) });
    }
    // A Host naming the canary.
    out.push({ what: `Host ${hp} with ${JSON.stringify(headers).slice(0, 80)}`, raw: get('/v3/index.json', headers).replace(`Host: 127.0.0.1:${proxyPort}`, `Host: ${hp}`) });
  }
  for (const method of ['TRACE', 'TRACK', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'PROPFIND', 'MOVE', 'DEBUG', 'FOO', 'get']) {
    for (const path of ['/v3/index.json', '/v3/flatcontainer/contoso.tool/1.0.0/contoso.tool.1.0.0.nupkg', '/']) {
      out.push({ what: `method ${method} ${path}`, raw: `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Sending raw requests

interface Answer {
  readonly statuses: number[];
  readonly text: string;
  readonly timedOut: boolean;
}

function send(raw: string | Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect(proxyPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, REQUEST_TIMEOUT_MS);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ statuses, text, timedOut });
    });
    // No half-close: a client that half-closes has its request aborted (Node's httpAllowHalfOpen is off),
    // and real clients do not. The server answers and closes (Connection: close, or it refuses the request).
    socket.write(raw);
  });
}

const results: Array<{ what: string; answer: Answer }> = [];

test('≥ 500 hostile requests from the table: no 5xx, none left without an answer', async (t) => {
  const requests = table();
  assert.ok(requests.length >= 500, `${requests.length} requests`);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < requests.length; i = next++) {
        const r = requests[i] as Hostile;
        results.push({ what: r.what, answer: await send(r.raw) });
      }
    }),
  );
  const byStatus = new Map<string, number>();
  for (const { answer } of results) {
    const key = answer.statuses.length === 0 ? 'closed without a status' : answer.statuses.join('+');
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  t.diagnostic(`${results.length} requests in ${Math.round(performance.now() - started)} ms; answers: ${JSON.stringify([...byStatus].sort())}`);
  const failures = results.filter(({ answer }) => answer.timedOut || answer.statuses.some((s) => s >= 500));
  assert.deepEqual(failures.map((f) => `${f.what} → ${f.answer.timedOut ? 'no answer' : f.answer.statuses.join('+')}`), []);
  // Every request got an HTTP answer, except the few the parser drops outright (no status line at all).
  const unanswered = results.filter(({ answer }) => answer.statuses.length === 0);
  t.diagnostic(`closed without a status line: ${unanswered.map((u) => u.what).join('; ') || 'none'}`);
  assert.ok(unanswered.length <= 5, `no status for: ${unanswered.map((u) => u.what).join('; ')}`);
  // Nothing hostile is ever served as a document or a package.
  const served = results.filter(({ what, answer }) => what.startsWith('traversal') && answer.statuses.includes(200) && /canary: never/.test(answer.text));
  assert.deepEqual(served.map((s) => s.what), []);
});

test('no header injected, no spoofed host rendered', () => {
  for (const { what, answer } of results) {
    assert.ok(!/\r\nX-Injected:/i.test(answer.text) && !/\r\nSet-Cookie: a=b/i.test(answer.text), `${what}: a header was injected`);
    assert.ok(!answer.text.includes(`127.0.0.2:${canaryPort}/v3`), `${what}: the canary host was rendered into a document`);
  }
});

test('no smuggled request reached upstream', () => {
  assert.equal(upstream.count(new RegExp(SMUGGLED.replace('.', '\\.'))), 0);
});

test('no connection to any host but upstream: the canary listener saw nothing, strace saw connects to upstream only', async () => {
  await sleep(500);
  tracer?.kill('SIGINT');
  await new Promise((resolve) => (tracer?.exitCode !== null ? resolve(null) : tracer?.once('exit', resolve)));
  assert.equal(canaryConnections, 0, 'the canary on 127.0.0.2 was contacted');
  const trace = await readFile(traceFile, 'utf8');
  const allowedPorts = new Set([upstream.port, upstream.searchPort]);
  const connects = [...trace.matchAll(/connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\),[^}]*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")/g)];
  const elsewhere = connects.filter((m) => !((m[2] === '127.0.0.1') && allowedPorts.has(Number(m[1]))));
  assert.deepEqual(elsewhere.map((m) => m[0]), []);
  assert.ok(connects.length > 0, 'strace saw the connections to upstream (it was tracing)');
});

test('no file outside the cache directory opened (strace), the canary files untouched', async () => {
  const trace = await readFile(traceFile, 'utf8');
  const opened = [...trace.matchAll(/(?:open|openat|openat2|creat)\((?:AT_FDCWD, |\d+, )?"([^"]*)"/g)].map((m) => m[1] as string);
  // What the process itself reads while serving: its own /proc entries (metrics), and devices.
  const outside = opened.filter((p) => !p.startsWith(`${cacheDir}/`) && !/^\/(proc|sys|dev)\//.test(p));
  assert.deepEqual([...new Set(outside)], []);
  assert.ok(opened.some((p) => p.startsWith(`${cacheDir}/`)), 'strace saw the cache being read (it was tracing)');
  assert.ok(!opened.some((p) => p.includes('/secret/')), 'a canary file was opened');
});
