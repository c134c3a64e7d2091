// Two proxy processes sharing a real redis-server: metadata one fills is served by the other without an
// upstream request; Redis killed mid-test degrades to local metadata and readiness says so.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';
import { freePort, startRedis, type TestRedis } from '../helpers/redis.ts';

let upstream: FakeUpstream;
let redis: TestRedis;
let a: TestProxy;
let b: TestProxy;

before(async () => {
  upstream = await startStandardFakeUpstream();
  redis = await startRedis();
  const env = { NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_REDIS_URL: redis.url };
  a = await startProxy(env);
  b = await startProxy(env);
});

after(async () => {
  await a?.dispose();
  await b?.dispose();
  await redis?.stop();
  await upstream?.stop();
});

async function get(p: TestProxy, path: string) {
  const res = await fetch(p.url + path);
  return { status: res.status, text: await res.text(), cache: res.headers.get('x-cache') };
}

test('metadata filled by one replica is served by the other without an upstream request', async () => {
  const paths = [
    '/v3/flatcontainer/contoso.prerelease/index.json',
    '/v3/registration/semver2/contoso.paged/index.json',
    '/v3/registration/semver2/contoso.paged/page/1.0.64/1.0.127.json',
    '/v3/search/query?q=contoso&take=5&semVerLevel=2.0.0',
  ];
  const fromA = [];
  for (const p of paths) fromA.push(await get(a, p));
  for (const r of fromA) assert.equal(r.status, 200);
  const before = upstream.requests().length;
  for (const [i, p] of paths.entries()) {
    const r = await get(b, p);
    assert.equal(r.status, 200, p);
    assert.equal(r.cache, 'HIT', p);
    // Same document, with B's own base URL.
    assert.equal(r.text.replaceAll(b.url, 'BASE'), fromA[i]?.text.replaceAll(a.url, 'BASE'), p);
  }
  assert.equal(upstream.requests().length, before, 'B made no upstream request');
  const ready = (await (await fetch(`${b.url}/readyz`)).json()) as { redis: string; status: string };
  assert.equal(ready.redis, 'up');
  assert.equal(ready.status, 'ok');
});

test('Redis killed mid-test: requests still succeed on local metadata, readiness reports it', async () => {
  await redis.kill();
  // Cached on A locally, and new documents fetched from upstream, all still work.
  for (const p of ['/v3/flatcontainer/contoso.prerelease/index.json', '/v3/flatcontainer/contoso.fourpart/index.json', '/v3/registration/semver2/contoso.unlisted/index.json']) {
    const t = performance.now();
    const r = await get(a, p);
    assert.equal(r.status, 200, p);
    assert.ok(performance.now() - t < 3000, `${p} took ${Math.round(performance.now() - t)} ms`);
  }
  const r = await get(b, '/v3/flatcontainer/contoso.dependent/index.json');
  assert.equal(r.status, 200);
  const res = await fetch(`${a.url}/readyz`);
  assert.equal(res.status, 200, 'a proxy without Redis still serves, so it stays ready');
  const body = (await res.json()) as { redis: string; status: string };
  assert.equal(body.redis, 'down');
  assert.equal(body.status, 'degraded');
  const metrics = await (await fetch(`${a.url}/metrics`)).text();
  assert.match(metrics, /^nuget_proxy_redis_up 0$/m);
});

test('Redis unreachable from the start: the proxy starts, serves, and reports redis down', async () => {
  const nobody = await freePort();
  const c = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_REDIS_URL: `redis://127.0.0.1:${nobody}` });
  try {
    const t = performance.now();
    const r = await get(c, '/v3/flatcontainer/contoso.mixedcase.lib/index.json');
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t < 3000, `took ${Math.round(performance.now() - t)} ms`);
    const body = (await (await fetch(`${c.url}/readyz`)).json()) as { redis: string };
    assert.equal(body.redis, 'down');
  } finally {
    await c.dispose();
  }
});
