// The supply-chain policy with the real dotnet client and a fake feed whose packages have publish dates
// and advisories: a floating version skips versions younger than the minimum release age, a pinned young
// version is refused with the reason printed by `dotnet restore`, a version with a high-severity advisory is
// refused (and NuGetAudit still reports a moderate one that is allowed), hidden versions are absent from
// version lists, registration and search with `published` preserved, and every decision is a log line and a
// metric labelled by rule.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, restoredPackageHashes } from '../helpers/clients.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { writePackages, type PackageSpec } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

const PACKAGES: PackageSpec[] = [
  { id: 'Young.Lib', version: '1.0.0', description: 'Old enough.' },
  { id: 'Young.Lib', version: '1.1.0', description: 'Old enough, newest such.' },
  { id: 'Young.Lib', version: '1.2.0', description: 'Published an hour ago.' },
  { id: 'Vuln.Lib', version: '1.0.0', description: 'High-severity advisory.' },
  { id: 'Vuln.Lib', version: '1.1.0', description: 'Moderate advisory.' },
  { id: 'Evil.Package', version: '1.0.0', description: 'Denied.' },
];

const PUBLISHED = [
  { id: 'Young.Lib', version: '1.0.0', published: ago(30 * DAY) },
  { id: 'Young.Lib', version: '1.1.0', published: ago(20 * DAY) },
  { id: 'Young.Lib', version: '1.2.0', published: ago(DAY / 24) },
];

const HIGH = 'https://advisories.example.test/vuln-lib-high';
const MODERATE = 'https://advisories.example.test/vuln-lib-moderate';

let upstream: FakeUpstream;
let proxy: TestProxy;
let workDir: string;

before(async () => {
  workDir = await makeTempDir('policy');
  upstream = await startFakeUpstream({
    packages: await writePackages(join(workDir, 'packages'), PACKAGES),
    published: PUBLISHED,
    vulnerabilities: {
      'vuln.lib': [
        { url: HIGH, severity: 2, versions: '(, 1.1.0)' },
        { url: MODERATE, severity: 1, versions: '[1.1.0, 1.2.0)' },
      ],
    },
  });
  const config = join(workDir, 'nuget-proxy.yaml');
  await writeFile(
    config,
    `upstream: ${upstream.serviceIndexUrl}
policy:
  minReleaseAge: 7d
  youngPinned: refuse
  vulnerabilities: { minSeverity: high, action: refuse }
  deny: ["Evil.*"]
`,
  );
  proxy = await startProxy({ NUGET_PROXY_CONFIG: config });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

async function restore(name: string, packages: Array<{ id: string; version: string }>) {
  const dir = await makeProject(join(workDir, name), { packages }, { url: `${proxy.url}/v3/index.json` });
  const state = await freshClientState();
  const result = await dotnet(['restore'], dir, state);
  return { result, output: result.stdout + result.stderr, hashes: await restoredPackageHashes(state.packages) };
}

test('hidden versions are absent from the version list, registration and search; published is preserved', async () => {
  const res = await fetch(`${proxy.url}/v3/flatcontainer/young.lib/index.json`);
  assert.deepEqual(((await res.json()) as { versions: string[] }).versions, ['1.0.0', '1.1.0']);
  assert.match(res.headers.get('x-nuget-warning') ?? '', /policy hid 1 version\(s\) of young\.lib: young\.lib 1\.2\.0 was published [\d.]+ h ago; policy requires 7 d \(min release age\)/);

  const reg = (await (await fetch(`${proxy.url}/v3/registration/semver2/young.lib/index.json`)).json()) as {
    items: Array<{ lower: string; upper: string; count: number; items: Array<{ catalogEntry: { version: string; published: string } }> }>;
  };
  assert.deepEqual(reg.items.map((p) => [p.lower, p.upper, p.count]), [['1.0.0', '1.1.0', 2]]);
  const leaves = reg.items[0]?.items ?? [];
  assert.deepEqual(leaves.map((l) => l.catalogEntry.version), ['1.0.0', '1.1.0']);
  assert.equal(Date.parse(leaves[1]?.catalogEntry.published ?? ''), Date.parse(PUBLISHED[1]?.published ?? ''), 'published as upstream says');
  assert.equal((await fetch(`${proxy.url}/v3/registration/semver2/young.lib/1.2.0.json`)).status, 404);

  const search = (await (await fetch(`${proxy.url}/v3/search/query?q=young&semVerLevel=2.0.0`)).json()) as { data: Array<{ id: string; version: string; versions: Array<{ version: string }> }> };
  const hit = search.data.find((d) => d.id === 'Young.Lib');
  assert.equal(hit?.version, '1.1.0');
  assert.deepEqual(hit?.versions.map((v) => v.version), ['1.0.0', '1.1.0']);

  const evil = await fetch(`${proxy.url}/v3/flatcontainer/evil.package/index.json`);
  assert.deepEqual(((await evil.json()) as { versions: string[] }).versions, []);
  assert.match(evil.headers.get('x-nuget-warning') ?? '', /evil\.package 1\.0\.0 is denied by policy \(deny: Evil\.\*\)/);
});

test('a floating version resolves to the newest old-enough version', async () => {
  const r = await restore('floating', [{ id: 'Young.Lib', version: '1.*' }]);
  assert.equal(r.result.code, 0, r.output);
  assert.deepEqual([...r.hashes.keys()], ['young.lib/1.1.0']);
});

/** The lines of restore output that carry the proxy's reason (shown in the test report). */
function reasonLines(output: string): string {
  const lines = output.split('\n').map((l) => l.trim());
  const reason = lines.find((l) => /nuget-proxy policy/.test(l));
  const error = lines.find((l) => /: error /.test(l));
  return [reason, error].filter((l): l is string => l !== undefined).join('\n');
}

test('a pinned young version is refused and dotnet restore prints why', async (t) => {
  const r = await restore('pinned-young', [{ id: 'Young.Lib', version: '[1.2.0]' }]);
  assert.notEqual(r.result.code, 0, r.output);
  t.diagnostic(`dotnet restore printed:\n${reasonLines(r.output)}`);
  assert.match(r.output, /young\.lib 1\.2\.0 was published [\d.]+ h ago; policy requires 7 d \(min release age\)/);
  // A client that asks for the file anyway gets a 403 with the same one-line reason.
  const res = await fetch(`${proxy.url}/v3/flatcontainer/young.lib/1.2.0/young.lib.1.2.0.nupkg`);
  assert.equal(res.status, 403);
  assert.match(await res.text(), /^nuget-proxy policy: young\.lib 1\.2\.0 was published [\d.]+ h ago; policy requires 7 d \(min release age\)\n$/);
  assert.match(res.headers.get('x-nuget-warning') ?? '', /min release age/);
  assert.equal(upstream.count('/v3-flatcontainer/young.lib/1.2.0/young.lib.1.2.0.nupkg'), 0, 'a refused version is never fetched');
});

test('a version with a high-severity advisory is refused; NuGetAudit still reports the allowed moderate one', async (t) => {
  const refused = await restore('vulnerable-high', [{ id: 'Vuln.Lib', version: '1.0.0' }]);
  assert.notEqual(refused.result.code, 0, refused.output);
  t.diagnostic(`dotnet restore printed:\n${reasonLines(refused.output)}`);
  assert.match(refused.output, new RegExp(`vuln\\.lib 1\\.0\\.0 has a high-severity advisory \\(${HIGH.replace(/\./g, '\\.')}\\); policy refuses high and above`));
  assert.match(refused.output, /403/);

  const allowed = await restore('vulnerable-moderate', [{ id: 'Vuln.Lib', version: '1.1.0' }]);
  assert.equal(allowed.result.code, 0, allowed.output);
  assert.deepEqual([...allowed.hashes.keys()], ['vuln.lib/1.1.0']);
  assert.match(allowed.output, /NU1902/, 'NuGetAudit reports the moderate advisory');
  assert.match(allowed.output, new RegExp(MODERATE.replace(/\./g, '\\.')));
});

test('every decision is a log line and a metric labelled by rule, never by package id', async () => {
  const decisions = proxy.logs().filter((l) => l['msg'] === 'policy decision');
  const rules = new Set(decisions.map((l) => `${String(l['rule'])}/${String(l['action'])}`));
  for (const r of ['min_release_age/hide', 'min_release_age/refuse', 'vulnerability/refuse', 'deny/hide']) assert.ok(rules.has(r), `${r} in ${[...rules].join(', ')}`);
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(metrics, /nuget_proxy_policy_decisions_total\{rule="min_release_age",action="hide"\} [1-9]/);
  assert.match(metrics, /nuget_proxy_policy_decisions_total\{rule="min_release_age",action="refuse"\} [1-9]/);
  assert.match(metrics, /nuget_proxy_policy_decisions_total\{rule="vulnerability",action="refuse"\} [1-9]/);
  for (const line of metrics.split('\n').filter((l) => l.startsWith('nuget_proxy_policy'))) assert.doesNotMatch(line, /young|vuln\.lib|evil/i);
});
