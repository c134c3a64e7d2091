// Real `dotnet` over https through the proxy: restore with NuGetAudit (vulnerability data mirrored by the
// proxy, NU1903 for a vulnerable package, RepositorySignatures mirrored), `dotnet add package` without a
// version (registration), `dotnet package search`. The upstream is https too, trusted via --upstream-ca-file.
// Clients never reach upstream: every request in the fake's log comes from the proxy.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dotnet, freshClientState, makeProject, restoredPackageHashes, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { createSelfSignedCertificate } from '../helpers/tls.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;
let workDir: string;
let feed: string;
let proxyCa: string;

before(async () => {
  workDir = await makeTempDir('https');
  const upstreamCert = createSelfSignedCertificate('fake-upstream');
  const proxyCert = createSelfSignedCertificate('nuget-proxy');
  await writeFile(join(workDir, 'upstream-ca.pem'), upstreamCert.cert);
  await writeFile(join(workDir, 'proxy.pem'), proxyCert.cert);
  await writeFile(join(workDir, 'proxy.key'), proxyCert.key);
  proxyCa = proxyCert.cert;
  upstream = await startStandardFakeUpstream({ tls: upstreamCert });
  proxy = await startProxy({
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_UPSTREAM_CA_FILE: join(workDir, 'upstream-ca.pem'),
    NUGET_PROXY_TLS_CERT: join(workDir, 'proxy.pem'),
    NUGET_PROXY_TLS_KEY: join(workDir, 'proxy.key'),
  });
  feed = `${proxy.url.replace('127.0.0.1', 'localhost')}/v3/index.json`;
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

function clientRequestsToUpstream(): string[] {
  return upstream
    .requests()
    .filter((r) => !String(r.headers['user-agent'] ?? '').startsWith('nuget-proxy/'))
    .map((r) => `${r.path} (${String(r.headers['user-agent'])})`);
}

function httpsGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: proxyCa }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('the https service index lists only https resources, RepositorySignatures included', async () => {
  const index = JSON.parse(await httpsGet(`${proxy.url}/v3/index.json`)) as { resources: Array<{ '@id': string; '@type': string }> };
  assert.ok(index.resources.length > 10);
  for (const r of index.resources) assert.ok(r['@id'].startsWith('https://'), `${r['@type']} ${r['@id']}`);
  const sig = index.resources.find((r) => r['@type'] === 'RepositorySignatures/5.0.0');
  assert.ok(sig && sig['@id'].startsWith(proxy.url), 'signatures served by the proxy');
  const sigDoc = JSON.parse(await httpsGet(sig['@id'])) as { allRepositorySigned: boolean };
  assert.equal(sigDoc.allRepositorySigned, false);
  const state = await freshClientState();
  const dir = await makeProject(join(workDir, 'index'), { packages: [{ id: 'Newtonsoft.Json', version: '13.0.3' }] }, { url: feed, https: true });
  const r = await dotnet(['restore'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(upstream.count('/v3-index/repository-signatures/5.0.0/index.json') >= 1, 'signatures mirrored from upstream');
});

test('dotnet restore over https with NuGetAudit: vulnerability data via the proxy, NU1903 for the vulnerable package', async () => {
  upstream.resetLog();
  const dir = await makeProject(
    join(workDir, 'audit'),
    { packages: [{ id: 'Contoso.Vulnerable', version: '1.0.0' }, { id: 'Newtonsoft.Json', version: '13.0.3' }], properties: { NuGetAudit: 'true', NuGetAuditMode: 'all' } },
    { url: feed, https: true },
  );
  const state = await freshClientState();
  const r = await dotnet(['restore'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /warning NU1903: Package 'Contoso\.Vulnerable' 1\.0\.0 has a known high severity vulnerability/);
  assert.doesNotMatch(r.stdout, /NU1900/);
  const hashes = await restoredPackageHashes(state.packages);
  assert.equal(hashes.get('newtonsoft.json/13.0.3'), await sha512File('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg'));
  assert.deepEqual(clientRequestsToUpstream(), []);
});

test('dotnet add package without a version picks the latest listed version via the proxy', async () => {
  upstream.resetLog();
  const dir = await makeProject(join(workDir, 'add'), { packages: [] }, { url: feed, https: true });
  const state = await freshClientState();
  const r = await dotnet(['add', 'package', 'Contoso.Unlisted'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const csproj = await readFile(join(dir, 'app.csproj'), 'utf8');
  assert.match(csproj, /<PackageReference Include="Contoso.Unlisted" Version="2.0.0" \/>/);
  assert.ok(upstream.count(/registration5-gz-semver2\/contoso\.unlisted\/index\.json/) >= 1, 'registration read through the proxy');
  assert.deepEqual(clientRequestsToUpstream(), []);
});

test('dotnet package search through the proxy', async () => {
  upstream.resetLog();
  const dir = await makeProject(join(workDir, 'search'), { packages: [] }, { url: feed, https: true });
  const state = await freshClientState();
  const r = await dotnet(['package', 'search', 'contoso.mixedcase', '--format', 'json'], dir, state, 120_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Contoso\.MixedCase\.Lib/);
  assert.ok(upstream.count(/\/query\?/, { server: 'search' }) >= 1, 'search forwarded to upstream search');
  assert.deepEqual(clientRequestsToUpstream(), []);
});
