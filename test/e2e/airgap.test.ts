// The air-gapped workflow end to end, with the real CLI and the real dotnet client.
// Connected side: proxy A in front of the fake upstream; `prefetch` from a real project's
// packages.lock.json into A's cache; `export` a bundle. Air-gapped side: proxy B with --offline, no
// upstream, an empty cache; `import` the bundle; `dotnet restore --locked-mode` succeeds and every .nupkg
// is byte-identical to upstream's and pinned; a floating version resolves to a version B holds; damaged
// bundles are refused and change nothing.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { readPin } from '../../src/storage/pins.ts';
import { dotnet, freshClientState, makeProject, restoredPackageHashes, runCli, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, standardPackagePaths, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let connected: TestProxy;
let airgapped: TestProxy;
let work: string;
let bundle: string;
let airgappedCache: string;
/** lowerid/version → upstream's file, to compare restored bytes with. */
const upstreamFiles = new Map<string, string>();

const PROJECT = {
  packages: [
    { id: 'xunit', version: '2.9.3' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
    { id: 'Contoso.Dependent', version: '1.0.0' },
    { id: 'Contoso.Vulnerable', version: '1.0.0' },
  ],
  properties: { RestorePackagesWithLockFile: 'true' },
};

const cli = (args: string[]) => runCli(args);

before(async () => {
  upstream = await startStandardFakeUpstream();
  work = await makeTempDir('airgap');
  for (const root of ['/opt/nuget/packages']) {
    for (const id of await readdir(root)) for (const v of await readdir(join(root, id))) upstreamFiles.set(`${id}/${v}`, join(root, id, v, `${id}.${v}.nupkg`));
  }
  for (const file of await standardPackagePaths()) {
    const m = /([^/]+)\.nupkg$/.exec(file);
    if (!m?.[1]) continue;
    // {lowerid}.{lowerversion}.nupkg: the version starts at the first dot followed by a digit.
    const at = m[1].search(/\.\d/);
    upstreamFiles.set(`${m[1].slice(0, at)}/${m[1].slice(at + 1)}`, file);
  }
  connected = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  airgappedCache = await makeTempDir('airgap-cache');
  airgapped = await startProxy({ NUGET_PROXY_OFFLINE: 'true' }, { cacheDir: airgappedCache });
  bundle = join(work, 'nuget-bundle.tar');
});

after(async () => {
  await connected?.dispose();
  await airgapped?.dispose();
  await upstream?.stop();
});

const figures: Record<string, string> = {};

test('connected side: lock file from a real restore, prefetch into proxy A, export a bundle', async () => {
  // The lock file comes from a restore straight against upstream, so A's cache starts empty.
  const lockProject = await makeProject(join(work, 'lock'), PROJECT, { url: upstream.serviceIndexUrl });
  const r = await dotnet(['restore'], lockProject, await freshClientState());
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lockFile = join(lockProject, 'packages.lock.json');
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as { dependencies: Record<string, Record<string, unknown>> };
  const locked = Object.keys(Object.values(lock.dependencies)[0] ?? {});
  assert.ok(locked.length >= 10, locked.join(','));

  const t0 = performance.now();
  const pre = await cli(['prefetch', '--cache-dir', connected.cacheDir, '--upstream', upstream.serviceIndexUrl, '--selection', join(work, 'selection.json'), lockFile]);
  const prefetchMs = performance.now() - t0;
  assert.equal(pre.code, 0, pre.stdout + pre.stderr);
  assert.match(pre.stdout, /packages/i);
  assert.doesNotMatch(pre.stderr, /\u001b\[/, 'no terminal control codes when not a TTY');

  // A serves the prefetched packages without asking upstream.
  upstream.resetLog();
  const nupkg = await fetch(`${connected.url}/v3/flatcontainer/xunit.core/2.9.3/xunit.core.2.9.3.nupkg`);
  assert.equal(nupkg.status, 200);
  assert.equal(upstream.count(/\.nupkg$/), 0);

  // Prefetch is idempotent: a second run fetches nothing.
  const again = await cli(['prefetch', '--cache-dir', connected.cacheDir, '--upstream', upstream.serviceIndexUrl, lockFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(upstream.count(/\.nupkg$/), 0, 'second prefetch downloaded nothing');

  const exp = await cli(['export', '--cache-dir', connected.cacheDir, '--output', bundle, '--selection', join(work, 'selection.json')]);
  assert.equal(exp.code, 0, exp.stdout + exp.stderr);
  const size = (await stat(bundle)).size;
  figures['prefetch'] = `${locked.length} locked packages in ${Math.round(prefetchMs)} ms (CLI, incl. start-up)`;
  figures['bundle'] = `${(size / 1024 / 1024).toFixed(1)} MB`;
});

async function cacheListing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${relative(dir, p)} ${createHash('sha256').update(await readFile(p)).digest('hex')}`);
    }
  };
  await walk(dir);
  return out.filter((l) => !l.startsWith('tmp/')).sort();
}

test('air-gapped side: damaged bundles are refused and leave the cache unchanged', async () => {
  const before = await cacheListing(airgappedCache);
  const data = await readFile(bundle);
  // One flipped byte inside the first package's data.
  const flipped = Buffer.from(data);
  const at = flipped.indexOf(Buffer.from('PK\u0003\u0004', 'latin1')) + 200;
  flipped[at] = (flipped[at] ?? 0) ^ 0xff;
  await writeFile(join(work, 'flipped.tar'), flipped);
  await writeFile(join(work, 'truncated.tar'), data.subarray(0, Math.floor(data.length * 0.7)));
  for (const name of ['flipped.tar', 'truncated.tar']) {
    const r = await cli(['import', '--cache-dir', airgappedCache, join(work, name)]);
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /bundle refused: .*the cache was not changed/);
  }
  assert.deepEqual(await cacheListing(airgappedCache), before);
});

test('air-gapped side: import, then dotnet restore --locked-mode through the offline proxy, byte-identical', async (t) => {
  const t0 = performance.now();
  const imp = await cli(['import', '--cache-dir', airgappedCache, bundle]);
  const importMs = performance.now() - t0;
  assert.equal(imp.code, 0, imp.stdout + imp.stderr);
  figures['import'] = `${figures['bundle']} in ${Math.round(importMs)} ms (CLI, incl. start-up)`;

  const dir = join(work, 'locked');
  await cp(join(work, 'lock'), dir, { recursive: true, filter: (src) => !src.includes('/obj') && !src.includes('/bin') });
  await writeFile(join(dir, 'nuget.config'), (await readFile(join(dir, 'nuget.config'), 'utf8')).replace(upstream.serviceIndexUrl, `${airgapped.url}/v3/index.json`));
  const state = await freshClientState();
  const r = await dotnet(['restore', '--locked-mode'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const hashes = await restoredPackageHashes(state.packages);
  assert.ok(hashes.size >= 10);
  for (const [key, hash] of hashes) {
    const file = upstreamFiles.get(key);
    assert.ok(file, `no upstream file for ${key}`);
    assert.equal(hash, await sha512File(file), `${key} differs from upstream`);
  }
  assert.match(r.stdout, /NU1903: Package 'Contoso\.Vulnerable' 1\.0\.0/, 'audit works from the bundled vulnerability data');
  // Everything that crossed the gap is pinned: retention never evicts it.
  for (const key of hashes.keys()) {
    const [lowerId = '', lowerVersion = ''] = key.split('/');
    assert.equal((await readPin(new DiskBlobStore(airgappedCache), lowerId, lowerVersion))?.reason, 'import', `${key} pinned`);
  }
  t.diagnostic(`prefetch: ${figures['prefetch']}; bundle ${figures['bundle']}; import: ${figures['import']}; offline locked-mode restore ${Math.round(r.durationMs)} ms`);
});

test('air-gapped side: a floating version resolves to a version the proxy holds', async () => {
  const project = { packages: [{ id: 'Contoso.MixedCase.Lib', version: '1.*' }] };
  const dir = await makeProject(join(work, 'floating'), project, { url: `${airgapped.url}/v3/index.json` });
  await rm(join(dir, 'packages.lock.json'), { force: true });
  const state = await freshClientState();
  const r = await dotnet(['restore'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const hashes = await restoredPackageHashes(state.packages);
  // Upstream has 1.0.0, 1.1.0 and 2.0.0; the bundle carried 1.0.0 (Contoso.Dependent's lowest match).
  assert.deepEqual([...hashes.keys()].filter((k) => k.startsWith('contoso.mixedcase.lib/')), ['contoso.mixedcase.lib/1.0.0']);
});
