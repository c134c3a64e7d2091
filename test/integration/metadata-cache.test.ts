// The metadata freshness policy against the real fake upstream: TTL, conditional revalidation,
// stale-if-error with a warning and a metric, the stale-wait deadline, negative caching, coalescing,
// and response encoding.

import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildPackage } from '../helpers/packages.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

let upstream: FakeUpstream;
let proxy: TestProxy;

before(async () => {
  upstream = await startStandardFakeUpstream();
  proxy = await startProxy({
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_VERSIONS_TTL_SECONDS: '1',
    NUGET_PROXY_REGISTRATION_TTL_SECONDS: '1',
    NUGET_PROXY_NOT_FOUND_TTL_SECONDS: '30',
    NUGET_PROXY_STALE_WAIT_MS: '300',
    NUGET_PROXY_UPSTREAM_RETRIES: '1',
    NUGET_PROXY_BREAKER_FAILURES: '100',
  });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

async function getJson(path: string): Promise<{ status: number; body: unknown; headers: Headers; ms: number }> {
  const t = performance.now();
  const res = await fetch(proxy.url + path);
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? JSON.parse(text) : text, headers: res.headers, ms: performance.now() - t };
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const sel = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (sel.every((s) => line.includes(s))) total += Number(line.split(' ').pop());
  }
  return total;
}

test('a fresh version list is served from cache; after the TTL it is revalidated with If-None-Match', async () => {
  const path = '/v3/flatcontainer/contoso.prerelease/index.json';
  const upstreamPath = '/v3-flatcontainer/contoso.prerelease/index.json';
  const first = await getJson(path);
  assert.equal(first.status, 200);
  assert.deepEqual((first.body as { versions: string[] }).versions, ['0.9.0', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-rc.2', '1.0.0-rc.10']);
  assert.equal(first.headers.get('x-cache'), 'MISS');
  const second = await getJson(path);
  assert.equal(second.headers.get('x-cache'), 'HIT');
  assert.equal(upstream.count(upstreamPath), 1);
  await sleep(1100);
  const third = await getJson(path);
  assert.equal(third.status, 200);
  const reval = upstream.requests().filter((r) => r.path === upstreamPath);
  assert.equal(reval.length, 2);
  assert.ok(reval[1]?.headers['if-none-match'], 'revalidation is conditional');
  assert.equal(reval[1]?.status, 304);
});

test('a version published upstream appears after the TTL', async () => {
  const dir = await makeTempDir('newpkg');
  const file = join(dir, 'contoso.mixedcase.lib.3.0.0.nupkg');
  const path = '/v3/flatcontainer/contoso.mixedcase.lib/index.json';
  assert.ok(!((await getJson(path)).body as { versions: string[] }).versions.includes('3.0.0'));
  await writeFile(file, buildPackage({ id: 'Contoso.MixedCase.Lib', version: '3.0.0', description: 'new' }));
  await upstream.addPackage(file);
  await sleep(1100);
  assert.ok(((await getJson(path)).body as { versions: string[] }).versions.includes('3.0.0'));
});

test('upstream down: the stale copy is served with X-NuGet-Warning and counted', async () => {
  const path = '/v3/registration/semver2/contoso.fourpart/index.json';
  assert.equal((await getJson(path)).status, 200);
  await sleep(1100);
  const before = await metric('nuget_proxy_stale_served_total', { resource: 'registration' });
  await upstream.stop();
  try {
    const r = await getJson(path);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-cache'), 'STALE');
    assert.match(r.headers.get('x-nuget-warning') ?? '', /nuget-proxy: .*served the copy cached at/);
    const items = (r.body as { items: unknown[] }).items;
    assert.equal(items.length, 1);
    assert.equal(await metric('nuget_proxy_stale_served_total', { resource: 'registration' }), before + 1);
  } finally {
    await upstream.start();
  }
});

test('a slow upstream never holds a client longer than the stale wait when a stale copy exists', async () => {
  const path = '/v3/flatcontainer/contoso.fourpart/index.json';
  assert.equal((await getJson(path)).status, 200);
  await sleep(1100);
  upstream.addFault({ match: '/v3-flatcontainer/contoso.fourpart/index.json', kind: 'delay', ms: 3000, times: 1 });
  const r = await getJson(path);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-cache'), 'STALE');
  assert.ok(r.ms < 2000, `took ${Math.round(r.ms)} ms`);
  assert.match(r.headers.get('x-nuget-warning') ?? '', /did not answer within 300 ms/);
  // The revalidation finished in the background: the copy is fresh again afterwards.
  await sleep(3200);
  const again = await getJson(path);
  assert.equal(again.headers.get('x-cache'), 'HIT');
});

test('upstream 404s are remembered (negative cache)', async () => {
  const path = '/v3/flatcontainer/contoso.nothing.here/index.json';
  assert.equal((await getJson(path)).status, 404);
  const r = await getJson(path);
  assert.equal(r.status, 404);
  assert.equal(upstream.count('/v3-flatcontainer/contoso.nothing.here/index.json'), 1);
});

test('concurrent misses for one metadata document make one upstream request', async () => {
  const upstreamPath = '/v3/registration5-gz-semver2/contoso.twopages/index.json';
  upstream.addFault({ match: upstreamPath, kind: 'delay', ms: 200, times: 1 });
  const results = await Promise.all(Array.from({ length: 20 }, () => getJson('/v3/registration/semver2/contoso.twopages/index.json')));
  for (const r of results) assert.equal(r.status, 200);
  assert.equal(upstream.count(upstreamPath), 1);
  assert.ok(results.some((r) => r.headers.get('x-cache') === 'COALESCED'));
});

function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(proxy.url + path);
    http
      .get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

test('JSON responses: gzip for clients that accept it, identity otherwise, with a correct Content-Length', async () => {
  const path = '/v3/registration/gz-semver1/contoso.paged/index.json';
  const gz = await rawGet(path, { 'accept-encoding': 'gzip, deflate' });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(Number(gz.headers['content-length']), gz.body.length);
  const plain = await rawGet(path, {});
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(Number(plain.headers['content-length']), plain.body.length);
  assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), JSON.parse(plain.body.toString()));
  assert.match(String(plain.headers['content-type']), /^application\/json/);
  const doc = JSON.parse(plain.body.toString()) as { count: number; items: Array<{ count: number; lower: string; upper: string; items?: unknown }> };
  // lower/upper/count preserved exactly from upstream's separate pages.
  assert.deepEqual(
    doc.items.map((p) => [p.count, p.lower, p.upper, p.items === undefined]),
    [
      [64, '1.0.0', '1.0.63', true],
      [64, '1.0.64', '1.0.127', true],
      [12, '1.0.128', '1.0.139', true],
    ],
  );
});
