// Several upstreams over HTTP against real fake feeds: the source marker keeps one upstream's bytes from
// being served as another's when the mapping changes; an upstream that goes away degrades only its own
// ids; registration merged across upstreams keeps nuget.org's paging (≥ 128 versions in separate pages);
// vulnerability data from every upstream in one index; without a mapping every upstream is asked in order.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

const range = (n: number, f: (i: number) => PackageSpec) => Array.from({ length: n }, (_, i) => f(i));

let a: FakeUpstream;
let b: FakeUpstream;
let dir: string;
let aFiles: string[];
let bFiles: string[];
const proxies: TestProxy[] = [];

before(async () => {
  dir = await makeTempDir('multi');
  aFiles = await writePackages(join(dir, 'a'), [
    { id: 'Contoso.Core', version: '1.0.0', description: 'from a' },
    ...range(100, (i) => ({ id: 'Big.Lib', version: `1.0.${i}`, description: 'a' })),
  ]);
  bFiles = await writePackages(join(dir, 'b'), [
    { id: 'Contoso.Core', version: '1.0.0', description: 'from b' },
    ...range(60, (i) => ({ id: 'Big.Lib', version: `2.0.${i}`, description: 'b' })),
    { id: 'Big.Lib', version: '1.0.5', description: 'b duplicate of a version a has' },
    { id: 'Only.B', version: '1.0.0' },
  ]);
  a = await startFakeUpstream({ packages: aFiles, vulnerabilities: { 'big.lib': [{ url: 'https://a.example/adv', severity: 1, versions: '(, 1.0.1)' }] } });
  b = await startFakeUpstream({ packages: bFiles, vulnerabilities: { 'only.b': [{ url: 'https://b.example/adv', severity: 2, versions: '(, 2.0.0)' }] } });
});

after(async () => {
  for (const p of proxies) await p.dispose().catch(() => undefined);
  await a?.stop();
  await b?.stop();
});

async function proxyWith(name: string, yaml: string, cacheDir?: string): Promise<TestProxy> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, yaml);
  const p = await startProxy({ NUGET_PROXY_CONFIG: path }, cacheDir ? { cacheDir } : {});
  proxies.push(p);
  return p;
}

const sha = (buf: Buffer) => createHash('sha512').update(buf).digest('base64');
const fileOf = (files: string[], name: string) => files.find((f) => f.endsWith(`/${name.toLowerCase()}`)) ?? '';

function config(mapping: string): string {
  return `upstreams:\n  - name: a\n    url: ${a.serviceIndexUrl}\n  - name: b\n    url: ${b.serviceIndexUrl}\n${mapping}`;
}

test('changing the mapping never serves one upstream\'s bytes as another\'s', async () => {
  const cacheDir = await makeTempDir('multi-cache');
  const toB = await proxyWith('to-b', config('packageSourceMapping:\n  b: ["Contoso.*"]\n  a: ["*"]\n'), cacheDir);
  const first = Buffer.from(await (await fetch(`${toB.url}/v3/flatcontainer/contoso.core/1.0.0/contoso.core.1.0.0.nupkg`)).arrayBuffer());
  assert.equal(sha(first), sha(await readFile(fileOf(bFiles, 'Contoso.Core.1.0.0.nupkg'))));
  await toB.stop();

  // Same cache, Contoso.* now maps to a: the copy from b must not be served; a's replaces it.
  a.resetLog();
  const toA = await proxyWith('to-a', config('packageSourceMapping:\n  a: ["Contoso.*", "*"]\n'), cacheDir);
  const res = await fetch(`${toA.url}/v3/flatcontainer/contoso.core/1.0.0/contoso.core.1.0.0.nupkg`);
  const second = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(sha(second), sha(await readFile(fileOf(aFiles, 'Contoso.Core.1.0.0.nupkg'))), "a's bytes");
  assert.equal(a.count('/v3-flatcontainer/contoso.core/1.0.0/contoso.core.1.0.0.nupkg'), 1);
  assert.ok(toA.logs().some((l) => l['msg'] === 'replacing a cached package version that came from another upstream' && l['from'] === 'b' && l['to'] === 'a'));
  const nuspec = await (await fetch(`${toA.url}/v3/flatcontainer/contoso.core/1.0.0/contoso.core.nuspec`)).text();
  assert.match(nuspec, /from a/, 'the nuspec is the replacing upstream\'s too');
  // Offline with the old mapping, the (now a's) copy is not b's: nothing to serve for Contoso.Core.
  await toA.stop();
  const offline = await proxyWith('offline-b', `offline: true\n${config('packageSourceMapping:\n  b: ["Contoso.*"]\n  a: ["*"]\n')}`, cacheDir);
  assert.equal((await fetch(`${offline.url}/v3/flatcontainer/contoso.core/1.0.0/contoso.core.1.0.0.nupkg`)).status, 404);
  assert.equal((await fetch(`${offline.url}/v3/flatcontainer/contoso.core/index.json`)).status, 404);
});

test('without a mapping every upstream is asked, in order: the first that has a version serves it', async () => {
  const p = await proxyWith('no-mapping', config(''));
  const versions = ((await (await fetch(`${p.url}/v3/flatcontainer/big.lib/index.json`)).json()) as { versions: string[] }).versions;
  assert.equal(versions.length, 160);
  const dup = Buffer.from(await (await fetch(`${p.url}/v3/flatcontainer/big.lib/1.0.5/big.lib.1.0.5.nupkg`)).arrayBuffer());
  assert.equal(sha(dup), sha(await readFile(fileOf(aFiles, 'Big.Lib.1.0.5.nupkg'))), 'a is first');
  const onlyB = await fetch(`${p.url}/v3/flatcontainer/only.b/1.0.0/only.b.1.0.0.nupkg`);
  assert.equal(onlyB.status, 200);
});

test('merged registration keeps nuget.org paging: ≥ 128 versions in separate page documents', async () => {
  const p = await proxyWith('paging', config('packageSourceMapping:\n  a: ["*"]\n  b: ["*"]\n'));
  const index = (await (await fetch(`${p.url}/v3/registration/semver2/big.lib/index.json`)).json()) as {
    count: number;
    items: Array<{ '@id': string; lower: string; upper: string; count: number; items?: unknown[] }>;
  };
  assert.equal(index.count, 3);
  assert.deepEqual(index.items.map((i) => [i.lower, i.upper, i.count, i.items === undefined]), [
    ['1.0.0', '1.0.63', 64, true],
    ['1.0.64', '2.0.27', 64, true],
    ['2.0.28', '2.0.59', 32, true],
  ]);
  const last = index.items[2];
  const page = (await (await fetch(last?.['@id'] ?? '')).json()) as { items: Array<{ catalogEntry: { version: string; description: string }; packageContent: string }> };
  assert.equal(page.items.length, 32);
  assert.equal(page.items[31]?.catalogEntry.version, '2.0.59');
  assert.ok(page.items[31]?.packageContent.startsWith(`${p.url}/v3/flatcontainer/big.lib/2.0.59/`));
  const leaf = (await (await fetch(`${p.url}/v3/registration/semver2/big.lib/1.0.5.json`)).json()) as { packageContent: string; published: string };
  assert.ok(leaf.packageContent.endsWith('/big.lib.1.0.5.nupkg'));
  const leafItem = (await (await fetch(index.items[0]?.['@id'] ?? '')).json()) as { items: Array<{ catalogEntry: { version: string; description: string } }> };
  assert.equal(leafItem.items.find((l) => l.catalogEntry.version === '1.0.5')?.catalogEntry.description, 'a', 'the first upstream\'s leaf');
});

test('vulnerability data of every upstream in one index', async () => {
  const p = await proxyWith('vulns', config('packageSourceMapping:\n  a: ["*"]\n  b: ["Only.*"]\n'));
  const svc = (await (await fetch(`${p.url}/v3/index.json`)).json()) as { resources: Array<{ '@id': string; '@type': string }> };
  const vulnId = svc.resources.find((r) => r['@type'] === 'VulnerabilityInfo/6.7.0')?.['@id'];
  assert.equal(vulnId, `${p.url}/v3/vulnerabilities/index.json`);
  assert.ok(!svc.resources.some((r) => r['@type'].startsWith('RepositorySignatures')), 'no one upstream\'s signatures for all');
  assert.ok(svc.resources.some((r) => r['@type'] === 'RegistrationsBaseUrl/3.4.0' && r['@id'].endsWith('/v3/registration/gz-semver1/')));
  const index = (await (await fetch(vulnId ?? '')).json()) as Array<{ '@name': string; '@id': string }>;
  const names = index.map((i) => i['@name']);
  assert.equal(new Set(names).size, names.length, 'unique page names');
  const pages = await Promise.all(index.map(async (i) => (await (await fetch(i['@id'])).json()) as Record<string, unknown>));
  const ids = new Set(pages.flatMap((pg) => Object.keys(pg)));
  assert.ok(ids.has('big.lib') && ids.has('only.b'), [...ids].join(','));
});

test('an upstream that goes away degrades only its own ids', async () => {
  const p = await proxyWith('down', config('packageSourceMapping:\n  b: ["Only.*"]\n  a: ["*"]\n'));
  assert.equal((await fetch(`${p.url}/v3/flatcontainer/only.b/1.0.0/only.b.1.0.0.nupkg`)).status, 200);
  await b.stop();
  try {
    const held = await fetch(`${p.url}/v3/flatcontainer/only.b/index.json`);
    assert.equal(held.status, 200);
    assert.deepEqual(((await held.json()) as { versions: string[] }).versions, ['1.0.0']);
    assert.match(held.headers.get('x-nuget-warning') ?? '', /upstream b \(127\.0\.0\.1:\d+\) is unreachable.*listing only the versions this proxy holds/);
    const fromA = await fetch(`${p.url}/v3/flatcontainer/contoso.core/index.json`);
    assert.equal(fromA.status, 200);
    assert.equal(fromA.headers.get('x-nuget-warning'), null);
    const ready = (await (await fetch(`${p.url}/readyz`)).json()) as { status: string; upstreams: Record<string, { status: string }> };
    assert.equal(ready.upstreams['a']?.status, 'ok');
  } finally {
    await b.start();
  }
});

test('an id the mapping covers nowhere is not found, and no upstream is asked', async () => {
  const p = await proxyWith('unmapped', config('packageSourceMapping:\n  a: ["Contoso.*"]\n  b: ["Only.*"]\n'));
  a.resetLog();
  b.resetLog();
  const res = await fetch(`${p.url}/v3/flatcontainer/big.lib/index.json`);
  assert.equal(res.status, 404);
  assert.match(await res.text(), /matches no pattern of packageSourceMapping/);
  assert.equal((await fetch(`${p.url}/v3/registration/semver2/big.lib/index.json`)).status, 404);
  assert.equal((await fetch(`${p.url}/v3/flatcontainer/big.lib/1.0.0/big.lib.1.0.0.nupkg`)).status, 404);
  assert.equal(a.count(/big\.lib/) + b.count(/big\.lib/), 0);
});

test('mirror: what prefetch stores for an id and for the feeds, keyed per upstream; offline answers the same', async () => {
  const cacheDir = await makeTempDir('multi-mirror');
  const yaml = config('packageSourceMapping:\n  a: ["Big.*", "*"]\n  b: ["Big.*", "Only.*"]\n');
  const p = await proxyWith('mirror', yaml, cacheDir);
  const rc = { publicBase: p.url, https: false, log: p.proxy.log };
  const online = ((await (await fetch(`${p.url}/v3/flatcontainer/big.lib/index.json`)).json()) as { versions: string[] }).versions;
  assert.equal(online.length, 160);
  await (await fetch(`${p.url}/v3/flatcontainer/big.lib/2.0.59/big.lib.2.0.59.nupkg`)).arrayBuffer();
  await (await fetch(`${p.url}/v3/flatcontainer/big.lib/1.0.5/big.lib.1.0.5.nupkg`)).arrayBuffer();
  const id = await p.proxy.mirror.id('big.lib');
  assert.deepEqual(id.failures, []);
  for (const k of ['u:a:versions:big.lib', 'u:b:versions:big.lib', 'u:a:reg:semver2:big.lib/index.json', 'u:b:reg:semver2:big.lib/index.json', 'u:a:reg:semver1:big.lib/index.json']) {
    assert.ok(id.keys.includes(k), `${k} in ${id.keys.join(', ')}`);
  }
  const feedsResult = await p.proxy.mirror.feeds(rc);
  assert.deepEqual(feedsResult.failures, []);
  for (const k of ['u:a:svc:index', 'u:b:svc:index', 'u:a:vuln:index', 'u:b:vuln:index']) assert.ok(feedsResult.keys.includes(k), `${k} in ${feedsResult.keys.join(', ')}`);
  assert.ok(feedsResult.keys.some((k) => k.startsWith('u:b:vuln:page:')));
  await p.stop();

  const offline = await proxyWith('mirror-offline', `offline: true\n${yaml}`, cacheDir);
  const held = ((await (await fetch(`${offline.url}/v3/flatcontainer/big.lib/index.json`)).json()) as { versions: string[] }).versions;
  assert.deepEqual(held, ['1.0.5', '2.0.59']);
  const reg = (await (await fetch(`${offline.url}/v3/registration/semver2/big.lib/index.json`)).json()) as { items: Array<{ items: Array<{ catalogEntry: { description: string } }> }> };
  assert.deepEqual(reg.items[0]?.items.map((l) => l.catalogEntry.description), ['a', 'b'], "each version's leaf from the upstream it came from");
  const vulns = (await (await fetch(`${offline.url}/v3/vulnerabilities/index.json`)).json()) as unknown[];
  assert.equal(vulns.length, 4);
});

test('the web page lists every upstream and where a held version came from', async () => {
  const p = await proxyWith('web', config('packageSourceMapping:\n  b: ["Contoso.*"]\n  a: ["*"]\n'));
  await (await fetch(`${p.url}/v3/flatcontainer/contoso.core/1.0.0/contoso.core.1.0.0.nupkg`)).arrayBuffer();
  const status = await (await fetch(`${p.url}/`)).text();
  assert.match(status, /<strong>a<\/strong>/);
  assert.match(status, /<strong>b<\/strong>/);
  // The source marker is read in the background the first time; the second look shows it.
  await (await fetch(`${p.url}/packages/contoso.core`)).text();
  const page = await (await fetch(`${p.url}/packages/contoso.core`)).text();
  assert.match(page, /<dt>Upstream<\/dt><dd>b<\/dd>/, 'Contoso.Core came from b');
});
