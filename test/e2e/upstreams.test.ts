// One proxy in front of several upstreams, with the real clients and a <clear/> nuget.config naming only
// the proxy: an "internal" feed (basic auth) holding Contoso.*, a "public" feed holding public packages AND
// an impostor Contoso.Core with other bytes (and a higher version). Package source mapping keeps every
// contoso.* request away from the public feed — versions, registration, search, downloads — so restore gets
// the internal bytes; the same with the internal packages in a local folder. Registration and search merge
// both upstreams.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, nugetConfigXml, nugetExe, restoredPackageHashes, sha512File } from '../helpers/clients.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

const NEWTONSOFT = '/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';

const INTERNAL: PackageSpec[] = [
  { id: 'Contoso.Core', version: '1.0.0', description: 'The internal Contoso.Core.' },
  { id: 'Contoso.Core', version: '1.1.0', description: 'The internal Contoso.Core.' },
  { id: 'Shared.Lib', version: '1.0.0', description: 'Shared.Lib as built inside.' },
  { id: 'Shared.Lib', version: '2.0.0', description: 'Shared.Lib as built inside.' },
  { id: 'Shared.Other', version: '2.0.0', description: 'Shared.Other, newest inside.' },
];

const PUBLIC: PackageSpec[] = [
  // Dependency confusion: the same id and version with other bytes, and a tempting higher version.
  { id: 'Contoso.Core', version: '1.0.0', description: 'PUBLIC IMPOSTOR of Contoso.Core.' },
  { id: 'Contoso.Core', version: '9.9.9', description: 'PUBLIC IMPOSTOR of Contoso.Core.' },
  { id: 'Shared.Lib', version: '1.5.0', description: 'Shared.Lib as published publicly.' },
  { id: 'Shared.Lib', version: '3.0.0', description: 'Shared.Lib as published publicly.' },
  { id: 'Shared.Other', version: '1.0.0', description: 'Shared.Other, older publicly.' },
  { id: 'Public.Lib', version: '1.0.0', description: 'A public library.' },
];

const AUTH = { username: 'build', password: 's3cret-token' };

let internal: FakeUpstream;
let publicFeed: FakeUpstream;
let proxy: TestProxy;
let folderProxy: TestProxy;
let workDir: string;
let internalFiles: Map<string, string>;
let publicFiles: Map<string, string>;
let shareDir: string;

function byKey(paths: readonly string[]): Map<string, string> {
  // writePackages names files {id}.{version}.nupkg
  const out = new Map<string, string>();
  for (const p of paths) {
    const name = p.split('/').pop() ?? '';
    const m = /^(.*?)\.(\d+\.\d+\.\d+)\.nupkg$/.exec(name);
    if (m?.[1] && m[2]) out.set(`${m[1].toLowerCase()}/${m[2]}`, p);
  }
  return out;
}

/** Every request to the public feed whose path names a contoso.* id (any resource, any case). */
function publicContosoRequests(): string[] {
  return publicFeed.requests().map((r) => r.path).filter((p) => /contoso\./i.test(decodeURIComponent(p)));
}

before(async () => {
  workDir = await makeTempDir('upstreams');
  const internalPaths = await writePackages(join(workDir, 'internal-packages'), INTERNAL);
  const publicPaths = await writePackages(join(workDir, 'public-packages'), PUBLIC);
  internalFiles = byKey(internalPaths);
  publicFiles = byKey(publicPaths);
  assert.notEqual(await sha512File(internalFiles.get('contoso.core/1.0.0') ?? ''), await sha512File(publicFiles.get('contoso.core/1.0.0') ?? ''));
  // A private feed serves everything from one origin: the proxy sends its credentials to that origin only.
  internal = await startFakeUpstream({ packages: internalPaths, basicAuth: AUTH, searchOnMain: true });
  publicFeed = await startFakeUpstream({ packages: [NEWTONSOFT, ...publicPaths] });

  const config = join(workDir, 'nuget-proxy.yaml');
  await writeFile(
    config,
    `# two upstreams; Contoso.* only from inside, Shared.* from both, the rest from the public feed
upstreams:
  - name: internal
    url: ${internal.serviceIndexUrl}
    username: build
    password: \${INTERNAL_FEED_TOKEN}
  - name: public
    url: ${publicFeed.serviceIndexUrl}
packageSourceMapping:
  internal: ["Contoso.*", "Shared.*"]
  public: ["*", "Shared.*"]
`,
  );
  proxy = await startProxy({ NUGET_PROXY_CONFIG: config, INTERNAL_FEED_TOKEN: AUTH.password });

  // The same internal packages in a folder (nested, as a share often is) instead of a feed.
  shareDir = join(workDir, 'share');
  await writePackages(join(shareDir, 'contoso', 'core'), INTERNAL.filter((p) => p.id === 'Contoso.Core'));
  const folderConfig = join(workDir, 'folder.yaml');
  await writeFile(
    folderConfig,
    `upstreams:
  - name: share
    folder: ./share
  - name: public
    url: ${publicFeed.serviceIndexUrl}
packageSourceMapping:
  share: ["Contoso.*"]
  public: ["*"]
`,
  );
  folderProxy = await startProxy({ NUGET_PROXY_CONFIG: folderConfig });
});

after(async () => {
  await proxy?.dispose();
  await folderProxy?.dispose();
  await internal?.stop();
  await publicFeed?.stop();
});

async function restore(feed: TestProxy, name: string, packages: Array<{ id: string; version: string }>) {
  const dir = await makeProject(join(workDir, name), { packages }, { url: `${feed.url}/v3/index.json` });
  const state = await freshClientState();
  const result = await dotnet(['restore', '--verbosity', 'minimal'], dir, state);
  return { result, dir, state, hashes: await restoredPackageHashes(state.packages) };
}

test('dotnet restore gets the internal Contoso.Core bytes; the public feed is never asked about a contoso.* id', async () => {
  publicFeed.resetLog();
  const pinned = await restore(proxy, 'pinned', [
    { id: 'Contoso.Core', version: '1.0.0' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ]);
  assert.equal(pinned.result.code, 0, pinned.result.stdout + pinned.result.stderr);
  assert.equal(pinned.hashes.get('contoso.core/1.0.0'), await sha512File(internalFiles.get('contoso.core/1.0.0') ?? ''), 'internal bytes');
  assert.equal(pinned.hashes.get('newtonsoft.json/13.0.3'), await sha512File(NEWTONSOFT));

  // A floating version cannot be lured to the impostor's 9.9.9 either.
  const floating = await restore(proxy, 'floating', [{ id: 'Contoso.Core', version: '*' }]);
  assert.equal(floating.result.code, 0, floating.result.stdout + floating.result.stderr);
  assert.deepEqual([...floating.hashes.keys()].filter((k) => k.startsWith('contoso.core/')), ['contoso.core/1.1.0']);
  assert.equal(floating.hashes.get('contoso.core/1.1.0'), await sha512File(internalFiles.get('contoso.core/1.1.0') ?? ''));

  assert.deepEqual(publicContosoRequests(), [], 'no request for a contoso.* id reached the public feed');
  assert.ok(publicFeed.count(/newtonsoft\.json/) >= 1, 'the public feed served Newtonsoft.Json');
  // The internal feed was asked with its credentials (never anonymously by the proxy).
  const internalRequests = internal.requests();
  assert.ok(internalRequests.some((r) => r.path.includes('/contoso.core/')));
  assert.ok(internalRequests.every((r) => r.status !== 401), 'every internal request carried the credentials');
});

test('the same with the internal packages in a local folder', async () => {
  publicFeed.resetLog();
  const r = await restore(folderProxy, 'folder', [
    { id: 'Contoso.Core', version: '1.0.0' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ]);
  assert.equal(r.result.code, 0, r.result.stdout + r.result.stderr);
  assert.equal(r.hashes.get('contoso.core/1.0.0'), await sha512File(internalFiles.get('contoso.core/1.0.0') ?? ''), 'the folder bytes');
  assert.equal(r.hashes.get('newtonsoft.json/13.0.3'), await sha512File(NEWTONSOFT));
  assert.deepEqual(publicContosoRequests(), []);
  // The folder's versions, and registration built from its nuspecs.
  const versions = (await (await fetch(`${folderProxy.url}/v3/flatcontainer/contoso.core/index.json`)).json()) as { versions: string[] };
  assert.deepEqual(versions.versions, ['1.0.0', '1.1.0']);
  const reg = (await (await fetch(`${folderProxy.url}/v3/registration/semver2/contoso.core/index.json`)).json()) as {
    items: Array<{ upper: string; items: Array<{ catalogEntry: { description: string; published: string }; packageContent: string }> }>;
  };
  const leaf = reg.items[0]?.items[1];
  assert.equal(leaf?.catalogEntry.description, 'The internal Contoso.Core.');
  assert.ok(leaf?.packageContent.startsWith(`${folderProxy.url}/v3/flatcontainer/contoso.core/1.1.0/`), leaf?.packageContent);
  assert.ok(!Number.isNaN(Date.parse(leaf?.catalogEntry.published ?? '')));
});

async function solutionDir(name: string, feed: TestProxy): Promise<string> {
  const dir = join(workDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nuget.config'), nugetConfigXml({ url: `${feed.url}/v3/index.json` }));
  return dir;
}

test('merged registration: nuget.exe install (no version) picks the latest version across upstreams', async () => {
  const dir = await solutionDir('install', proxy);
  const state = await freshClientState();
  const lib = await nugetExe(['install', 'Shared.Lib', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], dir, state);
  assert.equal(lib.code, 0, lib.stdout + lib.stderr);
  const other = await nugetExe(['install', 'Shared.Other', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], dir, state);
  assert.equal(other.code, 0, other.stdout + other.stderr);
  const installed = (await readdir(join(dir, 'out'))).sort();
  assert.deepEqual(installed, ['Shared.Lib.3.0.0', 'Shared.Other.2.0.0']);
  // 3.0.0 is the public feed's, 2.0.0 the internal feed's: each downloaded from its own upstream.
  assert.equal(await sha512File(join(dir, 'out', 'Shared.Lib.3.0.0', 'Shared.Lib.3.0.0.nupkg')), await sha512File(publicFiles.get('shared.lib/3.0.0') ?? ''));
  assert.equal(await sha512File(join(dir, 'out', 'Shared.Other.2.0.0', 'Shared.Other.2.0.0.nupkg')), await sha512File(internalFiles.get('shared.other/2.0.0') ?? ''));
  const reg = (await (await fetch(`${proxy.url}/v3/registration/semver2/shared.lib/index.json`)).json()) as { items: Array<{ lower: string; upper: string; count: number }> };
  assert.deepEqual(reg.items.map((p) => [p.lower, p.upper, p.count]), [['1.0.0', '3.0.0', 4]]);
});

test('merged registration: dotnet add package (no version) picks the latest version across upstreams', async () => {
  const dir = await makeProject(join(workDir, 'add'), { packages: [] }, { url: `${proxy.url}/v3/index.json` });
  const state = await freshClientState();
  const r = await dotnet(['add', 'package', 'Shared.Lib'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const csproj = await readFile(join(dir, 'app.csproj'), 'utf8');
  assert.match(csproj, /<PackageReference Include="Shared\.Lib" Version="3\.0\.0" \/>/);
});

test('search returns packages of both upstreams; a contoso.* result only from the internal feed', async () => {
  const dir = await solutionDir('search', proxy);
  const state = await freshClientState();
  const r = await dotnet(['package', 'search', 'Lib', '--source', `${proxy.url}/v3/index.json`, '--format', 'json', '--take', '50'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { searchResult: Array<{ packages: Array<{ id: string; latestVersion: string }> }> };
  const found = new Map(out.searchResult.flatMap((s) => s.packages).map((p) => [p.id, p.latestVersion]));
  assert.equal(found.get('Public.Lib'), '1.0.0', [...found.keys()].join(', '));
  assert.equal(found.get('Shared.Lib'), '3.0.0');

  const res = await fetch(`${proxy.url}/v3/search/query?q=contoso&take=50&semVerLevel=2.0.0`);
  const doc = (await res.json()) as { data: Array<{ id: string; version: string; description: string }> };
  const core = doc.data.find((d) => d.id === 'Contoso.Core');
  assert.equal(core?.description, 'The internal Contoso.Core.');
  assert.equal(core?.version, '1.1.0');
  assert.equal(doc.data.filter((d) => d.id === 'Contoso.Core').length, 1);
  assert.deepEqual(publicContosoRequests().filter((p) => !p.includes('/query?')), [], 'search text is not an id');
});

test('per upstream: /readyz, metrics and an unmapped id', async () => {
  const ready = (await (await fetch(`${proxy.url}/readyz`)).json()) as { upstreams: Record<string, { kind: string; status: string }> };
  assert.deepEqual(Object.keys(ready.upstreams), ['internal', 'public']);
  assert.equal(ready.upstreams['internal']?.status, 'ok');
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(metrics, /nuget_proxy_upstream_requests_total\{upstream="internal",resource="nupkg",outcome="ok"\} [1-9]/);
  assert.match(metrics, /nuget_proxy_upstream_requests_total\{upstream="public",resource="nupkg",outcome="ok"\} [1-9]/);
  assert.ok(existsSync(proxy.cacheDir));
  const onlyShare = await fetch(`${folderProxy.url}/v3/flatcontainer/local.unmapped/index.json`);
  assert.equal(onlyShare.status, 404, 'an id the mapping covers nowhere is not found (the public * covers it here, and it does not exist)');
});
