// Package fills against the real fake upstream: single-flight under concurrency, retries, truncated
// bodies never cached, client disconnects do not cancel fills, unknown packages are 404, upstream down is 5xx.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;

before(async () => {
  upstream = await startStandardFakeUpstream();
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_UPSTREAM_RETRIES: '3', NUGET_PROXY_BREAKER_BACKOFF_MS: '200' });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

const sha = (b: Buffer) => createHash('sha512').update(b).digest('hex');

function nupkgPath(id: string, version: string) {
  return `/v3/flatcontainer/${id}/${version}/${id}.${version}.nupkg`;
}

/**
 * A GET that reports whether the response arrived complete (all of Content-Length, or the last chunk);
 * a connection closed before any response is status 0, not complete.
 */
function rawGet(path: string): Promise<{ status: number; body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const req = http.get(proxy.url + path, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0), complete: false }));
  });
}

async function get(path: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(proxy.url + path);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

test('50 concurrent requests for one uncached .nupkg: one upstream download, 50 identical bodies', async () => {
  const path = nupkgPath('newtonsoft.json', '13.0.3');
  const upstreamPath = '/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';
  // Slow the download down so all 50 requests really overlap with the fill.
  upstream.addFault({ match: upstreamPath, kind: 'delay', ms: 300, times: 1 });
  const results = await Promise.all(Array.from({ length: 50 }, () => get(path)));
  const expected = sha(await readFile('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg'));
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), expected);
  }
  assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 1);
  const cacheResults = results.map((r) => r.headers.get('x-cache'));
  assert.ok(cacheResults.includes('MISS') && cacheResults.includes('COALESCED'), cacheResults.join(','));
});

test('upstream answering 503 twice then 200: the client gets the package', async () => {
  const upstreamPath = '/v3-flatcontainer/contoso.mixedcase.lib/1.0.0/contoso.mixedcase.lib.1.0.0.nupkg';
  upstream.addFault({ match: upstreamPath, kind: 'status', status: 503, times: 2 });
  const r = await get(nupkgPath('Contoso.MixedCase.Lib', '1.0.0'));
  assert.equal(r.status, 200);
  assert.equal(r.body.subarray(0, 2).toString('latin1'), 'PK');
  assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 3);
});

test('a truncated upstream body is never cached: the client gets an error, the next request succeeds cleanly', async () => {
  const upstreamPath = '/v3-flatcontainer/contoso.mixedcase.lib/1.1.0/contoso.mixedcase.lib.1.1.0.nupkg';
  upstream.addFault({ match: upstreamPath, kind: 'truncate' });
  // The GET follows the first attempt as it streams in: that attempt breaks off, so the connection is
  // aborted (before or after the headers, depending on timing) — never a complete 200.
  const bad = await rawGet(nupkgPath('contoso.mixedcase.lib', '1.1.0'));
  assert.ok(!bad.complete || bad.status >= 500, `status ${bad.status}, complete ${bad.complete}`);
  // The fill itself retries for later requesters; HEAD waits for its end.
  const head = await fetch(proxy.url + nupkgPath('contoso.mixedcase.lib', '1.1.0'), { method: 'HEAD' });
  assert.ok(head.status >= 500, `HEAD status ${head.status}`);
  assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 4, 'one attempt plus three retries');
  const dir = join(proxy.cacheDir, 'packages', 'contoso.mixedcase.lib', '1.1.0');
  const files = await readdir(dir).catch(() => [] as string[]);
  assert.ok(!files.some((f) => f.endsWith('.nupkg')), `nothing cached, found ${files.join(',')}`);
  const temps = (await readdir(join(proxy.cacheDir, 'tmp'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  assert.deepEqual(temps.map((e) => e.name), [], 'no temp files left behind');
  upstream.clearFaults();
  const good = await get(nupkgPath('contoso.mixedcase.lib', '1.1.0'));
  assert.equal(good.status, 200);
  // The GET was streamed through; HEAD waits for the commit.
  assert.equal((await fetch(proxy.url + nupkgPath('contoso.mixedcase.lib', '1.1.0'), { method: 'HEAD' })).status, 200);
  const onDisk = await readFile(join(dir, 'contoso.mixedcase.lib.1.1.0.nupkg'));
  assert.equal(sha(good.body), sha(onDisk));
});

test('a client that disconnects does not cancel the fill', async () => {
  const upstreamPath = '/v3-flatcontainer/contoso.mixedcase.lib/2.0.0/contoso.mixedcase.lib.2.0.0.nupkg';
  upstream.addFault({ match: upstreamPath, kind: 'delay', ms: 400, times: 1 });
  await new Promise<void>((resolve) => {
    const req = http.get(proxy.url + nupkgPath('contoso.mixedcase.lib', '2.0.0'));
    req.on('error', () => resolve());
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 100);
  });
  // The fill keeps going: the package lands on disk without any other request.
  const file = join(proxy.cacheDir, 'packages', 'contoso.mixedcase.lib', '2.0.0', 'contoso.mixedcase.lib.2.0.0.nupkg');
  const deadline = Date.now() + 5000;
  let present = false;
  while (!present && Date.now() < deadline) {
    present = await readFile(file).then(() => true, () => false);
    if (!present) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(present, 'fill finished after the client hung up');
  assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 1);
});

function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(proxy.url);
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('unknown package → 404; invalid id/version → 400; never 500', async () => {
  assert.equal((await get('/v3/flatcontainer/no.such.package/index.json')).status, 404);
  assert.equal((await get(nupkgPath('no.such.package', '1.0.0'))).status, 404);
  // A valid id in another script (NuGet ids are .NET \w): a cache key like any other, so a 404 from upstream.
  assert.equal((await get(nupkgPath('café.lib', '1.0.0'))).status, 404);
  assert.equal((await get('/v3/flatcontainer/bad..id/index.json')).status, 400);
  assert.equal((await get('/v3/flatcontainer/newtonsoft.json/1.0.0-01/newtonsoft.json.1.0.0-01.nupkg')).status, 400);
  // fetch() would resolve %2e%2e itself; send the raw path.
  assert.equal(await rawStatus('/v3/flatcontainer/%2e%2e/%2e%2e/etc%2fpasswd'), 400);
  assert.equal(await rawStatus('/v3/flatcontainer/..%2f..%2fetc/index.json'), 400);
  assert.equal(await rawStatus('/v3/flatcontainer/newtonsoft.json/13.0.3/..%2f..%2f..%2fmetadata'), 404);
  assert.equal((await get('/v3/flatcontainer/newtonsoft.json/13.0.3/other.13.0.3.nupkg')).status, 404);
});

test('1.0, 1.0.0.0 and 1.0.0+meta are one package version: one cache entry, one download', async () => {
  const upstreamPath = '/v3-flatcontainer/contoso.unlisted/1.0.0/contoso.unlisted.1.0.0.nupkg';
  const a = await get('/v3/flatcontainer/contoso.unlisted/1.0/contoso.unlisted.1.0.nupkg');
  const b = await get('/v3/flatcontainer/Contoso.Unlisted/1.0.0.0/contoso.unlisted.1.0.0.0.nupkg');
  const c = await get('/v3/flatcontainer/contoso.unlisted/1.0.0%2Bmeta/contoso.unlisted.1.0.0.nupkg');
  for (const r of [a, b, c]) assert.equal(r.status, 200);
  assert.equal(sha(a.body), sha(b.body));
  assert.equal(sha(a.body), sha(c.body));
  assert.equal(upstream.count(upstreamPath, { method: 'GET' }), 1);
  // A GET streams the fill through and can end before the commit; HEAD waits for the committed package.
  assert.equal((await fetch(proxy.url + nupkgPath('contoso.unlisted', '1.0.0'), { method: 'HEAD' })).status, 200);
  assert.deepEqual(await readdir(join(proxy.cacheDir, 'packages', 'contoso.unlisted')), ['1.0.0']);
});

test('HEAD answers with the GET headers and no body', async () => {
  const path = nupkgPath('newtonsoft.json', '13.0.3');
  const res = await fetch(proxy.url + path, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String((await readFile('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg')).length));
  assert.equal((await res.arrayBuffer()).byteLength, 0);
  const idx = await fetch(`${proxy.url}/v3/index.json`, { method: 'HEAD' });
  assert.equal(idx.status, 200);
  assert.ok(Number(idx.headers.get('content-length')) > 100);
});

test('upstream unreachable and nothing cached → 5xx with a clear message, never 404', async () => {
  await upstream.stop();
  try {
    const r = await get(nupkgPath('contoso.fourpart', '1.2.3.4'));
    assert.ok(r.status >= 500 && r.status < 600, `status ${r.status}`);
    assert.match(r.body.toString(), /unreachable|unavailable|not cached/i);
    assert.ok(r.headers.get('x-nuget-warning'));
  } finally {
    await upstream.start();
    // Let the breaker the outage opened reach its probe time.
    await new Promise((r) => setTimeout(r, 300));
  }
});

test('icon and readme (Visual Studio details pane): served with the right types, from the package when it embeds them', async () => {
  // The package is cached first; icon and readme then come out of the .nupkg without asking upstream.
  assert.equal((await get(nupkgPath('contoso.iconreadme', '1.0.0'))).status, 200);
  upstream.resetLog();
  const icon = await get('/v3/flatcontainer/contoso.iconreadme/1.0.0/icon');
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get('content-type'), 'image/png');
  assert.equal(icon.body.subarray(1, 4).toString('latin1'), 'PNG');
  const readme = await get('/v3/flatcontainer/contoso.iconreadme/1.0.0/readme');
  assert.equal(readme.status, 200);
  assert.match(readme.headers.get('content-type') ?? '', /^text\/markdown/);
  assert.match(readme.body.toString(), /^# Contoso\.IconReadme/);
  assert.equal(upstream.requests().length, 0);
  // A package without a readme: 404 (VS shows "no README"), remembered.
  assert.equal((await get('/v3/flatcontainer/contoso.mixedcase.lib/1.0.0/readme')).status, 404);
  assert.equal((await get('/v3/flatcontainer/contoso.mixedcase.lib/1.0.0/readme')).status, 404);
  assert.equal(upstream.count('/v3-flatcontainer/contoso.mixedcase.lib/1.0.0/readme'), 1);
  // A nuspec for a package that is not cached comes from upstream and is checked.
  const nuspec = await get('/v3/flatcontainer/contoso.fourpart/2.0.0/contoso.fourpart.nuspec');
  assert.equal(nuspec.status, 200);
  assert.match(nuspec.body.toString(), /<id>Contoso\.FourPart<\/id>/);
});
