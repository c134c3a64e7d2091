// Logs and metrics: one JSON line per request in pino-http's shape (level names, req.id/method/url/
// remoteAddress, res.statusCode, responseTime) plus route and cache result, an incoming X-Request-Id
// honoured; one warning when clients are handed URLs under another host; every metric prefixed and
// labelled with bounded values only.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

test('one log line per request in pino-http\'s shape, with request id, client address, route, status, duration and cache result', async () => {
  const given = await fetch(`${proxy.url}/v3/flatcontainer/contoso.unlisted/index.json`, { headers: { 'x-request-id': 'build-42.step-7', 'user-agent': 'NuGet Command Line/6.12' } });
  assert.equal(given.headers.get('x-request-id'), 'build-42.step-7');
  const generated = await fetch(`${proxy.url}/v3/flatcontainer/contoso.unlisted/index.json`);
  const id = generated.headers.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f-]{36}$/);
  const bogus = await fetch(`${proxy.url}/v3/index.json`, { headers: { 'x-request-id': 'bad id with spaces' } });
  assert.notEqual(bogus.headers.get('x-request-id'), 'bad id with spaces');
  const lines = proxy.logs().filter((l) => l['msg'] === 'request completed');
  const first = lines.find((l) => l['reqId'] === 'build-42.step-7');
  assert.ok(first, 'log line carries the incoming request id');
  assert.equal(first['level'], 'info', 'level names, not numbers');
  const req = first['req'] as Record<string, unknown>;
  assert.equal(req['id'], 'build-42.step-7');
  assert.equal(req['method'], 'GET');
  assert.equal(req['url'], '/v3/flatcontainer/contoso.unlisted/index.json');
  assert.equal(req['remoteAddress'], '127.0.0.1', 'the client address');
  assert.equal(typeof req['remotePort'], 'number');
  assert.deepEqual(req['headers'], { 'user-agent': 'NuGet Command Line/6.12' });
  assert.deepEqual(first['res'], { statusCode: 200 });
  assert.equal(typeof first['responseTime'], 'number');
  assert.equal(first['route'], '/v3/flatcontainer/:id/index.json');
  assert.equal(first['cache'], 'miss');
  const second = lines.find((l) => l['reqId'] === id);
  assert.equal(second?.['cache'], 'hit');
  assert.equal(lines.filter((l) => l['reqId'] === id).length, 1, 'exactly one line per request');
  assert.ok(proxy.logs().every((l) => typeof l['level'] === 'string'), 'every line has a level name');
});

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('one warning, once, when clients are handed URLs under another host than the one they asked for', async () => {
  const warnings = () => proxy.logs().filter((l) => l['msg'] === 'clients are handed URLs under another host than the one they asked for');
  // Probes and scrapes are handed no URLs: no warning for them.
  assert.equal((await getWithHost('/healthz', 'mirror.example:5555')).status, 200);
  assert.equal((await getWithHost('/metrics', 'mirror.example:5555')).status, 200);
  // The same loopback under another name is no mismatch.
  assert.equal((await getWithHost('/v3/index.json', `localhost:${new URL(proxy.url).port}`)).status, 200);
  assert.deepEqual(warnings(), []);
  // A remote client's Host is not this machine's name: the URLs use the listening address instead.
  const r = await getWithHost('/v3/index.json', 'mirror.example:5555');
  assert.equal(r.status, 200);
  assert.ok(r.body.includes(`${proxy.url}/v3/flatcontainer/`), 'handed the listening address');
  await getWithHost('/v3/index.json', 'other.example:5555');
  const w = warnings();
  assert.equal(w.length, 1, 'once per process');
  assert.equal(w[0]?.['level'], 'warn');
  assert.equal(w[0]?.['requestHost'], 'mirror.example:5555');
  assert.equal(w[0]?.['publicBase'], proxy.url);
  assert.match(String(w[0]?.['detail']), /Set --public-url \(NUGET_PROXY_PUBLIC_URL\) to the address clients use/);
});

test('metrics: all prefixed nuget_proxy_, label values bounded (no package ids or versions)', async () => {
  for (const p of ['/v3/flatcontainer/contoso.paged/1.0.3/contoso.paged.1.0.3.nupkg', '/v3/registration/semver2/contoso.paged/index.json', '/v3/flatcontainer/no.such.thing/index.json', '/v3/search/query?q=contoso']) {
    await (await fetch(proxy.url + p)).arrayBuffer();
  }
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(samples.length > 20);
  for (const s of samples) {
    assert.ok(s.startsWith('nuget_proxy_'), s);
    assert.doesNotMatch(s, /contoso|no\.such|1\.0\.3/i, `unbounded label value: ${s}`);
  }
  assert.match(text, /nuget_proxy_http_requests_total\{route="\/v3\/flatcontainer\/:id\/:version\/:file",method="GET",status="200"\} 1/);
  assert.match(text, /nuget_proxy_cache_lookups_total\{resource="nupkg",result="miss"\} 1/);
  assert.match(text, /nuget_proxy_upstream_requests_total\{upstream="default",resource="nupkg",outcome="ok"\} 1/);
  assert.match(text, /nuget_proxy_served_bytes_total\{resource="nupkg",source="upstream"\} \d+/);
  assert.match(text, /nuget_proxy_cache_blobs 1/);
});
