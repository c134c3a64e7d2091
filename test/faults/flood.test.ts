// Disk bounded by configuration, whatever clients ask for: a flood of made-up package ids (upstream 404s)
// writes nothing to the cache directory — negative results live in memory — and the metadata documents
// that do exist are pruned by age and by count, then fetched again when asked for.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { filesUnder, tempFiles } from '../helpers/cache-files.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';
import { metricValue } from '../helpers/replicas.ts';

const FLOOD_IDS = 500;
const CONCURRENCY = 8;

let upstream: FakeUpstream;
const proxies: TestProxy[] = [];

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
});

after(async () => {
  for (const p of proxies) await p.dispose();
  await upstream?.stop();
});

async function run(proxy: TestProxy, paths: readonly string[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < paths.length; i = next++) {
        const res = await fetch(proxy.url + (paths[i] as string));
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

test(`a flood of ${FLOOD_IDS} made-up ids × 3 resources writes nothing to the cache directory`, async (t) => {
  const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_LOG_LEVEL: 'warn' });
  proxies.push(proxy);
  assert.equal((await fetch(`${proxy.url}/v3/index.json`)).status, 200);
  const filesBefore = await filesUnder(proxy.cacheDir);
  const paths = Array.from({ length: FLOOD_IDS }, () => `random.${randomBytes(8).toString('hex')}`).flatMap((id) => [
    `/v3/flatcontainer/${id}/index.json`,
    `/v3/registration/semver2/${id}/index.json`,
    `/v3/flatcontainer/${id}/1.0.0/${id}.1.0.0.nupkg`,
  ]);
  const t0 = performance.now();
  const statuses = await run(proxy, paths);
  t.diagnostic(`${paths.length} requests in ${Math.round(performance.now() - t0)} ms: ${JSON.stringify([...statuses])}`);
  assert.deepEqual([...statuses], [[404, paths.length]]);
  const filesAfter = await filesUnder(proxy.cacheDir);
  const added = filesAfter.filter((f) => !filesBefore.includes(f) && !f.includes('/state/'));
  t.diagnostic(`files in the cache directory: ${filesBefore.length} before, ${filesAfter.length} after`);
  assert.deepEqual(added, [], 'no file for a negative result');
  assert.deepEqual(await tempFiles(proxy.cacheDir), []);
  // The negative results are remembered (in memory): asking again does not reach upstream.
  const again = paths.slice(0, 30);
  const seen = upstream.requests().length;
  assert.deepEqual([...(await run(proxy, again))], [[404, again.length]]);
  assert.equal(upstream.requests().length, seen, 'answered from the negative cache');
});

test('metadata documents are pruned by age and past the entry cap, oldest first, and fetched again when asked for', async () => {
  const proxy = await startProxy({
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_LOG_LEVEL: 'info',
    NUGET_PROXY_MAX_METADATA_ENTRIES: '20',
    NUGET_PROXY_METADATA_UNUSED_DAYS: '1',
    NUGET_PROXY_RETENTION_INTERVAL_SECONDS: '3600',
  });
  proxies.push(proxy);
  const ids = ['contoso.tool', 'contoso.paged', 'contoso.twopages', 'contoso.unlisted', 'contoso.prerelease', 'contoso.vulnerable', 'contoso.deprecated', 'contoso.dependent', 'contoso.fourpart', 'contoso.buildmetadata', 'contoso.iconreadme', 'contoso.mixedcase.lib'];
  const docs = ids.flatMap((id) => [`/v3/flatcontainer/${id}/index.json`, `/v3/registration/semver1/${id}/index.json`, `/v3/registration/gz-semver1/${id}/index.json`]);
  for (const path of docs) assert.equal((await fetch(proxy.url + path)).status, 200, path);
  const metadataDir = join(proxy.cacheDir, 'metadata');
  const written = await filesUnder(metadataDir);
  assert.ok(written.length > 20, `${written.length} metadata objects`);
  // Two days untouched: past --metadata-unused-days.
  const old = new Date(Date.now() - 2 * 86_400_000);
  const aged = written.slice(0, 5);
  for (const f of aged) await utimes(f, old, old);
  // One day minus a bit: the oldest of the rest, first to go past the cap.
  const older = new Date(Date.now() - 20 * 3600_000);
  const oldest = written.slice(5, 8);
  for (const f of oldest) await utimes(f, older, older);

  await proxy.proxy.retention.sweep();
  const left = await filesUnder(metadataDir);
  for (const f of [...aged, ...oldest]) assert.ok(!left.includes(f), `${f} was pruned`);
  assert.equal(left.length, 18, 'down to 90% of the cap');
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.equal(metricValue(metrics, 'nuget_proxy_metadata_pruned_total', { reason: 'unused' }), 5);
  assert.equal(metricValue(metrics, 'nuget_proxy_metadata_pruned_total', { reason: 'cap' }), written.length - 5 - 18);
  assert.equal(metricValue(metrics, 'nuget_proxy_metadata_entries'), 18);
  assert.ok(proxy.logs().some((l) => l['msg'] === 'metadata pruned'));

  // A new process on the same cache directory (no memory tier): every document is still served.
  await proxy.stop();
  const second = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_LOG_LEVEL: 'warn' }, { cacheDir: proxy.cacheDir });
  proxies.push(second);
  const xCache = new Map<string, number>();
  for (const path of docs) {
    const res = await fetch(second.url + path);
    assert.equal(res.status, 200, path);
    xCache.set(String(res.headers.get('x-cache')), (xCache.get(String(res.headers.get('x-cache'))) ?? 0) + 1);
  }
  assert.ok((xCache.get('MISS') ?? 0) >= 1, `pruned documents are fetched again: ${JSON.stringify([...xCache])}`);
  assert.ok((xCache.get('HIT') ?? 0) >= 1, `kept documents are hits: ${JSON.stringify([...xCache])}`);
});

test('offline, metadata is never pruned (it cannot be fetched again)', async () => {
  const online = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_LOG_LEVEL: 'warn' });
  proxies.push(online);
  for (const id of ['contoso.tool', 'contoso.paged', 'contoso.twopages', 'contoso.unlisted', 'contoso.prerelease', 'contoso.vulnerable']) {
    assert.equal((await fetch(`${online.url}/v3/flatcontainer/${id}/index.json`)).status, 200);
  }
  await online.stop();
  const files = await filesUnder(join(online.cacheDir, 'metadata'));
  const old = new Date(Date.now() - 400 * 86_400_000);
  for (const f of files) await utimes(f, old, old);
  const offline = await startProxy({ NUGET_PROXY_OFFLINE: 'true', NUGET_PROXY_MAX_METADATA_ENTRIES: '10', NUGET_PROXY_METADATA_UNUSED_DAYS: '1', NUGET_PROXY_LOG_LEVEL: 'warn' }, { cacheDir: online.cacheDir });
  proxies.push(offline);
  await offline.proxy.retention.sweep();
  assert.deepEqual(await filesUnder(join(online.cacheDir, 'metadata')), files);
});
