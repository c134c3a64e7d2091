// Fills streamed through, against the real fake upstream: the first client and every coalesced waiter get
// a slow download's bytes as they arrive; a package that fails a check (zip, nuspec id, SHA-512 header) is
// never delivered complete — the client's response breaks off — and never cached, with no temp file left;
// HEAD on a cold package waits for the verified package; a client hanging up mid-stream never cancels the fill;
// a commit failing after the checks leaves the client its verified bytes and the cache without the package.
// With several upstreams (configuration file), a package from the second feed or from a folder streams the
// same way, and the policy refuses a download before any byte (or upstream request) happens.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes, writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { metricValue } from '../helpers/replicas.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;
const packages = new Map<string, Buffer>();

/** A package of about `kb` KB that does not compress (its download takes as long as its size says). */
function bigSpec(id: string, kb: number): PackageSpec {
  return { id, version: '1.0.0', description: 'A package for streamed fills.', extraFiles: { 'content/payload.bin': pseudoRandomBytes(kb * 1024, kb) }, storeExtraFiles: true };
}

const SPECS = ['Stream.Slow', 'Stream.Shared', 'Stream.Head', 'Stream.Hangup', 'Stream.Retry', 'Stream.Good', 'Stream.Uncommitted'].map((id) => bigSpec(id, 1200));

before(async () => {
  const dir = await makeTempDir('streamed-packages');
  const paths = await writePackages(dir, SPECS);
  upstream = await startStandardFakeUpstream({ includeRealPackages: false, packages: paths });
  for (const [i, spec] of SPECS.entries()) packages.set(spec.id.toLowerCase(), await readFile(paths[i] as string));
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_UPSTREAM_RETRIES: '1' });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

const sha = (b: Buffer) => createHash('sha512').update(b).digest('base64');
const nupkgPath = (lowerId: string) => `/v3/flatcontainer/${lowerId}/1.0.0/${lowerId}.1.0.0.nupkg`;
const upstreamPath = (lowerId: string) => `/v3-flatcontainer/${lowerId}/1.0.0/${lowerId}.1.0.0.nupkg`;

interface Outcome {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** All of Content-Length arrived, or the last chunk of a chunked body. */
  readonly complete: boolean;
  readonly firstByteMs: number | null;
  readonly totalMs: number;
}

/** A GET with the timing of its first body byte; `hangUpAfterBytes` destroys it once that much arrived. */
function timedGet(path: string, options: { hangUpAfterBytes?: number } = {}): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let firstByteMs: number | null = null;
    const chunks: Buffer[] = [];
    const req = http.get(proxy.url + path, (res) => {
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete, firstByteMs, totalMs: performance.now() - started });
      res.on('data', (c: Buffer) => {
        firstByteMs ??= performance.now() - started;
        chunks.push(c);
        if (options.hangUpAfterBytes !== undefined && Buffer.concat(chunks).length >= options.hangUpAfterBytes) {
          req.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', () => resolve({ status: 0, headers: {}, body: Buffer.concat(chunks), complete: false, firstByteMs, totalMs: performance.now() - started }));
  });
}

async function head(path: string): Promise<Response> {
  return fetch(proxy.url + path, { method: 'HEAD' });
}

async function cachedFiles(lowerId: string): Promise<string[]> {
  return readdir(join(proxy.cacheDir, 'packages', lowerId, '1.0.0')).catch(() => []);
}

async function tempFiles(): Promise<string[]> {
  const entries = await readdir(join(proxy.cacheDir, 'tmp'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

describe('fills streamed through', () => {
  it('the first client receives bytes long before a slow download ends, and the exact package', async () => {
    const id = 'stream.slow';
    // 1.2 MB at 400 KB/s: the download lasts about 3 s.
    upstream.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 400 * 1024, times: 1 });
    const r = await timedGet(nupkgPath(id));
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.equal(sha(r.body), sha(packages.get(id) as Buffer));
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(r.headers['content-length'], String(packages.get(id)?.length));
    assert.ok(r.totalMs > 2000, `the drip lasted ${Math.round(r.totalMs)} ms`);
    assert.ok(r.firstByteMs !== null && r.firstByteMs < r.totalMs / 3, `first byte after ${Math.round(r.firstByteMs ?? -1)} ms of ${Math.round(r.totalMs)} ms`);
    assert.equal((await head(nupkgPath(id))).status, 200);
    assert.ok((await cachedFiles(id)).includes(`${id}.1.0.0.nupkg`));
  });

  it('coalesced waiters, early and late, get the same bytes from the one download', async () => {
    const id = 'stream.shared';
    upstream.resetLog();
    upstream.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 400 * 1024, times: 1 });
    const first = timedGet(nupkgPath(id));
    await new Promise((r) => setTimeout(r, 1200));
    // These join a download that is well under way: they start from its first byte.
    const late = await Promise.all([timedGet(nupkgPath(id)), timedGet(nupkgPath(id)), first]);
    for (const r of late) {
      assert.equal(r.status, 200);
      assert.ok(r.complete);
      assert.equal(sha(r.body), sha(packages.get(id) as Buffer));
    }
    assert.deepEqual(late.map((r) => r.headers['x-cache']).sort(), ['COALESCED', 'COALESCED', 'MISS']);
    for (const r of late.slice(0, 2)) assert.ok(r.firstByteMs !== null && r.firstByteMs < r.totalMs / 2, 'a waiter streams too');
    assert.equal(upstream.count(upstreamPath(id), { method: 'GET' }), 1);
  });

  const corrupt: Array<{ name: string; id: string; body: () => Buffer; headers?: Record<string, string>; chunked?: boolean }> = [
    { name: 'not a zip', id: 'corrupt.zip', body: () => pseudoRandomBytes(400_000, 7) },
    { name: 'not a zip, sent chunked', id: 'corrupt.chunked', body: () => pseudoRandomBytes(400_000, 8), chunked: true },
    { name: 'a zip whose nuspec names another package', id: 'corrupt.identity', body: () => buildPackage(bigSpec('Someone.Else', 300)) },
    {
      name: 'bytes that do not match the x-ms-meta-sha512 header',
      id: 'corrupt.digest',
      body: () => buildPackage(bigSpec('Corrupt.Digest', 300)),
      headers: { 'x-ms-meta-sha512': sha(Buffer.from('something else')) },
    },
  ];
  for (const c of corrupt) {
    it(`${c.name}: the streaming client never gets a complete response, nothing is cached, no temp file is left`, async () => {
      const body = c.body();
      upstream.addFault({
        match: upstreamPath(c.id),
        kind: 'status',
        status: 200,
        body,
        headers: { 'content-type': 'application/octet-stream', ...c.headers },
        bytesPerSecond: 1024 * 1024,
        ...(c.chunked ? { chunked: true } : {}),
      });
      try {
        const r = await timedGet(nupkgPath(c.id));
        assert.equal(r.complete, false, `status ${r.status}: the response must break off`);
        assert.ok(r.body.length < body.length, `got ${r.body.length} of ${body.length} bytes`);
        if (r.status !== 0) {
          assert.equal(r.status, 200, 'it was streaming');
          assert.ok(r.body.length > 0, 'bytes were streamed before the checks failed');
        }
        // HEAD waits for the fill (and its retry) to end: refused, not cached.
        const h = await head(nupkgPath(c.id));
        assert.equal(h.status, 502);
        assert.deepEqual((await cachedFiles(c.id)).filter((f) => f.endsWith('.nupkg')), []);
        assert.deepEqual(await tempFiles(), [], 'no temp file left');
      } finally {
        upstream.clearFaults();
      }
    });
  }

  it('HEAD on a cold package waits for the verified package and sends no body', async () => {
    const id = 'stream.head';
    upstream.resetLog();
    upstream.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 1024 * 1024, times: 1 });
    const res = await head(nupkgPath(id));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(packages.get(id)?.length));
    assert.equal((await res.arrayBuffer()).byteLength, 0);
    assert.ok((await cachedFiles(id)).includes(`${id}.1.0.0.nupkg`), 'cached by the time HEAD answers');
    const get = await timedGet(nupkgPath(id));
    assert.equal(get.headers['x-cache'], 'HIT');
    assert.equal(sha(get.body), sha(packages.get(id) as Buffer));
    assert.equal(upstream.count(upstreamPath(id), { method: 'GET' }), 1);
  });

  it('a client hanging up mid-stream does not cancel the fill', async () => {
    const id = 'stream.hangup';
    upstream.resetLog();
    upstream.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 600 * 1024, times: 1 });
    const r = await timedGet(nupkgPath(id), { hangUpAfterBytes: 100_000 });
    assert.ok(r.body.length >= 100_000 && !r.complete);
    const h = await head(nupkgPath(id));
    assert.equal(h.status, 200);
    assert.ok((await cachedFiles(id)).includes(`${id}.1.0.0.nupkg`));
    assert.equal(upstream.count(upstreamPath(id), { method: 'GET' }), 1);
  });

  it('an attempt that breaks off after bytes went out: its client carries on in the retry (the same announced body) and gets the whole package', async () => {
    const id = 'stream.retry';
    upstream.resetLog();
    upstream.addFault({ match: upstreamPath(id), kind: 'truncate', bytes: 600_000, times: 1 });
    const r = await timedGet(nupkgPath(id));
    assert.equal(r.complete, true, 'the response completes');
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(packages.get(id) as Buffer), 'its bytes before the break, then the retry from there: the package');
    const h = await head(nupkgPath(id));
    assert.equal(h.status, 200, 'the retried fill succeeded');
    const again = await timedGet(nupkgPath(id));
    assert.equal(sha(again.body), sha(packages.get(id) as Buffer));
    assert.equal(upstream.count(upstreamPath(id), { method: 'GET' }), 2);
    assert.deepEqual(await tempFiles(), []);
  });

  it('a commit that fails after the checks: the client already has the verified package, nothing is cached, the failure is counted', async () => {
    const id = 'stream.uncommitted';
    upstream.resetLog();
    // A plain file where the id's directory goes: the download and its checks succeed (the spool is in
    // tmp/), and every write of the commit fails.
    const obstacle = join(proxy.cacheDir, 'packages', id);
    await mkdir(join(proxy.cacheDir, 'packages'), { recursive: true });
    await writeFile(obstacle, 'not a directory');
    const failedFills = async () => metricValue(await (await fetch(`${proxy.url}/metrics`)).text(), 'nuget_proxy_blob_fills_total', { resource: 'nupkg', result: 'error' });
    const failedBefore = await failedFills();
    try {
      const r = await timedGet(nupkgPath(id));
      assert.equal(r.status, 200);
      assert.equal(r.complete, true, 'the response completes: its bytes passed the checks');
      assert.equal(sha(r.body), sha(packages.get(id) as Buffer));
      assert.equal(r.headers['x-cache'], 'MISS');
      // The commit runs after the last byte went out: wait for its failure to be counted.
      let failed = failedBefore;
      for (let i = 0; i < 100 && failed === failedBefore; i++) {
        await sleep(20);
        failed = await failedFills();
      }
      assert.equal(failed, failedBefore + 1, 'the failed commit is counted as a failed fill');
      assert.equal(await readFile(obstacle, 'utf8'), 'not a directory');
      assert.deepEqual(await tempFiles(), [], 'no temp file is left');
    } finally {
      await rm(obstacle, { force: true });
    }
    // With the obstacle gone, the next request fills (a second download) and caches the package.
    const again = await timedGet(nupkgPath(id));
    assert.equal(again.status, 200);
    assert.equal(sha(again.body), sha(packages.get(id) as Buffer));
    // HEAD answers from the store, after the fill it may join.
    assert.equal((await head(nupkgPath(id))).status, 200);
    assert.ok((await cachedFiles(id)).includes(`${id}.1.0.0.nupkg`));
    assert.equal(upstream.count(upstreamPath(id), { method: 'GET' }), 2);
  });
});

describe('fills streamed through, several upstreams and the policy', () => {
  let first: FakeUpstream;
  let second: FakeUpstream;
  let multi: TestProxy;
  const MULTI = [bigSpec('Stream.FromB', 1200), bigSpec('Stream.FromFolder', 600), bigSpec('Stream.Denied', 300)];
  const bytes = new Map<string, Buffer>();

  before(async () => {
    const dir = await makeTempDir('streamed-multi');
    const [fromB, fromFolder, denied] = await writePackages(join(dir, 'b'), MULTI);
    await writePackages(join(dir, 'folder'), [MULTI[1] as PackageSpec]);
    // The first upstream has Stream.Denied; the second has Stream.FromB (the first lacks it); the folder the third.
    second = await startFakeUpstream({ packages: [fromB as string] });
    first = await startFakeUpstream({ packages: [denied as string] });
    for (const [i, path] of [fromB, fromFolder, denied].entries()) bytes.set((MULTI[i] as PackageSpec).id.toLowerCase(), await readFile(path as string));
    const config = join(dir, 'proxy.yaml');
    await writeFile(
      config,
      [
        'upstreams:',
        `  - name: first\n    url: ${first.serviceIndexUrl}`,
        `  - name: second\n    url: ${second.serviceIndexUrl}`,
        `  - name: share\n    folder: ${join(dir, 'folder')}`,
        'policy:',
        '  deny: ["Stream.Denied"]',
        '',
      ].join('\n'),
    );
    multi = await startProxy({ NUGET_PROXY_CONFIG: config });
  });

  after(async () => {
    await multi?.dispose();
    await second?.stop();
    await first?.stop();
  });

  function get(path: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const started = performance.now();
      let firstByteMs: number | null = null;
      const chunks: Buffer[] = [];
      http.get(multi.url + path, (res) => {
        res.on('data', (c: Buffer) => {
          firstByteMs ??= performance.now() - started;
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete, firstByteMs, totalMs: performance.now() - started }));
      });
    });
  }

  it('a package only the second upstream has streams through from it and is cached as its', async () => {
    const id = 'stream.fromb';
    second.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 400 * 1024, times: 1 });
    const r = await get(nupkgPath(id));
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(sha(r.body), sha(bytes.get(id) as Buffer));
    assert.ok(r.totalMs > 2000, `the drip lasted ${Math.round(r.totalMs)} ms`);
    assert.ok(r.firstByteMs !== null && r.firstByteMs < r.totalMs / 3, `first byte after ${Math.round(r.firstByteMs ?? -1)} ms of ${Math.round(r.totalMs)} ms`);
    // HEAD waits for the commit (a streamed response may end before it).
    assert.equal((await fetch(multi.url + nupkgPath(id), { method: 'HEAD' })).status, 200);
    const marker = await readFile(join(multi.cacheDir, 'packages', id, '1.0.0', 'source'), 'utf8').catch(() => null);
    assert.equal(marker?.trim(), 'second');
    const hit = await get(nupkgPath(id));
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(sha(hit.body), sha(bytes.get(id) as Buffer));
    assert.equal(second.count(upstreamPath(id), { method: 'GET' }), 1);
  });

  it('a package from a folder upstream streams through its spool and is cached', async () => {
    const id = 'stream.fromfolder';
    const r = await get(nupkgPath(id));
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(r.headers['content-length'], String(bytes.get(id)?.length));
    assert.equal(sha(r.body), sha(bytes.get(id) as Buffer));
    assert.equal((await fetch(multi.url + nupkgPath(id), { method: 'HEAD' })).status, 200);
    assert.equal((await get(nupkgPath(id))).headers['x-cache'], 'HIT');
    const entries = await readdir(join(multi.cacheDir, 'tmp'), { recursive: true, withFileTypes: true });
    assert.deepEqual(entries.filter((e) => e.isFile()).map((e) => e.name), [], 'no temp file left');
  });

  it('the policy refuses a download before any byte: a 403, upstream never asked for the package, nothing cached', async () => {
    const id = 'stream.denied';
    const r = await get(nupkgPath(id));
    assert.equal(r.status, 403);
    assert.ok(!r.body.includes(bytes.get(id)?.subarray(0, 64) as Buffer), 'no package bytes in the refusal');
    assert.deepEqual(await readdir(join(multi.cacheDir, 'packages', id)).catch(() => []), []);
    assert.equal(first.count(upstreamPath(id)), 0, 'the package was never requested upstream');
  });
});
