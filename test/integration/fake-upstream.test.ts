// Proves the test bed is right: the generated packages are real nupkgs, and the fake upstream serves a
// nuget.org-shaped V3 feed (protocol digest §4–§10, §14) with working validators, faults and lifecycle.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readNupkgFile, readNupkgManifest } from '../../src/nupkg.ts';
import { realPackagePaths, startFakeUpstream, startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, packageFileName, standardTestPackages, tinyPng, writePackages, type PackageSpec } from '../helpers/packages.ts';
import { createSelfSignedCertificate } from '../helpers/tls.ts';

interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** False when the connection ended before the whole message arrived. */
  readonly complete: boolean;
}

/** A GET/HEAD through node:http without decompression and without connection reuse. */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; ca?: string; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false, ca: options.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => undefined); // a truncated body surfaces as `complete: false`
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function getJson(url: string, options: { ca?: string } = {}): Promise<Record<string, unknown>> {
  const r = await raw(url, options);
  assert.equal(r.status, 200, `GET ${url}`);
  const text = r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body).toString('utf8') : r.body.toString('utf8');
  return JSON.parse(text) as Record<string, unknown>;
}

function obj(value: unknown): Record<string, unknown> {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `expected an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function arr(value: unknown): unknown[] {
  assert.ok(Array.isArray(value), `expected an array, got ${JSON.stringify(value)}`);
  return value;
}

/** Every leaf of a registration index, fetching non-inlined pages. */
async function registrationLeaves(indexUrl: string): Promise<Array<Record<string, unknown>>> {
  const index = await getJson(indexUrl);
  const leaves: Array<Record<string, unknown>> = [];
  for (const page of arr(index['items']).map(obj)) {
    const items = page['items'] ?? (await getJson(String(page['@id'])))['items'];
    leaves.push(...arr(items).map(obj));
  }
  return leaves;
}

function entryOf(leaf: Record<string, unknown>): Record<string, unknown> {
  return obj(leaf['catalogEntry']);
}

const NEWTONSOFT = '/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';

describe('packages', () => {
  const spec: PackageSpec = {
    id: 'Contoso.Sample',
    version: '1.2.0-Beta.1+sha.abc',
    description: 'Sample & <test>',
    tags: 'one two',
    icon: true,
    readme: '# hello',
    dependencies: [{ targetFramework: '.NETStandard2.0', deps: [{ id: 'Contoso.Other', range: '[1.0.0, 2.0.0)' }] }, { deps: [] }],
    extraFiles: { 'content/data.bin': Buffer.from([1, 2, 3]) },
  };
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-upstream-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds the same bytes for the same spec and different bytes for another', () => {
    const a = buildPackage(spec);
    assert.deepEqual(buildPackage(spec), a);
    assert.notDeepEqual(buildPackage({ ...spec, version: '1.2.0' }), a);
  });

  it('writes a readable nupkg with the OPC parts, nuspec, lib marker, icon and readme', async () => {
    const path = join(dir, 'sample.nupkg');
    await writeFile(path, buildPackage(spec));
    const { nuspec, nuspecXml } = await readNupkgManifest(path);
    assert.equal(nuspec.id, 'Contoso.Sample');
    assert.equal(nuspec.fullVersion, '1.2.0-Beta.1+sha.abc');
    assert.equal(nuspec.description, 'Sample & <test>');
    assert.match(nuspecXml.toString('utf8'), /<package xmlns="http:\/\/schemas\.microsoft\.com\/packaging\/2013\/05\/nuspec\.xsd">/);
    assert.match(nuspecXml.toString('utf8'), /<version>1\.2\.0-Beta\.1\+sha\.abc<\/version>/);
    assert.deepEqual(nuspec.dependencyGroups[0], {
      targetFramework: '.NETStandard2.0',
      dependencies: [{ id: 'Contoso.Other', range: '[1.0.0, 2.0.0)' }],
    });
    assert.equal(nuspec.iconFile, 'icon.png');
    assert.equal(nuspec.readmeFile, 'README.md');
    const icon = await readNupkgFile(path, 'icon.png');
    assert.deepEqual(icon, tinyPng());
    assert.deepEqual(icon?.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    assert.equal((await readNupkgFile(path, 'README.md'))?.toString('utf8'), '# hello');
    assert.deepEqual(await readNupkgFile(path, 'lib/netstandard2.0/_._'), Buffer.alloc(0));
    assert.deepEqual(await readNupkgFile(path, 'content/data.bin'), Buffer.from([1, 2, 3]));
    const types = (await readNupkgFile(path, '[Content_Types].xml'))?.toString('utf8') ?? '';
    for (const ext of ['rels', 'psmdcp', 'nuspec', 'png', 'md', '_', 'bin']) assert.match(types, new RegExp(`Extension="${ext.replace('_', '\\_')}"`));
    const rels = (await readNupkgFile(path, '_rels/.rels'))?.toString('utf8') ?? '';
    const psmdcp = /Target="\/(package\/services\/metadata\/core-properties\/[0-9a-f]{32}\.psmdcp)"/.exec(rels)?.[1];
    assert.ok(psmdcp, rels);
    assert.match((await readNupkgFile(path, psmdcp))?.toString('utf8') ?? '', /<dc:identifier>Contoso\.Sample<\/dc:identifier>/);
    assert.match(rels, /Target="\/Contoso\.Sample\.nuspec"/);
  });

  it('names files {lowerid}.{lowerversion}.nupkg and refuses duplicates', async () => {
    assert.equal(packageFileName({ id: 'Contoso.FourPart', version: '2.0.0.0' }), 'contoso.fourpart.2.0.0.nupkg');
    assert.equal(packageFileName({ id: 'A.B', version: '3.0.0+build.7' }), 'a.b.3.0.0.nupkg');
    const paths = await writePackages(join(dir, 'w'), [spec]);
    assert.deepEqual(paths, [join(dir, 'w', 'contoso.sample.1.2.0-beta.1.nupkg')]);
    assert.deepEqual(await readFile(paths[0] ?? ''), buildPackage(spec));
    await assert.rejects(writePackages(join(dir, 'w2'), [spec, { ...spec, version: '1.2.0-beta.1' }]), /duplicate/);
  });

  it('the standard catalog has the cases the e2e tests rely on', () => {
    const specs = standardTestPackages();
    const versionsOf = (id: string): string[] => specs.filter((s) => s.id === id).map((s) => s.version);
    assert.deepEqual(versionsOf('Contoso.FourPart'), ['1.2.3.4', '2.0.0.0']);
    for (const v of ['1.0.0-beta', '1.0.0-Beta.2', '1.0.0-rc.10', '1.0.0-rc.2']) assert.ok(versionsOf('Contoso.Prerelease').includes(v), v);
    assert.ok(versionsOf('Contoso.BuildMetadata').includes('3.0.0+build.7'));
    assert.equal(versionsOf('Contoso.Paged').length, 140);
    assert.equal(versionsOf('Contoso.Paged').at(-1), '1.0.139');
    assert.deepEqual(versionsOf('Contoso.Vulnerable'), ['1.0.0', '2.0.0']);
    assert.ok(specs.some((s) => s.icon === true && s.readme !== undefined));
    assert.ok(specs.some((s) => s.dependencies?.some((g) => g.deps.some((d) => d.range === '[1.0.0, 2.0.0)'))));
  });
});

describe('fake upstream feed', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startStandardFakeUpstream();
  });
  after(async () => {
    await fake.stop();
  });
  afterEach(() => {
    fake.clearFaults();
    fake.setBlackhole(false, 'both');
  });

  describe('service index', () => {
    it('advertises nuget.org’s resource types on the right servers', async () => {
      const index = await getJson(fake.serviceIndexUrl);
      assert.equal(index['version'], '3.0.0');
      assert.deepEqual(obj(index['@context'])['@vocab'], 'http://schema.nuget.org/services#');
      const resources = arr(index['resources']).map(obj);
      const idsOf = (type: string): string[] => resources.filter((r) => r['@type'] === type).map((r) => String(r['@id']));
      const main = fake.url;
      const search = fake.searchUrl;
      assert.ok(!main.startsWith(search) && main !== search);
      const expected: Record<string, string[]> = {
        'PackageBaseAddress/3.0.0': [`${main}/v3-flatcontainer/`],
        RegistrationsBaseUrl: [`${main}/v3/registration5-semver1/`],
        'RegistrationsBaseUrl/3.0.0-beta': [`${main}/v3/registration5-semver1/`],
        'RegistrationsBaseUrl/3.0.0-rc': [`${main}/v3/registration5-semver1/`],
        'RegistrationsBaseUrl/3.4.0': [`${main}/v3/registration5-gz-semver1/`],
        'RegistrationsBaseUrl/3.6.0': [`${main}/v3/registration5-gz-semver2/`],
        'RegistrationsBaseUrl/Versioned': [`${main}/v3/registration5-gz-semver2/`],
        'SearchGalleryQueryService/3.0.0-rc': [`${search}/`, `${search}/b/`],
        'PackagePublish/2.0.0': [`${main}/api/v2/package`],
        'SymbolPackagePublish/4.9.0': [`${main}/api/v2/symbolpackage`],
        LegacyGallery: [`${main}/api/v2`],
        'LegacyGallery/2.0.0': [`${main}/api/v2`],
        'ReportAbuseUriTemplate/3.0.0-beta': [`${main}/packages/{id}/{version}/ReportAbuse`],
        'ReportAbuseUriTemplate/3.0.0-rc': [`${main}/packages/{id}/{version}/ReportAbuse`],
        'PackageDetailsUriTemplate/5.1.0': [`${main}/packages/{id}/{version}?_src=template`],
        'OwnerDetailsUriTemplate/6.11.0': [`${main}/profiles/{owner}?_src=template`],
        'PackageDisplayMetadataUriTemplate/3.0.0-rc': [`${main}/v3/registration5-semver1/{id-lower}/index.json`],
        'PackageVersionDisplayMetadataUriTemplate/3.0.0-rc': [`${main}/v3/registration5-semver1/{id-lower}/{version-lower}.json`],
        'Catalog/3.0.0': [`${main}/v3/catalog0/index.json`],
        'VulnerabilityInfo/6.7.0': [`${main}/v3/vulnerabilities/index.json`],
        'ReadmeUriTemplate/6.13.0': [`${main}/v3-flatcontainer/{lower_id}/{lower_version}/readme`],
        'RepositorySignatures/4.7.0': [],
        'RepositorySignatures/5.0.0': [],
      };
      for (const suffix of ['', '/3.0.0-beta', '/3.0.0-rc', '/3.5.0']) {
        expected[`SearchQueryService${suffix}`] = [`${search}/query`, `${search}/b/query`];
        expected[`SearchAutocompleteService${suffix}`] = [`${search}/autocomplete`, `${search}/b/autocomplete`];
      }
      for (const [type, ids] of Object.entries(expected)) assert.deepEqual(idsOf(type), ids, type);
      const versioned = resources.find((r) => r['@type'] === 'RegistrationsBaseUrl/Versioned');
      assert.equal(versioned?.['clientVersion'], '4.3.0-alpha');
      assert.ok(resources.every((r) => typeof r['comment'] === 'string' || String(r['@type']).startsWith('LegacyGallery') || r['@type'] === 'PackagePublish/2.0.0'));
    });

    it('does not serve repository signatures over http', async () => {
      assert.equal((await raw(`${fake.url}/v3-index/repository-signatures/5.0.0/index.json`)).status, 404);
    });
  });

  describe('flat container', () => {
    it('lists every version, normalized, lowercase, in NuGet order, unlisted included', async () => {
      assert.deepEqual(await getJson(`${fake.url}/v3-flatcontainer/newtonsoft.json/index.json`), { versions: ['13.0.3'] });
      const prerelease = await getJson(`${fake.url}/v3-flatcontainer/contoso.prerelease/index.json`);
      assert.deepEqual(prerelease['versions'], ['0.9.0', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-rc.2', '1.0.0-rc.10']);
      assert.deepEqual((await getJson(`${fake.url}/v3-flatcontainer/contoso.fourpart/index.json`))['versions'], ['1.2.3.4', '2.0.0']);
      assert.deepEqual((await getJson(`${fake.url}/v3-flatcontainer/contoso.buildmetadata/index.json`))['versions'], ['2.0.0', '3.0.0']);
      assert.deepEqual((await getJson(`${fake.url}/v3-flatcontainer/contoso.unlisted/index.json`))['versions'], ['1.0.0', '1.1.0', '2.0.0']);
      assert.deepEqual((await getJson(`${fake.url}/v3-flatcontainer/contoso.allunlisted/index.json`))['versions'], ['1.0.0']);
    });

    it('serves the exact nupkg bytes with nuget.org’s headers', async () => {
      const onDisk = await readFile(NEWTONSOFT);
      const r = await raw(`${fake.url}/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.headers['content-length'], String(onDisk.length));
      assert.ok(r.body.equals(onDisk));
      assert.equal(r.headers['x-ms-meta-sha512'], createHash('sha512').update(onDisk).digest('base64'));
      // The global-packages folder's .sha512 file was written by the real client from nuget.org's bytes.
      assert.equal(r.headers['x-ms-meta-sha512'], (await readFile(`${NEWTONSOFT}.sha512`, 'utf8')).trim());
      assert.ok(r.headers['etag']);
      assert.ok(r.headers['last-modified']);
    });

    it('serves nuspec, icon and readme from the package, 404 when absent', async () => {
      const nuspec = await raw(`${fake.url}/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.nuspec`);
      assert.equal(nuspec.status, 200);
      assert.equal(nuspec.headers['content-type'], 'text/xml');
      assert.match(nuspec.body.toString('utf8'), /<id>Newtonsoft\.Json<\/id>/);
      const icon = await raw(`${fake.url}/v3-flatcontainer/contoso.iconreadme/1.0.0/icon`);
      assert.equal(icon.status, 200);
      assert.equal(icon.headers['content-type'], 'image/png');
      assert.ok(icon.body.equals(tinyPng()));
      const readme = await raw(`${fake.url}/v3-flatcontainer/contoso.iconreadme/1.0.0/readme`);
      assert.equal(readme.status, 200);
      assert.match(readme.body.toString('utf8'), /^# Contoso\.IconReadme/);
      assert.equal((await raw(`${fake.url}/v3-flatcontainer/contoso.dependent/1.0.0/icon`)).status, 404);
      assert.equal((await raw(`${fake.url}/v3-flatcontainer/contoso.dependent/1.0.0/readme`)).status, 404);
      const realReadme = await raw(`${fake.url}/v3-flatcontainer/newtonsoft.json/13.0.3/readme`);
      assert.equal(realReadme.status, 200);
    });

    it('answers 404 with a BlobNotFound body for unknown or non-lowercase paths', async () => {
      for (const path of [
        '/v3-flatcontainer/no.such.package/index.json',
        '/v3-flatcontainer/Newtonsoft.Json/index.json',
        '/v3-flatcontainer/newtonsoft.json/13.0.3/Newtonsoft.Json.13.0.3.nupkg',
        '/v3-flatcontainer/newtonsoft.json/13.0.4/newtonsoft.json.13.0.4.nupkg',
        '/v3-flatcontainer/contoso.fourpart/2.0.0.0/contoso.fourpart.2.0.0.0.nupkg',
        '/nothing/here',
      ]) {
        const r = await raw(`${fake.url}${path}`);
        assert.equal(r.status, 404, path);
        assert.match(r.body.toString('utf8'), /<Code>BlobNotFound<\/Code>/);
      }
    });

    it('supports HEAD with the GET headers and no body', async () => {
      const url = `${fake.url}/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`;
      const get = await raw(url);
      const head = await raw(url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      for (const h of ['content-type', 'content-length', 'etag', 'x-ms-meta-sha512']) assert.equal(head.headers[h], get.headers[h], h);
      assert.equal((await raw(`${fake.url}/v3-flatcontainer/nope/index.json`, { method: 'HEAD' })).status, 404);
    });

    it('serves 50 concurrent downloads of one nupkg', async () => {
      const onDisk = await readFile(NEWTONSOFT);
      const url = `${fake.url}/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`;
      const results = await Promise.all(Array.from({ length: 50 }, () => raw(url)));
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(onDisk));
      }
    });
  });

  describe('registration', () => {
    const hive = (name: string, id: string): string => `${fake.url}/v3/${name}/${id}/index.json`;

    it('gz hives answer gzip even without Accept-Encoding; the legacy hive answers identity', async () => {
      for (const name of ['registration5-gz-semver1', 'registration5-gz-semver2']) {
        const r = await raw(hive(name, 'contoso.dependent'));
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-encoding'], 'gzip', name);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.deepEqual([...r.body.subarray(0, 2)], [0x1f, 0x8b]);
        assert.equal(r.headers['content-length'], String(r.body.length));
        assert.equal(JSON.parse(gunzipSync(r.body).toString('utf8'))['@id'], hive(name, 'contoso.dependent'));
      }
      const legacy = await raw(hive('registration5-semver1', 'contoso.dependent'), { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(legacy.headers['content-encoding'], undefined);
      assert.equal(obj(JSON.parse(legacy.body.toString('utf8')))['@id'], hive('registration5-semver1', 'contoso.dependent'));
    });

    it('SemVer1 hives hide SemVer2 versions and packages', async () => {
      const versions = async (name: string, id: string): Promise<string[]> =>
        (await registrationLeaves(hive(name, id))).map((l) => String(entryOf(l)['version']));
      for (const name of ['registration5-semver1', 'registration5-gz-semver1']) {
        assert.deepEqual(await versions(name, 'contoso.prerelease'), ['0.9.0', '1.0.0-beta'], name);
        assert.deepEqual(await versions(name, 'contoso.buildmetadata'), ['2.0.0'], name);
        assert.equal((await raw(hive(name, 'contoso.semver2dep'))).status, 404, name);
        assert.equal((await raw(`${fake.url}/v3/${name}/contoso.prerelease/1.0.0-rc.2.json`)).status, 404, name);
      }
      assert.deepEqual(await versions('registration5-gz-semver2', 'contoso.prerelease'), ['0.9.0', '1.0.0-beta', '1.0.0-Beta.2', '1.0.0-rc.2', '1.0.0-rc.10']);
      assert.deepEqual(await versions('registration5-gz-semver2', 'contoso.buildmetadata'), ['2.0.0', '3.0.0+build.7']);
      assert.deepEqual(await versions('registration5-gz-semver2', 'contoso.semver2dep'), ['1.0.0']);
    });

    it('pages 140 versions into 3 separate page documents with exact bounds', async () => {
      const indexUrl = hive('registration5-gz-semver2', 'contoso.paged');
      const index = await getJson(indexUrl);
      assert.equal(index['count'], 3);
      const pages = arr(index['items']).map(obj);
      const expected = [
        ['1.0.0', '1.0.63', 64],
        ['1.0.64', '1.0.127', 64],
        ['1.0.128', '1.0.139', 12],
      ] as const;
      for (const [i, [lower, upper, count]] of expected.entries()) {
        const page = pages[i] ?? {};
        assert.equal(page['items'], undefined, 'non-inlined pages carry no items');
        assert.equal(page['lower'], lower);
        assert.equal(page['upper'], upper);
        assert.equal(page['count'], count);
        assert.equal(page['@id'], `${fake.url}/v3/registration5-gz-semver2/contoso.paged/page/${lower}/${upper}.json`);
        const doc = await getJson(String(page['@id']));
        assert.equal(doc['@id'], page['@id']);
        assert.equal(doc['parent'], indexUrl);
        assert.equal(doc['lower'], lower);
        assert.equal(doc['upper'], upper);
        const items = arr(doc['items']).map(obj);
        assert.equal(items.length, count);
        assert.equal(entryOf(items[0] ?? {})['version'], lower);
        assert.equal(entryOf(items[items.length - 1] ?? {})['version'], upper);
      }
      assert.equal((await raw(`${fake.url}/v3/registration5-gz-semver2/contoso.paged/page/1.0.0/1.0.64.json`)).status, 404);
    });

    it('inlines 70 versions as two pages with #page fragments', async () => {
      const indexUrl = hive('registration5-semver1', 'contoso.twopages');
      const index = await getJson(indexUrl);
      assert.equal(index['count'], 2);
      const [first, second] = arr(index['items']).map(obj);
      assert.equal(first?.['@id'], `${indexUrl}#page/1.0.0/1.0.63`);
      assert.equal(first?.['parent'], indexUrl);
      assert.equal(arr(first?.['items']).length, 64);
      assert.equal(second?.['lower'], '1.0.64');
      assert.equal(second?.['upper'], '1.0.69');
      assert.equal(second?.['count'], 6);
      assert.equal(arr(second?.['items']).length, 6);
      assert.equal((await raw(`${fake.url}/v3/registration5-semver1/contoso.twopages/page/1.0.0/1.0.63.json`)).status, 404);
    });

    it('leaf items carry nuget.org’s catalogEntry fields', async () => {
      const base = `${fake.url}/v3/registration5-gz-semver2/`;
      const [leaf] = await registrationLeaves(hive('registration5-gz-semver2', 'contoso.dependent'));
      assert.ok(leaf);
      const flat = `${fake.url}/v3-flatcontainer/contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg`;
      assert.equal(leaf['@id'], `${base}contoso.dependent/1.0.0.json`);
      assert.equal(leaf['@type'], 'Package');
      assert.equal(leaf['packageContent'], flat);
      assert.equal(leaf['registration'], `${base}contoso.dependent/index.json`);
      assert.match(String(leaf['commitId']), /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(String(leaf['commitTimeStamp']))));
      const e = entryOf(leaf);
      assert.match(String(e['@id']), new RegExp(`^${fake.url}/v3/catalog0/data/\\d{4}(\\.\\d{2}){5}/contoso\\.dependent\\.1\\.0\\.0\\.json$`));
      assert.equal(e['@type'], 'PackageDetails');
      assert.equal(e['id'], 'Contoso.Dependent');
      assert.equal(e['version'], '1.0.0');
      assert.equal(e['authors'], 'Contoso');
      assert.equal(e['listed'], true);
      assert.equal(e['packageContent'], flat);
      assert.equal(e['iconUrl'], '');
      assert.deepEqual(e['tags'], ['']);
      for (const f of ['description', 'language', 'licenseExpression', 'licenseUrl', 'minClientVersion', 'projectUrl', 'summary', 'title']) {
        assert.equal(typeof e[f], 'string', f);
      }
      assert.equal(e['requireLicenseAcceptance'], false);
      const [group] = arr(e['dependencyGroups']).map(obj);
      assert.equal(group?.['targetFramework'], '.NETStandard2.0');
      assert.equal(group?.['@type'], 'PackageDependencyGroup');
      const [dep] = arr(group?.['dependencies']).map(obj);
      assert.deepEqual(
        { id: dep?.['id'], range: dep?.['range'], registration: dep?.['registration'], type: dep?.['@type'] },
        { id: 'Contoso.MixedCase.Lib', range: '[1.0.0, 2.0.0)', registration: `${base}contoso.mixedcase.lib/index.json`, type: 'PackageDependency' },
      );
      const legacyDep = obj(arr(obj(arr(entryOf((await registrationLeaves(hive('registration5-semver1', 'contoso.dependent')))[0] ?? {})['dependencyGroups'])[0])['dependencies'])[0]);
      assert.equal(legacyDep['registration'], `${fake.url}/v3/registration5-semver1/contoso.mixedcase.lib/index.json`);
    });

    it('keeps original case and build metadata in JSON, lowercase normalized in URLs', async () => {
      const leaves = await registrationLeaves(hive('registration5-gz-semver2', 'contoso.buildmetadata'));
      const leaf = leaves.find((l) => entryOf(l)['version'] === '3.0.0+build.7');
      assert.ok(leaf);
      assert.equal(leaf['@id'], `${fake.url}/v3/registration5-gz-semver2/contoso.buildmetadata/3.0.0.json`);
      const beta = (await registrationLeaves(hive('registration5-gz-semver2', 'contoso.prerelease'))).find((l) => entryOf(l)['version'] === '1.0.0-Beta.2');
      assert.ok(beta);
      assert.equal(beta['packageContent'], `${fake.url}/v3-flatcontainer/contoso.prerelease/1.0.0-beta.2/contoso.prerelease.1.0.0-beta.2.nupkg`);
      const mixed = (await registrationLeaves(hive('registration5-gz-semver2', 'contoso.mixedcase.lib')))[0] ?? {};
      assert.equal(entryOf(mixed)['id'], 'Contoso.MixedCase.Lib');
      assert.equal(entryOf(mixed)['licenseExpression'], 'MIT');
      assert.deepEqual(entryOf(mixed)['tags'], ['contoso', 'mixedcase', 'library']);
    });

    it('shows icon, vulnerabilities (severity as a string) and deprecation (SemVer2 hive only)', async () => {
      const icon = entryOf((await registrationLeaves(hive('registration5-gz-semver2', 'contoso.iconreadme')))[0] ?? {});
      assert.equal(icon['iconUrl'], `${fake.url}/v3-flatcontainer/contoso.iconreadme/1.0.0/icon`);
      const vulnerable = (await registrationLeaves(hive('registration5-gz-semver2', 'contoso.vulnerable'))).map(entryOf);
      assert.deepEqual(
        arr(vulnerable[0]?.['vulnerabilities']).map((v) => ({ advisoryUrl: obj(v)['advisoryUrl'], severity: obj(v)['severity'] })),
        [{ advisoryUrl: 'https://github.com/advisories/GHSA-test-0000-0001', severity: '2' }],
      );
      assert.equal(vulnerable[1]?.['vulnerabilities'], undefined);
      const deprecated = entryOf((await registrationLeaves(hive('registration5-gz-semver2', 'contoso.deprecated')))[0] ?? {});
      const deprecation = obj(deprecated['deprecation']);
      assert.deepEqual(deprecation['reasons'], ['Legacy']);
      assert.equal(obj(deprecation['alternatePackage'])['id'], 'Contoso.MixedCase.Lib');
      const legacy = entryOf((await registrationLeaves(hive('registration5-gz-semver1', 'contoso.deprecated')))[0] ?? {});
      assert.equal(legacy['deprecation'], undefined);
    });

    it('marks unlisted versions listed:false with the 1900 published date', async () => {
      const leaves = (await registrationLeaves(hive('registration5-gz-semver2', 'contoso.unlisted'))).map(entryOf);
      assert.deepEqual(
        leaves.map((e) => [e['version'], e['listed'], e['published'] === '1900-01-01T00:00:00+00:00']),
        [
          ['1.0.0', true, false],
          ['1.1.0', false, true],
          ['2.0.0', true, false],
        ],
      );
      const leafDoc = await getJson(`${fake.url}/v3/registration5-gz-semver2/contoso.unlisted/1.1.0.json`);
      assert.equal(leafDoc['listed'], false);
      assert.equal(leafDoc['published'], '1900-01-01T00:00:00+00:00');
      assert.equal(leafDoc['packageContent'], `${fake.url}/v3-flatcontainer/contoso.unlisted/1.1.0/contoso.unlisted.1.1.0.nupkg`);
      assert.equal(leafDoc['registration'], `${fake.url}/v3/registration5-gz-semver2/contoso.unlisted/index.json`);
      assert.match(String(leafDoc['catalogEntry']), /\/v3\/catalog0\/data\//);
    });

    it('404s unknown ids', async () => {
      assert.equal((await raw(hive('registration5-gz-semver2', 'no.such.package'))).status, 404);
    });
  });

  describe('search and autocomplete', () => {
    const query = (params: string, base = fake.searchUrl): Promise<Record<string, unknown>> => getJson(`${base}/query?${params}`);
    const ids = (r: Record<string, unknown>): string[] => arr(r['data']).map((d) => String(obj(d)['id']));
    const result = (r: Record<string, unknown>, id: string): Record<string, unknown> =>
      obj(arr(r['data']).find((d) => obj(d)['id'] === id));

    it('pages consistently, sorted by id, only packages with a listed version', async () => {
      const all = await query('q=contoso&take=100&semVerLevel=2.0.0&prerelease=true');
      const allIds = ids(all);
      assert.equal(all['totalHits'], allIds.length);
      assert.deepEqual(allIds, [...allIds].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
      assert.ok(!allIds.includes('Contoso.AllUnlisted'));
      assert.ok(allIds.includes('Contoso.Paged'));
      const pages: string[] = [];
      for (let skip = 0; skip < allIds.length; skip += 4) {
        const page = await query(`q=contoso&skip=${skip}&take=4&semVerLevel=2.0.0&prerelease=true`);
        assert.equal(page['totalHits'], allIds.length);
        pages.push(...ids(page));
      }
      assert.deepEqual(pages, allIds);
      const empty = await query('take=1000&semVerLevel=2.0.0');
      assert.ok(ids(empty).includes('Newtonsoft.Json'));
    });

    it('applies prerelease and semVerLevel to versions and to the latest version', async () => {
      assert.equal(result(await query('q=Contoso.Prerelease'), 'Contoso.Prerelease')['version'], '0.9.0');
      assert.equal(result(await query('q=Contoso.Prerelease&prerelease=true'), 'Contoso.Prerelease')['version'], '1.0.0-beta');
      const semver2 = result(await query('q=Contoso.Prerelease&prerelease=true&semVerLevel=2.0.0'), 'Contoso.Prerelease');
      assert.equal(semver2['version'], '1.0.0-rc.10');
      assert.deepEqual(
        arr(semver2['versions']).map((v) => obj(v)['version']),
        ['0.9.0', '1.0.0-beta', '1.0.0-Beta.2', '1.0.0-rc.2', '1.0.0-rc.10'],
      );
      assert.equal(result(await query('q=buildmetadata'), 'Contoso.BuildMetadata')['version'], '2.0.0');
      assert.equal(result(await query('q=buildmetadata&semVerLevel=2.0.0'), 'Contoso.BuildMetadata')['version'], '3.0.0+build.7');
      assert.ok(!ids(await query('q=semver2dep')).includes('Contoso.SemVer2Dep'));
      assert.ok(ids(await query('q=semver2dep&semVerLevel=2.0.0')).includes('Contoso.SemVer2Dep'));
    });

    it('has nuget.org’s result shape, with registration links into the matching hive', async () => {
      const r1 = await query('q=packageid:contoso.unlisted');
      assert.deepEqual(ids(r1), ['Contoso.Unlisted']);
      assert.deepEqual(obj(r1['@context']), { '@vocab': 'http://schema.nuget.org/schema#', '@base': `${fake.url}/v3/registration5-semver1/` });
      const u = result(r1, 'Contoso.Unlisted');
      assert.equal(u['@id'], `${fake.url}/v3/registration5-semver1/contoso.unlisted/index.json`);
      assert.equal(u['registration'], u['@id']);
      assert.equal(u['@type'], 'Package');
      assert.deepEqual(
        arr(u['versions']).map((v) => [obj(v)['version'], obj(v)['@id']]),
        [
          ['1.0.0', `${fake.url}/v3/registration5-semver1/contoso.unlisted/1.0.0.json`],
          ['2.0.0', `${fake.url}/v3/registration5-semver1/contoso.unlisted/2.0.0.json`],
        ],
      );
      assert.equal(u['totalDownloads'], arr(u['versions']).reduce((n: number, v) => n + Number(obj(v)['downloads']), 0));
      assert.deepEqual(u['packageTypes'], [{ name: 'Dependency' }]);
      assert.deepEqual(u['authors'], ['Contoso']);
      assert.equal(u['verified'], false);
      assert.deepEqual(u['vulnerabilities'], []);
      for (const f of ['description', 'summary', 'title', 'iconUrl', 'licenseUrl', 'projectUrl']) assert.equal(typeof u[f], 'string', f);
      const r2 = await query('q=packageid:Contoso.IconReadme&semVerLevel=2.0.0');
      const icon = result(r2, 'Contoso.IconReadme');
      assert.equal(icon['registration'], `${fake.url}/v3/registration5-gz-semver2/contoso.iconreadme/index.json`);
      assert.equal(icon['iconUrl'], `${fake.url}/v3-flatcontainer/contoso.iconreadme/1.0.0/icon`);
      const vulnerable = result(await query('q=packageid:Contoso.Vulnerable'), 'Contoso.Vulnerable');
      assert.equal(vulnerable['version'], '2.0.0');
    });

    it('filters by packageType, and /b/query answers like /query', async () => {
      assert.deepEqual(ids(await query('q=contoso&packageType=DotnetTool')), ['Contoso.Tool']);
      assert.deepEqual(await query('q=mixedcase', `${fake.searchUrl}/b`), await query('q=mixedcase'));
      fake.resetLog();
      await query('q=log-me');
      assert.equal(fake.count('/query', { server: 'search' }), 1);
      assert.equal(fake.count('/query?q=log-me'), 1);
      assert.equal(fake.count('/query', { server: 'main' }), 0);
    });

    it('autocompletes ids and versions (listed only)', async () => {
      const ac = await getJson(`${fake.searchUrl}/autocomplete?q=contoso.p&semVerLevel=2.0.0`);
      assert.deepEqual(ac['data'], ['Contoso.Paged', 'Contoso.Prerelease']);
      assert.equal(ac['totalHits'], 2);
      const all = await getJson(`${fake.searchUrl}/b/autocomplete?q=unlisted&prerelease=true&semVerLevel=2.0.0`);
      assert.deepEqual(all['data'], ['Contoso.Unlisted']);
      assert.deepEqual((await getJson(`${fake.searchUrl}/autocomplete?id=Contoso.Unlisted`))['data'], ['1.0.0', '2.0.0']);
      assert.deepEqual((await getJson(`${fake.searchUrl}/autocomplete?id=contoso.prerelease&prerelease=true`))['data'], ['0.9.0', '1.0.0-beta']);
      assert.deepEqual((await getJson(`${fake.searchUrl}/autocomplete?id=contoso.buildmetadata&semVerLevel=2.0.0`))['data'], ['2.0.0', '3.0.0+build.7']);
      assert.deepEqual((await getJson(`${fake.searchUrl}/autocomplete?id=no.such`))['data'], []);
    });
  });

  describe('vulnerabilities and catalog', () => {
    it('serves the vulnerability index and its base/update pages', async () => {
      const r = await raw(`${fake.url}/v3/vulnerabilities/index.json`);
      const index = arr(JSON.parse(r.body.toString('utf8')));
      assert.deepEqual(
        index.map((e) => [obj(e)['@name'], obj(e)['@id']]),
        [
          ['base', `${fake.url}/v3-vulnerabilities/2024.01.01.00.00.00/vulnerability.base.json`],
          ['update', `${fake.url}/v3-vulnerabilities/2024.01.01.00.00.00/2024.01.02.00.00.00/vulnerability.update.json`],
        ],
      );
      for (const e of index) assert.ok(!Number.isNaN(Date.parse(String(obj(e)['@updated']))));
      assert.deepEqual(await getJson(String(obj(index[0])['@id'])), {
        'contoso.vulnerable': [{ url: 'https://github.com/advisories/GHSA-test-0000-0001', severity: 2, versions: '(, 2.0.0)' }],
      });
      assert.deepEqual(await getJson(String(obj(index[1])['@id'])), {});
    });

    it('serves a catalog index, page and leaves with the package hash', async () => {
      const index = await getJson(`${fake.url}/v3/catalog0/index.json`);
      const [pageRef] = arr(index['items']).map(obj);
      const page = await getJson(String(pageRef?.['@id']));
      const items = arr(page['items']).map(obj);
      assert.equal(page['count'], items.length);
      assert.equal(pageRef?.['count'], items.length);
      const item = items.find((i) => i['nuget:id'] === 'Newtonsoft.Json');
      assert.ok(item);
      const leaf = await getJson(String(item['@id']));
      assert.equal(leaf['packageHash'], createHash('sha512').update(await readFile(NEWTONSOFT)).digest('base64'));
      assert.equal(leaf['packageHashAlgorithm'], 'SHA512');
    });
  });

  describe('validators', () => {
    it('answers 304 to a matching If-None-Match or If-Modified-Since, with no body', async () => {
      for (const path of [
        '/v3-flatcontainer/contoso.paged/index.json',
        '/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg',
        '/v3/registration5-gz-semver2/contoso.paged/index.json',
        '/v3/index.json',
      ]) {
        const first = await raw(`${fake.url}${path}`);
        const etag = String(first.headers['etag']);
        assert.match(etag, /^"[^"]+"$/);
        const byEtag = await raw(`${fake.url}${path}`, { headers: { 'if-none-match': etag } });
        assert.equal(byEtag.status, 304, path);
        assert.equal(byEtag.body.length, 0);
        assert.equal(byEtag.headers['etag'], etag);
        const byDate = await raw(`${fake.url}${path}`, { headers: { 'if-modified-since': String(first.headers['last-modified']) } });
        assert.equal(byDate.status, 304, path);
        const stale = await raw(`${fake.url}${path}`, { headers: { 'if-none-match': '"something-else"' } });
        assert.equal(stale.status, 200);
        assert.equal(stale.body.length, first.body.length);
      }
      const search = await raw(`${fake.searchUrl}/query?q=paged`);
      assert.equal((await raw(`${fake.searchUrl}/query?q=paged`, { headers: { 'if-none-match': String(search.headers['etag']) } })).status, 304);
    });
  });

  describe('faults', () => {
    const path = '/v3-flatcontainer/contoso.mixedcase.lib/index.json';

    it('status: answers the injected status for `times` requests, then normally', async () => {
      fake.addFault({ match: path, kind: 'status', status: 503, times: 2, headers: { 'retry-after': '1' } });
      const a = await raw(`${fake.url}${path}`);
      assert.equal(a.status, 503);
      assert.equal(a.headers['retry-after'], '1');
      assert.equal((await raw(`${fake.url}${path}`)).status, 503);
      assert.equal((await raw(`${fake.url}${path}`)).status, 200);
      fake.addFault({ match: /mixedcase/, kind: 'status', status: 429 });
      assert.equal((await raw(`${fake.url}${path}`)).status, 429);
      assert.equal((await raw(`${fake.url}${path}`)).status, 429);
      fake.clearFaults();
      assert.equal((await raw(`${fake.url}${path}`)).status, 200);
      assert.equal(fake.requests().filter((r) => r.fault === 'status').length >= 4, true);
    });

    it('delay: answers normally after the delay', async () => {
      fake.addFault({ match: path, kind: 'delay', ms: 300, times: 1 });
      const t0 = Date.now();
      const r = await raw(`${fake.url}${path}`);
      assert.ok(Date.now() - t0 >= 280, `took ${Date.now() - t0} ms`);
      assert.equal(r.status, 200);
      const t1 = Date.now();
      await raw(`${fake.url}${path}`);
      assert.ok(Date.now() - t1 < 280);
    });

    it('reset: the connection is reset without a response', async () => {
      fake.addFault({ match: path, kind: 'reset', times: 1 });
      await assert.rejects(raw(`${fake.url}${path}`), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || /socket hang up/.test(err.message));
      fake.addFault({ match: path, kind: 'reset', times: 1 });
      await assert.rejects(fetch(`${fake.url}${path}`), TypeError); // undici: "fetch failed", cause ECONNRESET
      assert.equal((await fetch(`${fake.url}${path}`)).status, 200);
    });

    it('truncate: full Content-Length, partial body, then the connection closes', async () => {
      const nupkg = '/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';
      const size = (await readFile(NEWTONSOFT)).length;
      fake.addFault({ match: nupkg, kind: 'truncate', bytes: 1000, times: 1 });
      const r = await raw(`${fake.url}${nupkg}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(size));
      assert.equal(r.complete, false);
      assert.equal(r.body.length, 1000);
      fake.addFault({ match: nupkg, kind: 'truncate', times: 1 });
      const half = await raw(`${fake.url}${nupkg}`);
      assert.equal(half.complete, false);
      assert.ok(half.body.length > 0 && half.body.length < size);
      const whole = await raw(`${fake.url}${nupkg}`);
      assert.equal(whole.complete, true);
      assert.equal(whole.body.length, size);
    });

    it('throttle: the whole body, dripped at the given rate', async () => {
      const nupkg = '/v3-flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';
      const bytes = await readFile(NEWTONSOFT);
      const bytesPerSecond = Math.ceil(bytes.length / 0.6);
      fake.addFault({ match: nupkg, kind: 'throttle', bytesPerSecond, times: 1 });
      const t0 = Date.now();
      const r = await raw(`${fake.url}${nupkg}`);
      assert.ok(Date.now() - t0 >= 500, `took ${Date.now() - t0} ms`);
      assert.equal(r.complete, true);
      assert.ok(r.body.equals(bytes));
    });

    it('hang: no answer at all until the client gives up', async () => {
      fake.addFault({ match: path, kind: 'hang', times: 1 });
      const t0 = Date.now();
      await assert.rejects(raw(`${fake.url}${path}`, { timeoutMs: 400 }), /timeout/);
      assert.ok(Date.now() - t0 >= 380);
      assert.equal((await raw(`${fake.url}${path}`)).status, 200);
    });

    it('faults can target one server', async () => {
      fake.addFault({ match: /.*/, kind: 'status', status: 500, server: 'search' });
      assert.equal((await raw(`${fake.searchUrl}/query?q=x`)).status, 500);
      assert.equal((await raw(`${fake.url}${path}`)).status, 200);
    });

    it('blackhole: connections are accepted but nothing is answered', async () => {
      fake.setBlackhole(true);
      await assert.rejects(raw(`${fake.url}/v3/index.json`, { timeoutMs: 300 }), /timeout/);
      assert.equal((await raw(`${fake.searchUrl}/query?q=x`)).status, 200, 'search server unaffected');
      fake.setBlackhole(false);
      assert.equal((await raw(`${fake.url}/v3/index.json`)).status, 200);
    });
  });

  describe('request log', () => {
    it('records method, path with query, headers and status on both servers', async () => {
      fake.resetLog();
      assert.equal(fake.requests().length, 0);
      await raw(`${fake.url}/v3/index.json`, { headers: { 'user-agent': 'NuGet Test/1.0', 'accept-encoding': 'gzip' } });
      await raw(`${fake.url}/v3/index.json`, { method: 'HEAD' });
      await raw(`${fake.searchUrl}/autocomplete?q=con`);
      const log = fake.requests();
      assert.equal(log.length, 3);
      assert.deepEqual(
        log.map((r) => [r.server, r.method, r.path, r.status]),
        [
          ['main', 'GET', '/v3/index.json', 200],
          ['main', 'HEAD', '/v3/index.json', 200],
          ['search', 'GET', '/autocomplete?q=con', 200],
        ],
      );
      assert.equal(log[0]?.headers['user-agent'], 'NuGet Test/1.0');
      assert.equal(log[0]?.headers['accept-encoding'], 'gzip');
      assert.equal(fake.count('/v3/index.json'), 2);
      assert.equal(fake.count('/v3/index.json', { method: 'HEAD' }), 1);
      assert.equal(fake.count('/autocomplete'), 1);
      assert.equal(fake.count('/autocomplete?q=con'), 1);
      assert.equal(fake.count('/autocomplete?q=co'), 0);
      assert.equal(fake.count(/^\/v3\//), 2);
      fake.resetLog();
      assert.equal(fake.count(/.*/), 0);
    });
  });
});

describe('fake upstream mutation and lifecycle', () => {
  const specs: PackageSpec[] = [
    { id: 'Contoso.Mutable', version: '1.0.0' },
    { id: 'Contoso.Mutable', version: '1.1.0' },
  ];
  let dir = '';
  let fake: FakeUpstream;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-upstream-mutation-'));
    fake = await startFakeUpstream({ packages: await writePackages(dir, specs) });
  });
  after(async () => {
    await fake.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a new upstream version appears in the flat index and registration, with new validators', async () => {
    const flatUrl = `${fake.url}/v3-flatcontainer/contoso.mutable/index.json`;
    const before1 = await raw(flatUrl);
    assert.deepEqual(JSON.parse(before1.body.toString('utf8')), { versions: ['1.0.0', '1.1.0'] });
    const [path] = await writePackages(join(dir, 'later'), [{ id: 'Contoso.Mutable', version: '2.0.0' }]);
    await fake.addPackage(path ?? '');
    const reval = await raw(flatUrl, { headers: { 'if-none-match': String(before1.headers['etag']) } });
    assert.equal(reval.status, 200);
    assert.deepEqual(JSON.parse(reval.body.toString('utf8')), { versions: ['1.0.0', '1.1.0', '2.0.0'] });
    assert.notEqual(reval.headers['etag'], before1.headers['etag']);
    assert.ok(Date.parse(String(reval.headers['last-modified'])) > Date.parse(String(before1.headers['last-modified'])));
    const byDate = await raw(flatUrl, { headers: { 'if-modified-since': String(before1.headers['last-modified']) } });
    assert.equal(byDate.status, 200, 'a changed document is newer than the old Last-Modified');
    const leaves = await registrationLeaves(`${fake.url}/v3/registration5-gz-semver2/contoso.mutable/index.json`);
    assert.deepEqual(leaves.map((l) => entryOf(l)['version']), ['1.0.0', '1.1.0', '2.0.0']);
    assert.equal(fake.removePackage('Contoso.Mutable', '2.0.0'), true);
    assert.deepEqual(JSON.parse((await raw(flatUrl)).body.toString('utf8')), { versions: ['1.0.0', '1.1.0'] });
  });

  it('unlisting changes registration and search but not the flat index', async () => {
    const regUrl = `${fake.url}/v3/registration5-gz-semver2/contoso.mutable/index.json`;
    const etag = String((await raw(regUrl)).headers['etag']);
    fake.setUnlisted('Contoso.Mutable', '1.1.0', true);
    try {
      const r = await raw(regUrl, { headers: { 'if-none-match': etag } });
      assert.equal(r.status, 200);
      const leaves = await registrationLeaves(regUrl);
      assert.equal(entryOf(leaves[1] ?? {})['listed'], false);
      const search = await getJson(`${fake.searchUrl}/query?q=mutable`);
      assert.equal(obj(arr(search['data'])[0])['version'], '1.0.0');
      assert.deepEqual((await getJson(`${fake.url}/v3-flatcontainer/contoso.mutable/index.json`))['versions'], ['1.0.0', '1.1.0']);
    } finally {
      fake.setUnlisted('Contoso.Mutable', '1.1.0', false);
    }
    assert.equal(entryOf((await registrationLeaves(regUrl))[1] ?? {})['listed'], true);
  });

  it('new vulnerability data is published under new page URLs; old pages stay readable', async () => {
    const indexUrl = `${fake.url}/v3/vulnerabilities/index.json`;
    const oldIndex = arr(JSON.parse((await raw(indexUrl)).body.toString('utf8')));
    const oldBase = String(obj(oldIndex[0])['@id']);
    assert.deepEqual(await getJson(oldBase), {});
    fake.setVulnerabilities({ 'Contoso.Mutable': [{ url: 'https://example.invalid/a', severity: 3, versions: '[1.0.0, 1.1.0)' }] });
    const newIndex = arr(JSON.parse((await raw(indexUrl)).body.toString('utf8')));
    const newBase = String(obj(newIndex[0])['@id']);
    assert.notEqual(newBase, oldBase);
    assert.deepEqual(await getJson(newBase), { 'contoso.mutable': [{ url: 'https://example.invalid/a', severity: 3, versions: '[1.0.0, 1.1.0)' }] });
    assert.deepEqual(await getJson(oldBase), {});
    const leaves = (await registrationLeaves(`${fake.url}/v3/registration5-gz-semver2/contoso.mutable/index.json`)).map(entryOf);
    assert.equal(obj(arr(leaves[0]?.['vulnerabilities'])[0])['severity'], '3');
    assert.equal(leaves[1]?.['vulnerabilities'], undefined);
  });

  it('stop() refuses connections (and drops hung ones); start() comes back on the same ports', async () => {
    const { url, searchUrl, port, searchPort } = fake;
    fake.addFault({ match: /.*/, kind: 'hang', times: 1 });
    const hung = raw(`${url}/v3/index.json`, { timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await fake.stop();
    await assert.rejects(hung, (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET' || /socket hang up/.test(err.message));
    await assert.rejects(raw(`${url}/v3/index.json`), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    await assert.rejects(raw(`${searchUrl}/query`), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    await fake.start();
    assert.equal(fake.port, port);
    assert.equal(fake.searchPort, searchPort);
    assert.equal((await raw(`${url}/v3/index.json`)).status, 200);
    assert.equal((await raw(`${searchUrl}/query?q=mutable`)).status, 200);
  });
});

describe('fake upstream over TLS', () => {
  let fake: FakeUpstream;
  let ca = '';
  before(async () => {
    const cert = createSelfSignedCertificate();
    ca = cert.cert;
    fake = await startFakeUpstream({ packages: (await realPackagePaths()).filter((p) => p.includes('newtonsoft')), tls: cert });
  });
  after(async () => {
    await fake.stop();
  });

  it('serves https on both servers and advertises https RepositorySignatures', async () => {
    assert.match(fake.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(fake.searchUrl, /^https:\/\//);
    const index = await getJson(fake.serviceIndexUrl, { ca });
    const resources = arr(index['resources']).map(obj);
    for (const version of ['4.7.0', '5.0.0']) {
      const entry = resources.find((r) => r['@type'] === `RepositorySignatures/${version}`);
      assert.equal(entry?.['@id'], `${fake.url}/v3-index/repository-signatures/${version}/index.json`);
      assert.deepEqual(await getJson(String(entry?.['@id']), { ca }), { allRepositorySigned: false, signingCertificates: [] });
    }
    assert.ok(resources.every((r) => String(r['@id']).startsWith('https://')));
    const search = await getJson(`${fake.searchUrl}/query?q=newtonsoft`, { ca });
    assert.equal(obj(arr(search['data'])[0])['id'], 'Newtonsoft.Json');
  });
});
