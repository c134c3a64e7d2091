// The hit path (src/hit-path.ts): package files and fresh documents answered from the memory tier — proven by
// taking the file away underneath — with the same headers, HEAD, ETag/304, gzip negotiation per client, the
// same log line and metrics as the full path; and dropped from memory when retention evicts the version, when
// the document expires, or when a tool changes the cache. With a policy, a .nupkg is never answered from
// memory (every download passes the policy).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes, writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { bumpGeneration } from '../../src/storage/generation.ts';
import { packageKey } from '../../src/storage/layout.ts';

const KB = 1000;
const SMALL: PackageSpec = { id: 'Contoso.Hit.Small', version: '1.0.0', extraFiles: { 'content/a.bin': pseudoRandomBytes(150 * KB, 11) } };
const LARGE: PackageSpec = { id: 'Contoso.Hit.Large', version: '1.0.0', extraFiles: { 'content/b.bin': pseudoRandomBytes(3000 * KB, 12) } };
const MANY: PackageSpec[] = Array.from({ length: 150 }, (_, i) => ({ id: 'Contoso.Hit.Many', version: `1.${i}.0` }));
const GATED: PackageSpec = { id: 'Contoso.Hit.Gated', version: '1.0.0' };
const EVICT: PackageSpec[] = Array.from({ length: 3 }, (_, i) => ({ id: `Contoso.Hit.Evict${i}`, version: '1.0.0', extraFiles: { 'content/c.bin': pseudoRandomBytes(300 * KB, 20 + i) } }));

let upstream: FakeUpstream;

before(async () => {
  const dir = await makeTempDir('hit-packages');
  upstream = await startFakeUpstream({ packages: await writePackages(dir, [SMALL, LARGE, GATED, ...MANY, ...EVICT]) });
});

after(async () => {
  await upstream?.stop();
});

const sha = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const lower = (s: string) => s.toLowerCase();
const nupkgPath = (p: PackageSpec) => `/v3/flatcontainer/${lower(p.id)}/${p.version}/${lower(p.id)}.${p.version}.nupkg`;
const upstreamNupkg = (p: PackageSpec) => `/v3-flatcontainer/${lower(p.id)}/${p.version}/${lower(p.id)}.${p.version}.nupkg`;

interface Got {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A GET/HEAD with exactly the headers given (fetch would add Accept-Encoding and decode gzip). */
function request(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('package files from memory', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('answers a small package from memory after its first download, with the same headers', async () => {
    const path = nupkgPath(SMALL);
    const first = await request(proxy.url, path);
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-cache'], 'MISS');
    await proxy.proxy.flat.drain(); // the streamed fill's response may end before its commit
    const second = await request(proxy.url, path);
    assert.equal(second.headers['x-cache'], 'HIT');
    // Taken away underneath (no eviction, no notice): only memory can still answer.
    assert.ok(await proxy.proxy.blobs.delete(packageKey(lower(SMALL.id), SMALL.version, 'nupkg')));
    const third = await request(proxy.url, path, { headers: { 'x-request-id': 'from-memory-1' } });
    assert.equal(third.status, 200);
    assert.equal(third.headers['x-cache'], 'HIT');
    assert.equal(sha(third.body), sha(buildPackage(SMALL)));
    assert.equal(third.headers['x-request-id'], 'from-memory-1');
    for (const h of ['content-type', 'content-length', 'etag', 'cache-control', 'accept-ranges']) assert.equal(third.headers[h], first.headers[h], h);
    assert.equal(upstream.count(upstreamNupkg(SMALL), { method: 'GET' }), 1, 'one download for three requests');

    const line = proxy.logs().find((l) => l['reqId'] === 'from-memory-1');
    assert.ok(line, 'a request answered from memory has its log line');
    assert.equal(line['msg'], 'request completed');
    assert.equal(line['route'], '/v3/flatcontainer/:id/:version/:file');
    assert.equal(line['cache'], 'hit');
    assert.equal(line['resource'], 'nupkg');
    assert.deepEqual(line['res'], { statusCode: 200 });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.match(metrics, /nuget_proxy_cache_lookups_total\{resource="nupkg",result="hit"\} 2/);
    assert.match(metrics, /nuget_proxy_http_requests_total\{route="\/v3\/flatcontainer\/:id\/:version\/:file",method="GET",status="200"\} 3/);
    assert.match(metrics, /nuget_proxy_memory_tier_bytes [1-9]/);
  });

  it('answers HEAD and If-None-Match from memory: headers only, 304 for the ETag', async () => {
    const path = nupkgPath(SMALL);
    const head = await request(proxy.url, path, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(buildPackage(SMALL).length));
    const etag = String(head.headers['etag']);
    assert.match(etag, /^"[A-Za-z0-9+/=]+"$/, 'the package hash');
    const notModified = await request(proxy.url, path, { headers: { 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.length, 0);
    assert.equal(notModified.headers['etag'], etag);
    const other = await request(proxy.url, path, { headers: { 'if-none-match': '"something-else"' } });
    assert.equal(other.status, 200);
    assert.equal(sha(other.body), sha(buildPackage(SMALL)));
  });

  it('answers 304 on the full path too (a package not yet in memory)', async () => {
    const p = EVICT[2] as PackageSpec;
    const first = await request(proxy.url, nupkgPath(p), { method: 'HEAD' });
    const etag = String(first.headers['etag']);
    const conditional = await request(proxy.url, nupkgPath(p), { headers: { 'if-none-match': `W/${etag}, "x"` } });
    assert.equal(conditional.status, 304);
    assert.equal(conditional.body.length, 0);
  });

  it('holds a large package after its second download from storage (streamed before), then serves it from memory', async () => {
    const path = nupkgPath(LARGE);
    const expected = sha(buildPackage(LARGE));
    // The fill streams it through (not a download from storage); then two from storage.
    assert.equal(sha((await request(proxy.url, path)).body), expected);
    await proxy.proxy.flat.drain();
    for (let i = 0; i < 2; i++) {
      const r = await request(proxy.url, path);
      assert.equal(r.status, 200);
      assert.equal(sha(r.body), expected);
    }
    // The second download started the read into memory; give it a moment.
    const deadline = Date.now() + 5000;
    let held = false;
    while (!held && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      held = (await request(proxy.url, path, { method: 'HEAD' })).headers['accept-ranges'] === 'none' && (await proxy.proxy.memory.stats).bytes > 3000 * KB;
    }
    assert.ok(held, 'the large package is in the memory tier');
    assert.ok(await proxy.proxy.blobs.delete(packageKey(lower(LARGE.id), LARGE.version, 'nupkg')));
    const fromMemory = await request(proxy.url, path);
    assert.equal(fromMemory.status, 200);
    assert.equal(sha(fromMemory.body), expected);
    assert.equal(upstream.count(upstreamNupkg(LARGE), { method: 'GET' }), 1);
  });

  it('forgets what it holds when a tool changes the cache (generation stamp)', async () => {
    const p = EVICT[1] as PackageSpec;
    const path = nupkgPath(p);
    assert.equal((await request(proxy.url, path)).headers['x-cache'], 'MISS');
    await proxy.proxy.flat.drain();
    assert.equal((await request(proxy.url, path)).headers['x-cache'], 'HIT');
    assert.ok(await proxy.proxy.blobs.delete(packageKey(lower(p.id), p.version, 'nupkg')));
    await bumpGeneration(proxy.proxy.blobs);
    // The stamp is looked at once a second, during a request: within a few requests the proxy notices,
    // drops what it holds, and fills the package again.
    const deadline = Date.now() + 5000;
    let cache = 'HIT';
    while (cache === 'HIT' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      cache = String((await request(proxy.url, path)).headers['x-cache']);
    }
    assert.equal(cache, 'MISS');
    assert.equal(upstream.count(upstreamNupkg(p), { method: 'GET' }), 2);
  });
});

describe('documents from memory', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_VERSIONS_TTL_SECONDS: '2' });
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('answers a fresh version list from memory per encoding, and asks upstream again once it expired', async () => {
    const path = '/v3/flatcontainer/contoso.hit.many/index.json';
    const upstreamPath = '/v3-flatcontainer/contoso.hit.many/index.json';
    const gz = { 'accept-encoding': 'gzip' };
    const first = await request(proxy.url, path, { headers: gz });
    assert.equal(first.headers['x-cache'], 'MISS');
    const zipped = await request(proxy.url, path, { headers: gz });
    assert.equal(zipped.headers['x-cache'], 'HIT');
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers['vary'], 'Accept-Encoding');
    const plain = await request(proxy.url, path);
    assert.equal(plain.headers['content-encoding'], undefined, 'a client without gzip gets identity');
    const plainAgain = await request(proxy.url, path);
    assert.equal(plainAgain.headers['x-cache'], 'HIT');
    assert.deepEqual(JSON.parse(gunzipSync(zipped.body).toString('utf8')), JSON.parse(plainAgain.body.toString('utf8')));
    assert.equal((JSON.parse(plainAgain.body.toString('utf8')) as { versions: string[] }).versions.length, 150);
    assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 1);

    await new Promise((r) => setTimeout(r, 2100));
    const expired = await request(proxy.url, path, { headers: gz });
    assert.notEqual(expired.headers['x-cache'], 'HIT', 'past its TTL the list is not answered from memory');
    assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 2, 'revalidated with upstream');
  });

  it('renders a held registration document for each public base (Host) separately', async () => {
    const path = '/v3/registration/semver2/contoso.hit.many/index.json';
    const port = new URL(proxy.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      for (let i = 0; i < 2; i++) {
        const r = await request(proxy.url, path, { headers: { host } });
        assert.equal(r.status, 200);
        if (i === 1) assert.equal(r.headers['x-cache'], 'HIT');
        const doc = JSON.parse(r.body.toString('utf8')) as { '@id': string };
        assert.equal(doc['@id'], `http://${host}${path}`);
      }
    }
  });
});

describe('retention and memory', () => {
  let proxy: TestProxy;
  const size = buildPackage(EVICT[0] as PackageSpec).length;

  before(async () => {
    proxy = await startProxy({
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      // Room for 2.5 packages of EVICT: the third fill passes the quota.
      NUGET_PROXY_MAX_CACHE_SIZE: String(Math.floor(size * 2.5)),
      NUGET_PROXY_EVICTION_GRACE_SECONDS: '0',
      NUGET_PROXY_RETENTION_INTERVAL_SECONDS: '3600',
    });
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('learns of downloads answered from memory, and an eviction drops the memory copy', async () => {
    const [p0, p1, p2] = EVICT as [PackageSpec, PackageSpec, PackageSpec];
    const downloadsBefore = upstream.count(upstreamNupkg(p1), { method: 'GET' });
    await request(proxy.url, nupkgPath(p0));
    await request(proxy.url, nupkgPath(p1));
    await proxy.proxy.flat.drain();
    // Held once downloaded from storage (a fill streams it through instead).
    await request(proxy.url, nupkgPath(p0));
    await request(proxy.url, nupkgPath(p1));
    await new Promise((r) => setTimeout(r, 20));
    // p0 again, from memory: retention must see it as the more recently served one.
    assert.equal((await request(proxy.url, nupkgPath(p0))).headers['x-cache'], 'HIT');
    await proxy.proxy.access.flush();
    await request(proxy.url, nupkgPath(p2));
    await proxy.proxy.flat.drain();
    await proxy.proxy.access.flush();
    const result = await proxy.proxy.retention.sweep();
    assert.deepEqual(
      result?.evicted.map((e) => e.lowerId),
      ['contoso.hit.evict1'],
      'the version served least recently (p1) goes, not p0 which was last served from memory',
    );
    // p1 was held in memory too (small): evicted, it is not answered from memory but filled again.
    const again = await request(proxy.url, nupkgPath(p1));
    assert.equal(again.status, 200);
    assert.equal(again.headers['x-cache'], 'MISS');
    assert.equal(upstream.count(upstreamNupkg(p1), { method: 'GET' }), downloadsBefore + 2);
  });
});

describe('with a policy', () => {
  let proxy: TestProxy;

  before(async () => {
    const dir = await makeTempDir('hit-policy');
    const config = join(dir, 'nuget-proxy.yaml');
    await writeFile(config, `upstream: ${upstream.serviceIndexUrl}\npolicy:\n  deny: ["Evil.*"]\n`);
    proxy = await startProxy({ NUGET_PROXY_CONFIG: config });
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('never answers a .nupkg from memory: every download passes the policy (its answer can change)', async () => {
    const path = nupkgPath(GATED);
    assert.equal((await request(proxy.url, path)).headers['x-cache'], 'MISS');
    await proxy.proxy.flat.drain();
    assert.equal((await request(proxy.url, path)).headers['x-cache'], 'HIT');
    // Taken away underneath: a memory copy would still answer; the full path has to fetch it again.
    assert.ok(await proxy.proxy.blobs.delete(packageKey(lower(GATED.id), GATED.version, 'nupkg')));
    const third = await request(proxy.url, path);
    assert.equal(third.status, 200);
    assert.equal(third.headers['x-cache'], 'MISS');
    assert.equal(sha(third.body), sha(buildPackage(GATED)));
    assert.equal(upstream.count(upstreamNupkg(GATED), { method: 'GET' }), 2);
  });
});
