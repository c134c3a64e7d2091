// A full disk is the proxy's problem, not upstream's: a fill that cannot be stored answers 507 with
// Retry-After and a message naming the cache, after ONE download (no upstream retries), with the breaker
// untouched, a metric and a log line; hits keep being served and /readyz stays 200, saying "degraded".
// The cache directory is a small tmpfs (mount needs root: CI runs as root); it is unmounted afterwards.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitBreaker } from '../../src/breaker.ts';
import { DEFAULT_UPSTREAM_NAME, parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { StorageError } from '../../src/storage/blob-store.ts';
import { UpstreamClient } from '../../src/upstream.ts';
import { tempFiles } from '../helpers/cache-files.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { metricValue } from '../helpers/replicas.ts';

let upstream: FakeUpstream;
let workDir: string;
let cacheDir: string;
let mounted = false;
let proxy: TestProxy | null = null;
let bigPackage: Buffer;

const BIG = { id: 'contoso.bigfill', version: '1.0.0' };
const BIG_PATH = `/v3/flatcontainer/${BIG.id}/${BIG.version}/${BIG.id}.${BIG.version}.nupkg`;
const BIG_UPSTREAM = `/v3-flatcontainer/${BIG.id}/${BIG.version}/${BIG.id}.${BIG.version}.nupkg`;
const HIT_PATH = '/v3/flatcontainer/contoso.tool/1.0.0/contoso.tool.1.0.0.nupkg';

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
  workDir = await makeTempDir('full-disk');
  bigPackage = buildPackage({ id: 'Contoso.BigFill', version: BIG.version, extraFiles: { 'content/blob.bin': pseudoRandomBytes(3 * 1024 * 1024, 7) }, storeExtraFiles: true });
  await writeFile(join(workDir, 'contoso.bigfill.1.0.0.nupkg'), bigPackage);
  await upstream.addPackage(join(workDir, 'contoso.bigfill.1.0.0.nupkg'));
  cacheDir = join(workDir, 'cache');
  execFileSync('mkdir', ['-p', cacheDir]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', cacheDir]);
  mounted = true;
});

after(async () => {
  await proxy?.stop();
  if (mounted) {
    try {
      execFileSync('umount', [cacheDir]);
    } catch {
      execFileSync('umount', ['-l', cacheDir]);
    }
  }
  await rm(workDir, { recursive: true, force: true });
  await upstream?.stop();
});

/** Bytes still free on the cache's file system. */
function freeBytes(): number {
  return Number(execFileSync('df', ['-B1', '--output=avail', cacheDir]).toString().trim().split('\n').pop());
}

/** Writes a filler file until only `leaveBytes` are free (0: until the disk is full). */
async function fill(name: string, leaveBytes: number): Promise<void> {
  const fh = await open(join(cacheDir, name), 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    let room = freeBytes() - leaveBytes;
    while (room > 0) {
      const { bytesWritten } = await fh.write(chunk, 0, Math.min(chunk.length, room));
      room -= bytesWritten;
    }
    // Page rounding: top it up until the file system refuses.
    if (leaveBytes === 0) for (let i = 0; i < 64; i++) await fh.write(chunk, 0, 4096);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
}

/** /readyz until `predicate` holds (the storage probe result is kept for up to 5 s), at most 8 s. */
async function readyzUntil(p: TestProxy, predicate: (r: Awaited<ReturnType<typeof readyz>>) => boolean): Promise<Awaited<ReturnType<typeof readyz>>> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const r = await readyz(p);
    if (predicate(r) || Date.now() > deadline) return r;
    await sleep(250);
  }
}

async function readyz(p: TestProxy): Promise<{ status: number; body: { status: string; problems: string[]; upstreams: Record<string, { hosts: Record<string, { state: string }> }> } }> {
  const res = await fetch(`${p.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; problems: string[]; upstreams: Record<string, { hosts: Record<string, { state: string }> }> } };
}

test('a download whose spool file cannot be written is a StorageError after one attempt; the breaker learns nothing', async () => {
  const { config } = parseConfig('serve', [], { NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_UPSTREAM_RETRY_BASE_MS: '1' });
  const metrics = createMetrics({ defaultMetrics: false });
  const breaker = new CircuitBreaker({ failureThreshold: 1, backoffMs: 60_000, maxBackoffMs: 60_000 });
  const spec = config.upstreams[0];
  assert.ok(spec?.kind === 'feed');
  const client = new UpstreamClient({ config: { ...spec, requestDeadlineMs: config.requestDeadlineMs }, metrics, log: createLogger({ level: 'silent', format: 'json' }), breaker });
  try {
    const before = upstream.count(BIG_UPSTREAM);
    // /dev/full accepts the open and fails every write with ENOSPC.
    await assert.rejects(client.download(`${upstream.url}${BIG_UPSTREAM}`, '/dev/full', { resource: 'nupkg', maxBytes: 1 << 30 }), (err: unknown) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.code, 'ENOSPC');
      return true;
    });
    assert.equal(upstream.count(BIG_UPSTREAM) - before, 1, 'downloaded once, not retried');
    assert.equal(breaker.state(new URL(upstream.url).host), 'closed');
    assert.equal(metricValue(await metrics.registry.metrics(), 'nuget_proxy_upstream_retries_total'), 0);
  } finally {
    client.close();
  }
});

test('disk nearly full: the package fill answers 507 with Retry-After, naming the cache, after one download per fill', async () => {
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl }, { cacheDir });
  // What is cached before the disk fills: these stay servable.
  assert.equal((await fetch(proxy.url + HIT_PATH).then(async (r) => [r.status, await r.arrayBuffer()]))[0], 200);
  assert.equal((await fetch(`${proxy.url}/v3/flatcontainer/contoso.tool/index.json`)).status, 200);

  await fill('filler-1', 256 * 1024);
  const before = upstream.count(BIG_UPSTREAM);
  const t0 = performance.now();
  // The first fill streams the package through as it lands in the spool: when the spool cannot be
  // written, that response can only break off (never a complete 200) ...
  const first = await fetch(proxy.url + BIG_PATH);
  const firstBody = await first.arrayBuffer().then((b) => Buffer.from(b), () => null);
  assert.ok(first.status === 507 || firstBody === null || firstBody.length < bigPackage.length, `a complete ${first.status}`);
  // ... and while the cache has just failed, fills are not streamed: the next client gets the clear answer.
  const res = await fetch(proxy.url + BIG_PATH);
  const text = await res.text();
  assert.equal(res.status, 507, text);
  assert.equal(res.headers.get('retry-after'), '60');
  assert.match(text, /nuget-proxy's cache \(.+\) is full \(ENOSPC\)/);
  assert.ok(text.includes(cacheDir), `the message names the cache: ${text}`);
  // One download per fill, never retried (the second request may have joined the first one's fill).
  const downloads = upstream.count(BIG_UPSTREAM) - before;
  assert.ok(downloads >= 1 && downloads <= 2, `${downloads} downloads for two requests`);
  assert.ok(performance.now() - t0 < 10_000);
  assert.equal((await readyz(proxy)).body.upstreams[DEFAULT_UPSTREAM_NAME]?.hosts[new URL(upstream.url).host]?.state, 'closed', 'breaker untouched');
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.equal(metricValue(metrics, 'nuget_proxy_storage_errors_total', { operation: 'fill', code: 'ENOSPC' }), downloads);
  assert.ok(proxy.logs().some((l) => l['msg'] === 'cache not writable: fill failed' && l['code'] === 'ENOSPC'));
  assert.deepEqual(await tempFiles(cacheDir), [], 'the spool file is gone');
});

test('disk full: fills answer 507, metadata is served from memory, hits are served, /readyz says degraded but 200', async () => {
  const p = proxy ?? assert.fail('no proxy');
  await fill('filler-2', 0);
  // A .nuspec fill (no .nupkg cached): nothing can be written.
  const nuspec = await fetch(`${p.url}/v3/flatcontainer/contoso.deprecated/1.0.0/contoso.deprecated.nuspec`);
  assert.equal(nuspec.status, 507, await nuspec.text());
  assert.equal(nuspec.headers.get('retry-after'), '60');
  // A version list: served (kept in memory), though the disk takes nothing.
  const versions = await fetch(`${p.url}/v3/flatcontainer/contoso.unlisted/index.json`);
  assert.equal(versions.status, 200);
  assert.deepEqual(((await versions.json()) as { versions: string[] }).versions, ['1.0.0', '1.1.0', '2.0.0']);
  // Hits.
  const hit = await fetch(p.url + HIT_PATH);
  assert.equal(hit.status, 200);
  assert.equal(hit.headers.get('x-cache'), 'HIT');
  assert.ok(Buffer.from(await hit.arrayBuffer()).length > 0);
  assert.equal((await fetch(`${p.url}/v3/flatcontainer/contoso.tool/index.json`)).status, 200);
  // Ready (it serves what it holds), and says why it is degraded.
  const ready = await readyzUntil(p, (r) => r.body.status !== 'ok');
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal(ready.body.status, 'degraded');
  assert.ok(ready.body.problems.includes('cache not writable (ENOSPC)'), JSON.stringify(ready.body.problems));
  const metrics = await (await fetch(`${p.url}/metrics`)).text();
  assert.ok(metricValue(metrics, 'nuget_proxy_storage_errors_total', { operation: 'readiness' }) >= 1);
  assert.ok(metricValue(metrics, 'nuget_proxy_storage_errors_total', { operation: 'metadata' }) >= 1);
  assert.deepEqual(await tempFiles(cacheDir), []);
});

test('space again: readiness recovers and the fill that failed succeeds, with the right bytes', async () => {
  const p = proxy ?? assert.fail('no proxy');
  await rm(join(cacheDir, 'filler-1'));
  await rm(join(cacheDir, 'filler-2'));
  const ready = await readyzUntil(p, (r) => r.body.status === 'ok');
  assert.equal(ready.body.status, 'ok', JSON.stringify(ready.body));
  const res = await fetch(p.url + BIG_PATH);
  assert.equal(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bigPackage));
  assert.equal((await fetch(`${p.url}/v3/flatcontainer/contoso.deprecated/1.0.0/contoso.deprecated.nuspec`)).status, 200);
  assert.deepEqual(await tempFiles(cacheDir), []);
  assert.equal((await readFile(join(cacheDir, 'packages', BIG.id, BIG.version, `${BIG.id}.${BIG.version}.nupkg`))).length, bigPackage.length);
});
