// Several upstreams across an air gap, with the real CLI and the real dotnet client. Connected side: proxy A
// in front of an "internal" feed (basic auth, Contoso.*) and a "public" feed (public packages, an impostor
// Contoso.Core, packages with publish dates and advisories); `prefetch` a project and a package list into
// A's cache, `export` a bundle. Air-gapped side: both feeds stopped, proxy B offline with the same upstreams,
// mapping and a policy; `import`; then dotnet restore through B: the internal bytes, routing as online, and
// the policy decided from the mirrored publish dates and advisories.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, restoredPackageHashes, runCli, sha512File } from '../helpers/clients.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

const NEWTONSOFT = '/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';
const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const AUTH = { username: 'build', password: 'offline-token' };

const INTERNAL: PackageSpec[] = [{ id: 'Contoso.Core', version: '1.0.0', description: 'The internal Contoso.Core.' }];
const PUBLIC: PackageSpec[] = [
  { id: 'Contoso.Core', version: '1.0.0', description: 'PUBLIC IMPOSTOR of Contoso.Core.' },
  { id: 'Young.Lib', version: '1.0.0' },
  { id: 'Young.Lib', version: '1.1.0' },
  { id: 'Young.Lib', version: '1.2.0' },
  { id: 'Vuln.Lib', version: '1.0.0' },
  { id: 'Vuln.Lib', version: '1.1.0' },
];

let internal: FakeUpstream;
let publicFeed: FakeUpstream;
let connected: TestProxy;
let airgapped: TestProxy;
let work: string;
let internalCore: string;

function upstreamsYaml(): string {
  return `upstreams:
  - name: internal
    url: ${internal.serviceIndexUrl}
    username: build
    password: \${FEED_TOKEN}
  - name: public
    url: ${publicFeed.serviceIndexUrl}
packageSourceMapping:
  internal: ["Contoso.*"]
  public: ["*"]
`;
}

before(async () => {
  work = await makeTempDir('upstreams-offline');
  const internalPaths = await writePackages(join(work, 'internal'), INTERNAL);
  internalCore = internalPaths[0] ?? '';
  internal = await startFakeUpstream({ packages: internalPaths, basicAuth: AUTH, searchOnMain: true });
  publicFeed = await startFakeUpstream({
    packages: [NEWTONSOFT, ...(await writePackages(join(work, 'public'), PUBLIC))],
    published: [
      { id: 'Young.Lib', version: '1.0.0', published: ago(30 * DAY) },
      { id: 'Young.Lib', version: '1.1.0', published: ago(20 * DAY) },
      { id: 'Young.Lib', version: '1.2.0', published: ago(DAY / 12) },
    ],
    vulnerabilities: { 'vuln.lib': [{ url: 'https://advisories.example.test/vuln-lib-high', severity: 2, versions: '(, 1.1.0)' }] },
  });
  // The connected side has no policy: it mirrors what the list asks for, young versions included.
  await writeFile(join(work, 'connected.yaml'), upstreamsYaml());
  // The air-gapped side: same upstreams (unreachable) and mapping, offline, with the policy.
  await writeFile(
    join(work, 'airgapped.yaml'),
    `offline: true
${upstreamsYaml()}policy:
  minReleaseAge: 7d
  vulnerabilities: { minSeverity: high, action: refuse }
`,
  );
  connected = await startProxy({ NUGET_PROXY_CONFIG: join(work, 'connected.yaml'), FEED_TOKEN: AUTH.password });
});

after(async () => {
  await connected?.dispose();
  await airgapped?.dispose();
  await internal?.stop();
  await publicFeed?.stop();
});

const env = () => ({ FEED_TOKEN: AUTH.password });

test('connected side: prefetch a project and a list through both upstreams, export a bundle', async () => {
  const project = await makeProject(
    join(work, 'inputs'),
    {
      packages: [
        { id: 'Contoso.Core', version: '1.0.0' },
        { id: 'Newtonsoft.Json', version: '13.0.3' },
      ],
    },
    { url: `${connected.url}/v3/index.json` },
  );
  const list = join(work, 'extra.txt');
  // Without a policy on this side, the young 1.2.0 is mirrored too: the air-gapped side must hide it itself.
  await writeFile(list, 'Young.Lib@1.1.0\nYoung.Lib@1.2.0\nVuln.Lib@1.0.0\nVuln.Lib@1.1.0\n');
  const selection = join(work, 'selection.json');
  const pre = await runCli(['prefetch', '--config', join(work, 'connected.yaml'), '--cache-dir', connected.cacheDir, '--selection', selection, join(project, 'app.csproj'), list], env());
  assert.equal(pre.code, 0, pre.stdout + pre.stderr);
  assert.deepEqual(
    publicFeed.requests().map((r) => r.path).filter((p) => /contoso\./i.test(p)),
    [],
    'the public feed is never asked about Contoso.*',
  );
  const exp = await runCli(['export', '--config', join(work, 'connected.yaml'), '--cache-dir', connected.cacheDir, '--output', join(work, 'bundle.tar'), '--selection', selection], env());
  assert.equal(exp.code, 0, exp.stdout + exp.stderr);
});

test('air-gapped side: import into an offline proxy with every upstream unreachable', async () => {
  await internal.stop();
  await publicFeed.stop();
  const cacheDir = await makeTempDir('upstreams-offline-b');
  const imp = await runCli(['import', '--config', join(work, 'airgapped.yaml'), '--cache-dir', cacheDir, join(work, 'bundle.tar')], env());
  assert.equal(imp.code, 0, imp.stdout + imp.stderr);
  airgapped = await startProxy({ NUGET_PROXY_CONFIG: join(work, 'airgapped.yaml'), FEED_TOKEN: AUTH.password }, { cacheDir });
});

async function restore(name: string, packages: Array<{ id: string; version: string }>) {
  const dir = await makeProject(join(work, name), { packages }, { url: `${airgapped.url}/v3/index.json` });
  const state = await freshClientState();
  const result = await dotnet(['restore'], dir, state);
  return { result, output: result.stdout + result.stderr, hashes: await restoredPackageHashes(state.packages) };
}

test('offline: the same routing — the internal Contoso.Core bytes, Newtonsoft.Json from the public feed', async () => {
  const r = await restore('routing', [
    { id: 'Contoso.Core', version: '1.0.0' },
    { id: 'Newtonsoft.Json', version: '13.0.3' },
  ]);
  assert.equal(r.result.code, 0, r.output);
  assert.equal(r.hashes.get('contoso.core/1.0.0'), await sha512File(internalCore));
  assert.equal(r.hashes.get('newtonsoft.json/13.0.3'), await sha512File(NEWTONSOFT));
});

test('offline: the same policy — 1.* skips the young version it holds; the pinned young one is refused', async () => {
  const floating = await restore('floating', [{ id: 'Young.Lib', version: '1.*' }]);
  assert.equal(floating.result.code, 0, floating.output);
  assert.deepEqual([...floating.hashes.keys()], ['young.lib/1.1.0']);
  const held = await (await fetch(`${airgapped.url}/v3/flatcontainer/young.lib/index.json`)).json();
  assert.deepEqual(held, { versions: ['1.1.0'] }, '1.2.0 is in the cache but hidden');
  const pinned = await restore('pinned', [{ id: 'Young.Lib', version: '[1.2.0]' }]);
  assert.notEqual(pinned.result.code, 0, pinned.output);
  assert.match(pinned.output, /young\.lib 1\.2\.0 was published [\d.]+ h ago; policy requires 7 d \(min release age\)/);
  const vulnerable = await restore('vulnerable', [{ id: 'Vuln.Lib', version: '1.0.0' }]);
  assert.notEqual(vulnerable.result.code, 0, vulnerable.output);
  assert.match(vulnerable.output, /vuln\.lib 1\.0\.0 has a high-severity advisory/);
});
