// `serve --workers 2` as a real process tree (the CLI through tsx): requests spread over both workers, one
// upstream download for concurrent cold requests whichever worker they reach, /metrics aggregated over the
// workers (counters summed, shared-state gauges not multiplied) and accepted by `promtool check metrics`, a
// worker killed -9 is replaced, and SIGTERM to the primary lets an in-flight slow download finish, then exit 0.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { NODE_FLAGS } from '../../src/cluster/node-flags.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { pseudoRandomBytes, writePackages } from '../helpers/packages.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { metricValue, startWorkers, type LogLine, type Replica } from '../helpers/replicas.ts';

let upstream: FakeUpstream;
let proxy: Replica;
const packages = new Map<string, Buffer>();
const QUOTA_BYTES = 5_000_000_000;

before(async () => {
  const dir = await makeTempDir('workers-packages');
  const specs = ['Workers.Shared', 'Workers.Drain'].map((id) => ({
    id,
    version: '1.0.0',
    extraFiles: { 'content/payload.bin': pseudoRandomBytes(1200 * 1024, id.length) },
    storeExtraFiles: true,
  }));
  const paths = await writePackages(dir, specs);
  for (const [i, spec] of specs.entries()) packages.set(spec.id.toLowerCase(), await readFile(paths[i] as string));
  upstream = await startStandardFakeUpstream({ includeRealPackages: false, packages: paths });
  proxy = await startWorkers(2, {
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_CACHE_DIR: await makeTempDir('workers-cache'),
    NUGET_PROXY_MAX_CACHE_SIZE: String(QUOTA_BYTES),
    NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '15000',
  });
});

after(async () => {
  await proxy?.stop(20_000);
  await upstream?.stop();
});

const sha = (b: Buffer) => createHash('sha512').update(b).digest('base64');
const nupkgPath = (lowerId: string) => `/v3/flatcontainer/${lowerId}/1.0.0/${lowerId}.1.0.0.nupkg`;
const upstreamPath = (lowerId: string) => `/v3-flatcontainer/${lowerId}/1.0.0/${lowerId}.1.0.0.nupkg`;

/** A GET on a connection of its own (so the primary hands each to the next worker); `onFirstByte` fires once. */
function get(path: string, onFirstByte?: () => void): Promise<{ status: number; body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(proxy.url + path, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length === 0) onFirstByte?.();
        chunks.push(c);
      });
      const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete });
      res.on('end', done);
      res.on('aborted', done);
    });
    req.on('error', reject);
  });
}

const requestLines = (route: string): LogLine[] => proxy.logs().filter((l) => l['msg'] === 'request completed' && l['route'] === route);

describe('serve --workers 2', () => {
  it('spreads requests over both workers, each line naming its worker', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get('/v3/index.json')).status, 200);
    await proxy.waitForLog(() => requestLines('/v3/index.json').length >= 20, 10_000);
    const byWorker = new Map<unknown, number>();
    for (const l of requestLines('/v3/index.json')) byWorker.set(l['worker'], (byWorker.get(l['worker']) ?? 0) + 1);
    assert.deepEqual([...byWorker.keys()].sort(), [1, 2]);
    for (const n of byWorker.values()) assert.ok(n >= 5, `uneven spread: ${JSON.stringify([...byWorker])}`);
  });

  it("runs each worker with nuget-proxy's heap settings, though the primary was started without them", async () => {
    const listening = await proxy.waitForLog((l) => l['msg'] === 'workers listening', 1000);
    const primaryArgs = (await readFile(`/proc/${proxy.pid}/cmdline`, 'utf8')).split('\0');
    for (const flag of NODE_FLAGS) assert.ok(!primaryArgs.includes(flag), `the test starts the primary without ${flag}`);
    for (const pid of listening['pids'] as number[]) {
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      for (const flag of NODE_FLAGS) assert.ok(args.includes(flag), `worker ${pid} runs without ${flag}: ${args.join(' ')}`);
    }
    assert.equal(proxy.logs().filter((l) => l['missing'] !== undefined).length, 0, 'no worker reports missing heap settings');
  });

  it('one upstream download for concurrent cold requests, whichever worker they reach', async () => {
    const id = 'workers.shared';
    upstream.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 1024 * 1024, times: 1 });
    const results = await Promise.all(Array.from({ length: 10 }, () => get(nupkgPath(id))));
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(sha(r.body), sha(packages.get(id) as Buffer));
    }
    assert.equal(upstream.count(upstreamPath(id), { method: 'GET' }), 1);
    // Log lines are written in batches (at least every 250 ms): wait for all ten.
    await proxy.waitForLog(() => requestLines('/v3/flatcontainer/:id/:version/:file').length >= 10, 10_000);
    const workers = new Set(requestLines('/v3/flatcontainer/:id/:version/:file').map((l) => l['worker']));
    assert.deepEqual([...workers].sort(), [1, 2], 'both workers answered');
  });

  it('/metrics sums counters over the workers, does not multiply shared gauges, and passes promtool', async () => {
    // Every scrape, whichever worker answers it, shows the whole process tree.
    const scrapes = [await get('/metrics'), await get('/metrics')];
    for (const s of scrapes) {
      const text = s.body.toString('utf8');
      assert.equal(metricValue(text, 'nuget_proxy_http_requests_total', { route: '/v3/index.json', status: '200' }), 20);
      assert.equal(metricValue(text, 'nuget_proxy_cache_lookups_total', { resource: 'nupkg' }), 10);
      assert.equal(metricValue(text, 'nuget_proxy_upstream_requests_total', { resource: 'nupkg', outcome: 'ok' }), 1);
      assert.equal(metricValue(text, 'nuget_proxy_storage_quota_bytes'), QUOTA_BYTES, 'the quota, not the quota times the workers');
      assert.equal(metricValue(text, 'nuget_proxy_cache_blobs'), 1, 'one package held, counted once');
      assert.equal(metricValue(text, 'nuget_proxy_cache_blob_bytes'), packages.get('workers.shared')?.length);
      assert.equal(metricValue(text, 'nuget_proxy_upstream_breaker_state'), 0);
      assert.ok(metricValue(text, 'nuget_proxy_http_requests_in_flight') >= 1, 'the scrape itself');
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
    }
  });

  it('a worker killed -9 is replaced in its slot and serving continues', async () => {
    const listening = await proxy.waitForLog((l) => l['msg'] === 'workers listening', 1000);
    const pids = listening['pids'] as number[];
    const victim = pids[1] as number;
    process.kill(victim, 'SIGKILL');
    const restarted = await proxy.waitForLog((l) => l['msg'] === 'worker restarted', 60_000);
    assert.equal(restarted['slot'], 2);
    assert.notEqual(restarted['pid'], victim);
    for (let i = 0; i < 6; i++) assert.equal((await get('/v3/index.json')).status, 200);
  });

  it('SIGTERM to the primary lets an in-flight slow download finish, then every process exits 0', async () => {
    const id = 'workers.drain';
    // 1.2 MB at 300 KB/s: about 4 s, well inside the 15 s drain.
    upstream.addFault({ match: upstreamPath(id), kind: 'throttle', bytesPerSecond: 300 * 1024, times: 1 });
    let signalled = false;
    const download = get(nupkgPath(id), () => {
      signalled = true;
      process.kill(proxy.pid, 'SIGTERM');
    });
    const r = await download;
    assert.ok(signalled, 'SIGTERM went out while the body was streaming');
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.equal(sha(r.body), sha(packages.get(id) as Buffer));
    assert.deepEqual(await proxy.exit, { code: 0, signal: null });
    assert.ok(proxy.logs().some((l) => l['msg'] === 'package filled' && l['lowerId'] === id), 'the fill was committed before exit');
    assert.ok(proxy.logs().some((l) => l['msg'] === 'all workers stopped' && l['exitCode'] === 0));
  });
});
