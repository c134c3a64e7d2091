// The `dotnet restore` end-to-end scenario, written once and run on every blob store (disk, S3): the real
// client restores a real project through the proxy cold, warm, and with the upstream stopped; every
// package byte-identical to upstream's, each downloaded from upstream once.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, restoredPackageHashes, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, type TestProxy } from '../helpers/proxy.ts';

export const RESTORE_PROJECT = {
  packages: [
    { id: 'xunit', version: '2.9.3' },
    { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ],
};

export interface RestoreScenarioOptions {
  /** Names the store in test titles and the timings line. */
  readonly store: string;
  /** Starts a proxy on the store under test, with this upstream. */
  startProxy(upstreamServiceIndexUrl: string): Promise<TestProxy>;
  /** After the cold restore: where the packages landed (e.g. in the bucket and not in the cache dir). */
  checkStored?(proxy: TestProxy, restored: ReadonlyMap<string, string>): Promise<void>;
}

export interface RestoreScenario {
  readonly upstream: () => FakeUpstream;
  readonly timings: Record<string, number>;
  restoreThrough(feedUrl: string, name: string): Promise<{ code: number | null; output: string; hashes: Map<string, string>; durationMs: number }>;
}

/** Upstream's file for a restored package (`lowerid/version`): the fake serves exactly these bytes. */
export function upstreamFile(key: string): string {
  const [id, version] = key.split('/') as [string, string];
  return `/opt/nuget/packages/${id}/${version}/${id}.${version}.nupkg`;
}

export function runRestoreScenario(options: RestoreScenarioOptions): RestoreScenario {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let workDir: string;
  const timings: Record<string, number> = {};

  before(async () => {
    upstream = await startStandardFakeUpstream();
    proxy = await options.startProxy(upstream.serviceIndexUrl);
    workDir = await makeTempDir('restore');
  });

  after(async () => {
    await proxy?.dispose();
    await upstream?.stop();
  });

  const restoreThrough = async (feedUrl: string, name: string) => {
    const dir = await makeProject(join(workDir, name), RESTORE_PROJECT, { url: feedUrl });
    const state = await freshClientState();
    const result = await dotnet(['restore', '--verbosity', 'minimal'], dir, state);
    return { code: result.code, output: result.stdout + result.stderr, hashes: await restoredPackageHashes(state.packages), durationMs: result.durationMs };
  };

  test(`[${options.store}] dotnet restore straight from the fake upstream (baseline)`, async () => {
    const r = await restoreThrough(upstream.serviceIndexUrl, 'direct');
    assert.equal(r.code, 0, r.output);
    assert.ok(r.hashes.size >= 10, `restored ${r.hashes.size} packages`);
    timings['direct'] = r.durationMs;
    upstream.resetLog();
  });

  test(`[${options.store}] cold dotnet restore through the proxy succeeds and every package is byte-identical to upstream`, async () => {
    const r = await restoreThrough(`${proxy.url}/v3/index.json`, 'cold');
    assert.equal(r.code, 0, r.output);
    assert.ok(r.hashes.has('xunit/2.9.3') && r.hashes.has('newtonsoft.json/13.0.3') && r.hashes.has('microsoft.net.test.sdk/18.0.1'));
    for (const [key, hash] of r.hashes) assert.equal(hash, await sha512File(upstreamFile(key)), `${key} differs from upstream`);
    // Each package came from upstream exactly once, and only the proxy talked to upstream.
    for (const key of r.hashes.keys()) {
      const [id, version] = key.split('/') as [string, string];
      assert.equal(upstream.count(`/v3-flatcontainer/${id}/${version}/${id}.${version}.nupkg`), 1, `${key} downloads`);
    }
    const agents = new Set(upstream.requests().map((q) => String(q.headers['user-agent'] ?? '')));
    assert.deepEqual([...agents].filter((a) => !a.startsWith('nuget-proxy/')), [], 'only the proxy may reach upstream');
    timings['cold'] = r.durationMs;
    await options.checkStored?.(proxy, r.hashes);
  });

  test(`[${options.store}] warm dotnet restore (fresh client caches) is served from the proxy cache`, async () => {
    upstream.resetLog();
    const r = await restoreThrough(`${proxy.url}/v3/index.json`, 'warm');
    assert.equal(r.code, 0, r.output);
    assert.ok(r.hashes.size >= 10);
    assert.equal(upstream.count(/\.nupkg$/), 0, 'no package downloaded again');
    timings['warm'] = r.durationMs;
  });

  test(`[${options.store}] with the upstream STOPPED, a restore with cleared client caches still succeeds from the proxy`, async () => {
    await upstream.stop();
    try {
      const r = await restoreThrough(`${proxy.url}/v3/index.json`, 'upstream-stopped');
      assert.equal(r.code, 0, r.output);
      for (const [key, hash] of r.hashes) assert.equal(hash, await sha512File(upstreamFile(key)), `${key} differs from upstream`);
      assert.ok(r.hashes.has('xunit/2.9.3'));
      timings['upstreamStopped'] = r.durationMs;
    } finally {
      await upstream.start();
    }
  });

  test(`[${options.store}] report restore timings`, (t) => {
    for (const k of ['direct', 'cold', 'warm', 'upstreamStopped']) assert.ok(typeof timings[k] === 'number', `missing timing ${k}`);
    t.diagnostic(`restore ms (${options.store}): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
  });

  return { upstream: () => upstream, timings, restoreThrough };
}
