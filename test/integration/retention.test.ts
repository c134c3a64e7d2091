// Retention against a real proxy and fake upstream: filling past --max-cache-size brings usage back under
// it, least recently served first, pinned versions stay; --evict-unused-days; evicted versions stop being
// held (version lists offline, registration) and come back on the next request.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes, writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { readBlob, writeBlob } from '../../src/storage/blob-store.ts';
import { ACCESS_INDEX_KEY, ACCESS_PREFIX, packageKey } from '../../src/storage/layout.ts';

const KB = 1000;
const specs: PackageSpec[] = Array.from({ length: 6 }, (_, i) => ({
  id: `Contoso.Retention.P${i}`,
  version: '1.0.0',
  extraFiles: { 'content/blob.bin': pseudoRandomBytes(200 * KB, 1000 + i) },
}));
const packageBytes = buildPackage(specs[0] as PackageSpec).length;
const QUOTA = Math.floor(packageBytes * 4.8);

let upstream: FakeUpstream;

before(async () => {
  const dir = await makeTempDir('retention-packages');
  upstream = await startFakeUpstream({ packages: await writePackages(dir, specs) });
});

after(async () => {
  await upstream?.stop();
});

const nupkgUrl = (proxy: TestProxy, i: number) => `${proxy.url}/v3/flatcontainer/contoso.retention.p${i}/1.0.0/contoso.retention.p${i}.1.0.0.nupkg`;

async function fetchPackage(proxy: TestProxy, i: number): Promise<{ status: number; sha: string }> {
  const res = await fetch(nupkgUrl(proxy, i));
  const body = Buffer.from(await res.arrayBuffer());
  // A fill is streamed through: its client can finish before the commit. Wait for the cache to hold it.
  await proxy.proxy.flat.drain();
  return { status: res.status, sha: createHash('sha512').update(body).digest('hex') };
}

async function held(proxy: TestProxy): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < specs.length; i++) {
    if (await proxy.proxy.blobs.stat(packageKey(`contoso.retention.p${i}`, '1.0.0', 'nupkg'))) out.push(`p${i}`);
  }
  return out;
}

describe('retention with --max-cache-size', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startProxy({
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      // Room for 4.8 packages: five pass the 95% mark, and a sweep evicts down to 90% (4.32 packages).
      NUGET_PROXY_MAX_CACHE_SIZE: String(QUOTA),
      NUGET_PROXY_EVICTION_GRACE_SECONDS: '0',
      NUGET_PROXY_RETENTION_INTERVAL_SECONDS: '3600',
    });
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('comes back under the quota, least recently served first, pinned versions stay', async () => {
    for (const i of [0, 1, 2]) assert.equal((await fetchPackage(proxy, i)).status, 200);
    // p1 is pinned (as an import or `prefetch --pin` would); p0 is served again, so p2 is now the oldest unpinned.
    await writeBlob(proxy.proxy.blobs, packageKey('contoso.retention.p1', '1.0.0', 'pinned'), '{"reason":"test"}');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await fetchPackage(proxy, 0)).status, 200);
    await proxy.proxy.access.flush();
    for (const i of [3, 4]) assert.equal((await fetchPackage(proxy, i)).status, 200);
    await proxy.proxy.access.flush();

    const result = await proxy.proxy.retention.sweep();
    assert.ok(result, 'the sweep ran');
    assert.ok(result.usedBytesBefore > (result.quotaBytes ?? 0), `filled past the quota (${result.usedBytesBefore} > ${result.quotaBytes})`);
    assert.ok(result.usedBytes <= QUOTA * 0.9, `back under 90% of the quota (${result.usedBytes} <= 0.9 × ${result.quotaBytes})`);
    assert.deepEqual(
      result.evicted.map((e) => `${e.lowerId}@${e.reason}`),
      ['contoso.retention.p2@quota'],
      'the least recently served unpinned version went first, and only as much as needed',
    );
    assert.deepEqual(await held(proxy), ['p0', 'p1', 'p3', 'p4']);
    assert.equal(result.pinned, 1);

    // The evicted version is no longer held in memory either, and comes back (same bytes) when asked for.
    const versions = await proxy.proxy.local.heldVersions('contoso.retention.p2');
    assert.deepEqual(versions, []);
    const again = await fetchPackage(proxy, 2);
    assert.equal(again.status, 200);
    const expected = createHash('sha512').update(buildPackage(specs[2] as PackageSpec)).digest('hex');
    assert.equal(again.sha, expected);

    const metrics = await proxy.proxy.metrics.registry.getSingleMetricAsString('nuget_proxy_evictions_total');
    assert.match(metrics, /nuget_proxy_evictions_total\{reason="quota"\} 1/);
    const line = proxy.logs().find((l) => l['msg'] === 'retention sweep');
    assert.ok(line, 'a log line per sweep');
    assert.equal(line['evicted'], 1);
  });

  it('sweeps by itself soon after a fill passes the quota', async () => {
    const before = (await proxy.proxy.metrics.registry.getSingleMetricAsString('nuget_proxy_retention_sweeps_total')).match(/result="ok"\} ([0-9]+)/)?.[1] ?? '0';
    assert.equal((await fetchPackage(proxy, 5)).status, 200);
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = (await proxy.proxy.metrics.registry.getSingleMetricAsString('nuget_proxy_retention_sweeps_total')).match(/result="ok"\} ([0-9]+)/)?.[1] ?? '0';
    }
    assert.notEqual(after, before, 'a sweep ran without being asked');
    const used = Number((await proxy.proxy.metrics.registry.getSingleMetricAsString('nuget_proxy_storage_used_bytes')).match(/ ([0-9.e+]+)$/m)?.[1]);
    assert.ok(used <= QUOTA * 0.9, `usage ${used} under the quota`);
    assert.ok((await held(proxy)).includes('p1'), 'the pinned version stays');
  });
});

describe('retention with --evict-unused-days', () => {
  it('evicts versions not served for that long, keeps recent and pinned ones, and lists only held versions offline', async () => {
    const cacheDir = await makeTempDir('retention-unused');
    const online = await startProxy(
      { NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_EVICT_UNUSED_DAYS: '7', NUGET_PROXY_EVICTION_GRACE_SECONDS: '0' },
      { cacheDir },
    );
    try {
      for (const i of [0, 1, 2]) assert.equal((await fetchPackage(online, i)).status, 200);
      await writeBlob(online.proxy.blobs, packageKey('contoso.retention.p2', '1.0.0', 'pinned'), '{"reason":"test"}');
      // p1 and p2 were last served (and filled) ten days ago; p0 is fresh.
      const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
      for (const i of [1, 2]) {
        for (const file of ['nupkg', 'sha512', 'nuspec'] as const) {
          await utimes(join(cacheDir, packageKey(`contoso.retention.p${i}`, '1.0.0', file)), tenDaysAgo, tenDaysAgo);
        }
      }
      const result = await online.proxy.retention.sweep();
      assert.deepEqual(result?.evicted.map((e) => `${e.lowerId}@${e.reason}`), ['contoso.retention.p1@unused']);
      assert.deepEqual(await held(online), ['p0', 'p2']);
    } finally {
      await online.stop();
    }
    // Offline, the version list of an evicted package is gone, and the cache answers only what it holds.
    const offline = await startProxy({ NUGET_PROXY_OFFLINE: 'true' }, { cacheDir });
    try {
      assert.equal((await fetch(`${offline.url}/v3/flatcontainer/contoso.retention.p1/index.json`)).status, 404);
      assert.equal((await fetch(`${offline.url}/v3/registration/semver2/contoso.retention.p1/index.json`)).status, 404);
      const p0 = await fetch(`${offline.url}/v3/flatcontainer/contoso.retention.p0/index.json`);
      assert.deepEqual(await p0.json(), { versions: ['1.0.0'] });
    } finally {
      await offline.dispose();
    }
  });
});

describe('without a retention policy', () => {
  it('evicts nothing, but folds access records so they do not pile up', async () => {
    const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
    try {
      for (const round of [0, 1, 2]) {
        assert.equal((await fetchPackage(proxy, round)).status, 200);
        await proxy.proxy.access.flush();
      }
      const before = await keysUnder(proxy, ACCESS_PREFIX);
      assert.equal(before.filter((k) => k !== ACCESS_INDEX_KEY).length, 3, before.join(', '));
      assert.equal(await proxy.proxy.retention.sweep(), null);
      assert.deepEqual(await keysUnder(proxy, ACCESS_PREFIX), [ACCESS_INDEX_KEY]);
      const index = JSON.parse((await readBlob(proxy.proxy.blobs, ACCESS_INDEX_KEY))?.toString() ?? '{}') as { served: Record<string, number> };
      assert.deepEqual(Object.keys(index.served).sort(), ['contoso.retention.p0/1.0.0', 'contoso.retention.p1/1.0.0', 'contoso.retention.p2/1.0.0']);
      assert.deepEqual(await held(proxy), ['p0', 'p1', 'p2']);
    } finally {
      await proxy.dispose();
    }
  });
});

async function keysUnder(proxy: TestProxy, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of proxy.proxy.blobs.list(prefix)) out.push(o.key);
  return out.sort();
}
