// Metadata survives a restart: fill through the proxy, stop it, stop upstream, start the proxy again on
// the same cache directory — a restore with cleared client caches still succeeds (expired metadata is
// served stale from the cache directory, packages from disk).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dotnet, freshClientState, makeProject, restoredPackageHashes, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let workDir: string;
let cacheDir: string;
const running: TestProxy[] = [];

const SHORT_TTLS = {
  NUGET_PROXY_SERVICE_INDEX_TTL_SECONDS: '1',
  NUGET_PROXY_VERSIONS_TTL_SECONDS: '1',
  NUGET_PROXY_VULNERABILITY_TTL_SECONDS: '1',
};

before(async () => {
  upstream = await startStandardFakeUpstream();
  workDir = await makeTempDir('restart');
  cacheDir = await makeTempDir('restart-cache');
});

after(async () => {
  for (const p of running) await p.dispose();
  await upstream?.stop();
});

test('fill, stop the proxy, stop upstream, start the proxy again: restore still succeeds', async () => {
  const first = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, ...SHORT_TTLS }, { cacheDir });
  const project = { packages: [{ id: 'xunit', version: '2.9.3' }, { id: 'Contoso.Vulnerable', version: '2.0.0' }] };
  const fill = await dotnet(['restore'], await makeProject(join(workDir, 'fill'), project, { url: `${first.url}/v3/index.json` }), await freshClientState());
  assert.equal(fill.code, 0, fill.stdout + fill.stderr);
  await first.stop();
  await upstream.stop();
  await sleep(1100); // every cached metadata document is now expired

  const second = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, ...SHORT_TTLS }, { cacheDir });
  running.push(second);
  const state = await freshClientState();
  const dir = await makeProject(join(workDir, 'after-restart'), project, { url: `${second.url}/v3/index.json` });
  const r = await dotnet(['restore'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const hashes = await restoredPackageHashes(state.packages);
  assert.equal(hashes.get('xunit/2.9.3'), await sha512File('/opt/nuget/packages/xunit/2.9.3/xunit.2.9.3.nupkg'));
  assert.ok(hashes.has('contoso.vulnerable/2.0.0'));
  // Served stale, and said so to the user.
  assert.match(r.stdout, /nuget-proxy: .*served the copy cached at/);
});
