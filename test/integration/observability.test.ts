// Logs and metrics: one JSON line per request (request id, route, status, duration, cache result), an
// incoming X-Request-Id honoured, every metric prefixed and labelled with bounded values only.

import assert from 'node:assert/strict';
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

test('one log line per request with request id, route, status, duration and cache result', async () => {
  const given = await fetch(`${proxy.url}/v3/flatcontainer/contoso.unlisted/index.json`, { headers: { 'x-request-id': 'build-42.step-7' } });
  assert.equal(given.headers.get('x-request-id'), 'build-42.step-7');
  const generated = await fetch(`${proxy.url}/v3/flatcontainer/contoso.unlisted/index.json`);
  const id = generated.headers.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f-]{36}$/);
  const bogus = await fetch(`${proxy.url}/v3/index.json`, { headers: { 'x-request-id': 'bad id with spaces' } });
  assert.notEqual(bogus.headers.get('x-request-id'), 'bad id with spaces');
  const lines = proxy.logs().filter((l) => l['msg'] === 'request');
  const first = lines.find((l) => l['reqId'] === 'build-42.step-7');
  assert.ok(first, 'log line carries the incoming request id');
  assert.equal(first['route'], '/v3/flatcontainer/:id/index.json');
  assert.equal(first['status'], 200);
  assert.equal(first['cache'], 'miss');
  assert.equal(typeof first['durationMs'], 'number');
  const second = lines.find((l) => l['reqId'] === id);
  assert.equal(second?.['cache'], 'hit');
  assert.equal(lines.filter((l) => l['reqId'] === id).length, 1, 'exactly one line per request');
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
