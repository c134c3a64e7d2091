// The foundation, end to end with the real `dotnet` client: restore a real project through the proxy
// cold, warm, and with the upstream stopped; every package byte-identical to upstream's.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, restoredPackageHashes, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

const PROJECT = {
  packages: [
    { id: 'xunit', version: '2.9.3' },
    { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ],
};

let upstream: FakeUpstream;
let proxy: TestProxy;
let workDir: string;

before(async () => {
  upstream = await startStandardFakeUpstream();
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  workDir = await makeTempDir('restore');
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

async function restoreThrough(feedUrl: string, name: string) {
  const dir = await makeProject(join(workDir, name), PROJECT, { url: feedUrl });
  const state = await freshClientState();
  const result = await dotnet(['restore', '--verbosity', 'minimal'], dir, state);
  return { result, state, hashes: await restoredPackageHashes(state.packages) };
}

/** Upstream's file for a restored package: the fake serves exactly these bytes. */
function upstreamFile(key: string): string {
  const [id, version] = key.split('/') as [string, string];
  return `/opt/nuget/packages/${id}/${version}/${id}.${version}.nupkg`;
}

const timings: Record<string, number> = {};

test('dotnet restore straight from the fake upstream (baseline)', async () => {
  const { result, hashes } = await restoreThrough(upstream.serviceIndexUrl, 'direct');
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.ok(hashes.size >= 10, `restored ${hashes.size} packages`);
  timings['direct'] = result.durationMs;
  upstream.resetLog();
});

test('cold dotnet restore through the proxy succeeds and every package is byte-identical to upstream', async () => {
  const feed = `${proxy.url}/v3/index.json`;
  const { result, hashes } = await restoreThrough(feed, 'cold');
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.ok(hashes.has('xunit/2.9.3') && hashes.has('newtonsoft.json/13.0.3') && hashes.has('microsoft.net.test.sdk/18.0.1'));
  for (const [key, hash] of hashes) assert.equal(hash, await sha512File(upstreamFile(key)), `${key} differs from upstream`);
  // Each package came from upstream exactly once, and only the proxy talked to upstream.
  for (const key of hashes.keys()) {
    const [id, version] = key.split('/') as [string, string];
    assert.equal(upstream.count(`/v3-flatcontainer/${id}/${version}/${id}.${version}.nupkg`), 1, `${key} downloads`);
  }
  const agents = new Set(upstream.requests().map((r) => String(r.headers['user-agent'] ?? '')));
  assert.deepEqual([...agents].filter((a) => !a.startsWith('nuget-proxy/')), [], 'only the proxy may reach upstream');
  timings['cold'] = result.durationMs;
});

test('warm dotnet restore (fresh client caches) is served from the proxy cache', async () => {
  upstream.resetLog();
  const { result, hashes } = await restoreThrough(`${proxy.url}/v3/index.json`, 'warm');
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.ok(hashes.size >= 10);
  assert.equal(upstream.count(/\.nupkg$/), 0, 'no package downloaded again');
  timings['warm'] = result.durationMs;
});

test('with the upstream STOPPED, a restore with cleared client caches still succeeds from the proxy', async () => {
  await upstream.stop();
  try {
    const { result, hashes } = await restoreThrough(`${proxy.url}/v3/index.json`, 'upstream-stopped');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const [key, hash] of hashes) assert.equal(hash, await sha512File(upstreamFile(key)), `${key} differs from upstream`);
    assert.ok(hashes.has('xunit/2.9.3'));
    timings['upstreamStopped'] = result.durationMs;
  } finally {
    await upstream.start();
  }
});

test('report restore timings', (t) => {
  for (const k of ['direct', 'cold', 'warm', 'upstreamStopped']) assert.ok(typeof timings[k] === 'number', `missing timing ${k}`);
  t.diagnostic(`restore ms: ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
});
