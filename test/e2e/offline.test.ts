// --offline: a proxy that never contacts upstream serves from its cache alone — its own service index,
// version lists of what it holds (so floating ranges resolve to a deliverable version), registration
// synthesized from cached nuspecs and cached upstream leaves, local search/autocomplete, and the last
// mirrored vulnerability data — to real dotnet and nuget.exe clients.

import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, nugetConfigXml, nugetExe, restoredPackageHashes, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let online: TestProxy;
let offline: TestProxy;
let workDir: string;
let upstreamRequestsBefore = 0;

const PROJECT = {
  packages: [
    { id: 'xunit', version: '2.9.3' },
    { id: 'Contoso.MixedCase.Lib', version: '1.0.0' },
    { id: 'Contoso.Vulnerable', version: '1.0.0' },
    { id: 'Contoso.Prerelease', version: '1.0.0-rc.2' },
  ],
};

before(async () => {
  upstream = await startStandardFakeUpstream();
  const cacheDir = await makeTempDir('offline-cache');
  workDir = await makeTempDir('offline');
  online = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl }, { cacheDir });
  // Fill the cache the way real clients do: a restore (flat container + audit) and a nuget.exe install
  // (registration, including a paged one).
  const fill = await dotnet(['restore'], await makeProject(join(workDir, 'fill'), PROJECT, { url: `${online.url}/v3/index.json` }), await freshClientState());
  assert.equal(fill.code, 0, fill.stdout + fill.stderr);
  const sol = join(workDir, 'fill-exe');
  await mkdir(sol, { recursive: true });
  await writeFile(join(sol, 'nuget.config'), nugetConfigXml({ url: `${online.url}/v3/index.json` }));
  const exe = await nugetExe(['install', 'Contoso.Paged', '-Version', '1.0.130', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], sol, await freshClientState());
  assert.equal(exe.code, 0, exe.stdout + exe.stderr);
  await online.stop();
  offline = await startProxy({ NUGET_PROXY_OFFLINE: 'true' }, { cacheDir });
  upstreamRequestsBefore = upstream.requests().length;
});

after(async () => {
  // The online proxy too: when filling failed, before() never reached its stop (stop is idempotent), and its
  // server would keep this test file running.
  await online?.stop();
  await offline?.dispose();
  await upstream?.stop();
});

async function json(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(offline.url + path);
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? JSON.parse(text) : text };
}

test('the offline service index points every served resource at the proxy', async () => {
  const { body } = await json('/v3/index.json');
  const resources = (body as { resources: Array<{ '@id': string; '@type': string }> }).resources;
  for (const t of ['PackageBaseAddress/3.0.0', 'RegistrationsBaseUrl/Versioned', 'SearchQueryService/3.0.0-beta', 'SearchAutocompleteService/3.0.0-beta', 'VulnerabilityInfo/6.7.0']) {
    const r = resources.find((x) => x['@type'] === t);
    assert.ok(r && r['@id'].startsWith(offline.url), t);
  }
});

test('version lists list only versions whose .nupkg the proxy holds', async () => {
  assert.deepEqual((await json('/v3/flatcontainer/contoso.mixedcase.lib/index.json')).body, { versions: ['1.0.0'] });
  assert.deepEqual((await json('/v3/flatcontainer/contoso.paged/index.json')).body, { versions: ['1.0.130'] });
  assert.equal((await json('/v3/flatcontainer/contoso.fourpart/index.json')).status, 404);
  assert.equal((await fetch(`${offline.url}/v3/flatcontainer/contoso.mixedcase.lib/2.0.0/contoso.mixedcase.lib.2.0.0.nupkg`)).status, 404);
});

test('registration is synthesized from the cache: only held versions, upstream metadata kept', async () => {
  const { status, body } = await json('/v3/registration/semver2/contoso.paged/index.json');
  assert.equal(status, 200);
  const index = body as { count: number; items: Array<{ count: number; lower: string; upper: string; items: Array<{ catalogEntry: Record<string, unknown>; packageContent: string }> }> };
  assert.equal(index.count, 1);
  assert.equal(index.items[0]?.lower, '1.0.130');
  const leaf = index.items[0]?.items[0];
  assert.equal(leaf?.catalogEntry['description'], 'A package with 140 versions.');
  assert.equal(leaf?.packageContent, `${offline.url}/v3/flatcontainer/contoso.paged/1.0.130/contoso.paged.1.0.130.nupkg`);
  // Known only from its nuspec (restore never reads registration): synthesized from the .nuspec.
  const { body: mixed } = await json('/v3/registration/semver2/contoso.mixedcase.lib/index.json');
  const entry = (mixed as typeof index).items[0]?.items[0]?.catalogEntry;
  assert.equal(entry?.['id'], 'Contoso.MixedCase.Lib');
  assert.equal(entry?.['version'], '1.0.0');
  assert.equal(entry?.['description'], 'A library whose id has mixed case.');
});

test('search and autocomplete run over the cached packages (prerelease, semVerLevel, paging)', async () => {
  const all = (await json('/v3/search/query?q=contoso&take=50&prerelease=true&semVerLevel=2.0.0')).body as { totalHits: number; data: Array<{ id: string; version: string }> };
  const ids = all.data.map((d) => d.id).sort();
  assert.deepEqual(ids, ['Contoso.MixedCase.Lib', 'Contoso.Paged', 'Contoso.Prerelease', 'Contoso.Vulnerable']);
  const stable = (await json('/v3/search/query?q=contoso&take=50')).body as { data: Array<{ id: string }> };
  assert.ok(!stable.data.some((d) => d.id === 'Contoso.Prerelease'), 'prerelease-only package hidden without prerelease=true');
  const page = (await json('/v3/search/query?q=contoso&skip=1&take=2&prerelease=true&semVerLevel=2.0.0')).body as { totalHits: number; data: unknown[] };
  assert.equal(page.totalHits, 4);
  assert.equal(page.data.length, 2);
  const byTitle = (await json('/v3/search/query?q=mixed%20case&prerelease=true')).body as { data: Array<{ id: string }> };
  assert.deepEqual(byTitle.data.map((d) => d.id), ['Contoso.MixedCase.Lib']);
  const auto = (await json('/v3/search/autocomplete?q=contoso.m')).body as { data: string[] };
  assert.deepEqual(auto.data, ['Contoso.MixedCase.Lib']);
  const versions = (await json('/v3/search/autocomplete?id=contoso.prerelease&prerelease=true&semVerLevel=2.0.0')).body as { data: string[] };
  assert.deepEqual(versions.data, ['1.0.0-rc.2']);
});

test('dotnet restore offline: exact versions byte-identical, audit from the mirrored data, a floating range resolves to a held version', async () => {
  const project = { packages: [...PROJECT.packages.filter((p) => p.id !== 'Contoso.MixedCase.Lib'), { id: 'Contoso.MixedCase.Lib', version: '1.*' }] };
  const state = await freshClientState();
  const dir = await makeProject(join(workDir, 'restore-offline'), project, { url: `${offline.url}/v3/index.json` });
  const r = await dotnet(['restore'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const hashes = await restoredPackageHashes(state.packages);
  assert.equal(hashes.get('xunit/2.9.3'), await sha512File('/opt/nuget/packages/xunit/2.9.3/xunit.2.9.3.nupkg'));
  // Upstream has 1.1.0 too, but offline only 1.0.0 can be delivered.
  assert.ok(hashes.has('contoso.mixedcase.lib/1.0.0'), [...hashes.keys()].join(','));
  assert.ok(!hashes.has('contoso.mixedcase.lib/1.1.0'));
  assert.match(r.stdout, /warning NU1903: Package 'Contoso\.Vulnerable' 1\.0\.0 has a known high severity vulnerability/);
});

test('nuget.exe search and install against the offline proxy', async () => {
  const sol = join(workDir, 'exe-offline');
  await mkdir(sol, { recursive: true });
  await writeFile(join(sol, 'nuget.config'), nugetConfigXml({ url: `${offline.url}/v3/index.json` }));
  const state = await freshClientState();
  const search = await nugetExe(['search', 'contoso', '-Source', `${offline.url}/v3/index.json`], sol, state);
  assert.equal(search.code, 0, search.stdout + search.stderr);
  assert.match(search.stdout, /Contoso\.Paged/);
  assert.doesNotMatch(search.stdout, /Contoso\.FourPart/, 'packages the proxy does not hold are not found');
  const install = await nugetExe(['install', 'Contoso.Paged', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], sol, state);
  assert.equal(install.code, 0, install.stdout + install.stderr);
  assert.ok(existsSync(join(sol, 'out', 'Contoso.Paged.1.0.130')), 'latest held version installed');
  const nj = await nugetExe(['install', 'xunit.abstractions', '-Version', '2.0.3', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], sol, state);
  assert.equal(nj.code, 0, nj.stdout + nj.stderr);
});

test('the offline proxy never contacted upstream', async () => {
  assert.equal(upstream.requests().length, upstreamRequestsBefore);
  const cfg = await readFile(join(workDir, 'exe-offline', 'nuget.config'), 'utf8');
  assert.ok(cfg.includes(offline.url));
});
