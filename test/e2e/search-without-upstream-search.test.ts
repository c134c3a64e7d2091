// A feed without search (many private and static feeds have none): the proxy lists its own search and
// autocomplete in its service index and answers them from the packages it holds, without asking upstream —
// checked over HTTP and with the real `dotnet package search`.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, nugetConfigXml } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false, search: false });
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  // What clients restored through the proxy so far: the packages it can find.
  for (const path of ['contoso.mixedcase.lib/1.1.0/contoso.mixedcase.lib.1.1.0.nupkg', 'contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg']) {
    const r = await fetch(`${proxy.url}/v3/flatcontainer/${path}`);
    assert.equal(r.status, 200, path);
    await r.arrayBuffer();
  }
  await proxy.proxy.flat.drain(); // a streamed fill's response may end before its commit
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

type IndexDoc = { resources: Array<Record<string, unknown>> };

test('the upstream index has no search; the proxy index lists its own', async () => {
  const up = (await (await fetch(upstream.serviceIndexUrl)).json()) as IndexDoc;
  assert.deepEqual(up.resources.filter((r) => String(r['@type']).startsWith('Search')), [], 'the fake feed lists no search');
  const index = (await (await fetch(`${proxy.url}/v3/index.json`)).json()) as IndexDoc;
  const search = index.resources.filter((r) => String(r['@type']).startsWith('SearchQueryService'));
  const autocomplete = index.resources.filter((r) => String(r['@type']).startsWith('SearchAutocompleteService'));
  assert.ok(search.length >= 3, JSON.stringify(search));
  for (const r of search) assert.equal(r['@id'], `${proxy.url}/v3/search/query`);
  for (const r of autocomplete) assert.equal(r['@id'], `${proxy.url}/v3/search/autocomplete`);
});

test('search and autocomplete answer from the cache, without asking upstream', async () => {
  upstream.resetLog();
  const r = await fetch(`${proxy.url}/v3/search/query?q=contoso&prerelease=true&semVerLevel=2.0.0`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-nuget-warning'), null, 'no warning: this is how the proxy searches such a feed');
  const body = (await r.json()) as { totalHits: number; data: Array<{ id: string; version: string; versions: Array<{ '@id': string }> }> };
  assert.deepEqual(body.data.map((d) => d.id).sort(), ['Contoso.Dependent', 'Contoso.MixedCase.Lib']);
  const lib = body.data.find((d) => d.id === 'Contoso.MixedCase.Lib');
  assert.equal(lib?.version, '1.1.0', 'only what the cache holds');
  assert.ok(lib?.versions.every((v) => v['@id'].startsWith(`${proxy.url}/v3/registration/`)), 'URLs point at the proxy');
  const ac = (await (await fetch(`${proxy.url}/v3/search/autocomplete?q=contoso.mi`)).json()) as { data: string[] };
  assert.deepEqual(ac.data, ['Contoso.MixedCase.Lib']);
  assert.equal(upstream.count(/./, { server: 'search' }), 0, 'the search server was never asked');
});

test('dotnet package search finds the cached packages through the proxy', async () => {
  const dir = await makeTempDir('search-client');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nuget.config'), nugetConfigXml({ url: `${proxy.url}/v3/index.json` }));
  const state = await freshClientState();
  const r = await dotnet(['package', 'search', 'contoso', '--configfile', join(dir, 'nuget.config'), '--format', 'json', '--prerelease'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(r.stdout) as { searchResult: Array<{ packages: Array<{ id: string; latestVersion: string }>; problems?: unknown[] }> };
  const found = doc.searchResult.flatMap((s) => s.packages.map((p) => `${p.id} ${p.latestVersion}`)).sort();
  assert.deepEqual(found, ['Contoso.Dependent 1.0.0', 'Contoso.MixedCase.Lib 1.1.0']);
  assert.equal(upstream.count(/./, { server: 'search' }), 0);
});
