// Memory bounded by configuration, not by clients (issue 10), shortened for CI: 200 real sockets reading a
// 20 MB package at 100 KB/s for a few seconds against a proxy in its own process (its RSS read from /proc),
// streamed from disk and from the memory tier, while /healthz keeps answering. The long run with 1,000
// clients is `npm run bench -- slow-clients`. Bounds are generous: CI machines are shared.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { pseudoRandomBytes, writePackages } from '../helpers/packages.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { startReplicas, type Replica } from '../helpers/replicas.ts';
import { probeLatency, rssOf, runSlowClientsApart, type ProbeResult, type SlowClientsResult } from '../helpers/slow-clients.ts';

const ID = 'Contoso.Slow.Readers';
const MB = 1000 * 1000;
const CLIENTS = 200;
const RATE = 100 * 1000;
const SECONDS = 5;
const path = `/v3/flatcontainer/${ID.toLowerCase()}/1.0.0/${ID.toLowerCase()}.1.0.0.nupkg`;

let upstream: FakeUpstream;
let work: string;

before(async () => {
  work = await makeTempDir('slow-clients');
  upstream = await startFakeUpstream({ packages: await writePackages(join(work, 'packages'), [{ id: ID, version: '1.0.0', extraFiles: { 'content/big.bin': pseudoRandomBytes(20 * MB, 5) } }]) });
});

after(async () => {
  await upstream?.stop();
  await rm(work, { recursive: true, force: true });
});

interface Measured {
  readonly growthMb: number;
  readonly clients: SlowClientsResult;
  readonly probe: ProbeResult;
}

async function measure(replica: Replica): Promise<Measured> {
  await new Promise((r) => setTimeout(r, 500));
  const baseline = (await rssOf(replica.pid)).rssMb;
  let peak = baseline;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await rssOf(replica.pid)).rssMb);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  // The readers in a process of their own, opened over half a second; the prober here.
  const clients = runSlowClientsApart({ url: replica.url + path, clients: CLIENTS, bytesPerSecond: RATE, seconds: SECONDS, rampMs: 500 });
  const probe = probeLatency(`${replica.url}/healthz`, 20, clients);
  const [c, p] = await Promise.all([clients, probe]);
  sampling = false;
  await sampler;
  return { growthMb: peak - baseline, clients: c, probe: p };
}

function assertHealthy(m: Measured, growthBoundMb: number, report: (text: string) => void): void {
  const { clients: c, probe: p } = m;
  report(`RSS growth ${m.growthMb.toFixed(0)} MB; ${(c.bytes / MB).toFixed(0)} MB received; /healthz p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms, max ${p.maxMs.toFixed(1)} ms (${p.count} probes)`);
  assert.deepEqual(c.statuses, { '200': CLIENTS }, 'every client was answered');
  assert.equal(c.receiving, CLIENTS, 'and was still receiving at its pace at the end');
  assert.equal(c.cutOff + c.errors, 0);
  const expected = CLIENTS * RATE * SECONDS;
  assert.ok(c.bytes >= expected * 0.4, `clients got their bytes at their pace (${c.bytes} of about ${expected})`);
  assert.ok(m.growthMb <= growthBoundMb, `RSS grew ${m.growthMb.toFixed(0)} MB with ${CLIENTS} slow clients (bound ${growthBoundMb} MB)`);
  assert.equal(p.failures, 0);
  assert.ok(p.count > 50, `probed /healthz ${p.count} times`);
  assert.ok(p.p99Ms <= 250, `/healthz p99 ${p.p99Ms.toFixed(1)} ms`);
}

describe('200 slow clients', () => {
  it('streamed from disk (a memory tier too small for the package): RSS stays bounded, /healthz answers', async (t) => {
    const [replica] = await startReplicas(1, () => ({
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_CACHE_DIR: join(work, 'cache-disk'),
      NUGET_PROXY_MEMORY_CACHE_MB: '8',
      NUGET_PROXY_LOG_LEVEL: 'info',
    }));
    assert.ok(replica);
    try {
      const warm = await fetch(replica.url + path);
      assert.equal((await warm.arrayBuffer()).byteLength > 20 * MB, true);
      const m = await measure(replica);
      assertHealthy(m, 120, (text) => t.diagnostic(text));
      const metrics = await replica.metrics();
      assert.match(metrics, /nuget_proxy_package_streams_rejected_total 0/);
    } finally {
      await replica.stop();
    }
  });

  it('from the memory tier (the package held after its second download): the clients share one copy', async (t) => {
    const [replica] = await startReplicas(1, () => ({
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_CACHE_DIR: join(work, 'cache-memory'),
      NUGET_PROXY_MEMORY_CACHE_MB: '128',
      NUGET_PROXY_LOG_LEVEL: 'info',
    }));
    assert.ok(replica);
    try {
      // The fill streams the package through; once it is committed (a HEAD answers HIT), two downloads
      // from storage put it in memory.
      await (await fetch(replica.url + path)).arrayBuffer();
      const committed = Date.now() + 10_000;
      while ((await fetch(replica.url + path, { method: 'HEAD' })).headers.get('x-cache') !== 'HIT' && Date.now() < committed) await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 2; i++) await (await fetch(replica.url + path)).arrayBuffer();
      const deadline = Date.now() + 10_000;
      while (!/nuget_proxy_memory_tier_bytes [0-9.e+]{8,}/.test(await replica.metrics()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(await replica.metrics(), /nuget_proxy_memory_tier_bytes [0-9.e+]{8,}/, 'the package is held in memory');
      const m = await measure(replica);
      assertHealthy(m, 120, (text) => t.diagnostic(text));
    } finally {
      await replica.stop();
    }
  });
});
