// Fail fast when upstream is gone: with a warm cache and expired metadata, a restore against a
// black-holed upstream (accepts connections, never answers) takes about as long as a warm online restore,
// not N × timeout; the circuit breaker opens, uncached packages fail fast with a clear 5xx, and the
// breaker closes again once upstream is back.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dotnet, freshClientState, makeProject } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;
let workDir: string;
let host: string;

const PROJECT = {
  packages: [
    { id: 'xunit', version: '2.9.3' },
    { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ],
};

before(async () => {
  upstream = await startStandardFakeUpstream();
  host = new URL(upstream.url).host;
  workDir = await makeTempDir('blackhole');
  proxy = await startProxy({
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    // Every metadata document expires at once, so every request of the restore would go upstream.
    NUGET_PROXY_SERVICE_INDEX_TTL_SECONDS: '1',
    NUGET_PROXY_VERSIONS_TTL_SECONDS: '1',
    NUGET_PROXY_VULNERABILITY_TTL_SECONDS: '1',
    NUGET_PROXY_UPSTREAM_RESPONSE_TIMEOUT_MS: '3000',
    NUGET_PROXY_BREAKER_BACKOFF_MS: '1000',
  });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

async function restore(name: string) {
  const dir = await makeProject(join(workDir, name), PROJECT, { url: `${proxy.url}/v3/index.json` });
  return dotnet(['restore'], dir, await freshClientState());
}

async function breakerState(): Promise<string | undefined> {
  const body = (await (await fetch(`${proxy.url}/readyz`)).json()) as { upstreams: Record<string, { hosts: Record<string, { state: string }> }> };
  return body.upstreams['default']?.hosts[host]?.state;
}

async function waitFor(what: string, predicate: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let warmMs = 0;

test('warm online restore (cache warm, metadata expired and revalidated)', async () => {
  const cold = await restore('cold');
  assert.equal(cold.code, 0, cold.stdout + cold.stderr);
  const times: number[] = [];
  for (const i of [1, 2]) {
    await sleep(1100);
    const r = await restore(`warm-${i}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    times.push(r.durationMs);
  }
  warmMs = Math.min(...times);
  assert.equal(await breakerState(), 'closed');
});

test('black-holed upstream: the restore completes within 1.5 × the warm online time and the breaker opens', async (t) => {
  upstream.setBlackhole(true);
  await sleep(1100);
  const r = await restore('blackholed');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  t.diagnostic(`warm online ${Math.round(warmMs)} ms, black-holed ${Math.round(r.durationMs)} ms (${(r.durationMs / warmMs).toFixed(2)}×)`);
  assert.ok(r.durationMs <= 1.5 * warmMs, `black-holed restore took ${Math.round(r.durationMs)} ms; warm online ${Math.round(warmMs)} ms`);
  assert.match(r.stdout, /nuget-proxy: upstream .* (did not answer|is unavailable)/);
  // The revalidations left running in the background time out and open the breaker.
  await waitFor('the breaker to open', async () => (await breakerState()) === 'open', 20_000);
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`nuget_proxy_upstream_breaker_state\\{upstream="default",host="${host.replace(/\./g, '\\.')}"\\} 1`));
});

test('with the breaker open an uncached package fails fast with a clear 5xx', async () => {
  const t0 = performance.now();
  const res = await fetch(`${proxy.url}/v3/flatcontainer/contoso.fourpart/1.2.3.4/contoso.fourpart.1.2.3.4.nupkg`);
  const ms = performance.now() - t0;
  assert.equal(res.status, 503);
  assert.match(await res.text(), /circuit breaker open/);
  assert.ok(ms < 1000, `took ${Math.round(ms)} ms`);
});

test('upstream back: one probe closes the breaker', async () => {
  upstream.setBlackhole(false);
  await waitFor(
    'the breaker to close',
    async () => {
      // Any request that needs upstream is the probe once the back-off has passed.
      await fetch(`${proxy.url}/v3/flatcontainer/contoso.prerelease/index.json`).then((r) => r.arrayBuffer());
      return (await breakerState()) === 'closed';
    },
    30_000,
  );
  const res = await fetch(`${proxy.url}/v3/flatcontainer/contoso.fourpart/1.2.3.4/contoso.fourpart.1.2.3.4.nupkg`);
  assert.equal(res.status, 200);
});
