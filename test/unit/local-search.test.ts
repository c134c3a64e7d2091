// Tests for search and autocomplete over held packages (src/nuget/local-search.ts). Packages are built from small
// nuspec documents through parseNuspec. Response shapes and parameters: docs/api/search-query-service-resource.md
// and search-autocomplete-service-resource.md (protocol digest §7, §8).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toLowerInvariant, toLowerVersion } from '../../src/nuget/identity.ts';
import { autocomplete, parseSearchParams, searchPackages, type LocalPackage, type SearchParams } from '../../src/nuget/local-search.ts';
import { parseNuspec } from '../../src/nuget/nuspec.ts';

interface Spec {
  readonly id: string;
  readonly versions: readonly string[];
  readonly description?: string;
  readonly tags?: string;
  readonly authors?: string;
  readonly title?: string;
  readonly packageType?: string;
  readonly icon?: boolean;
}

function pkg(spec: Spec): LocalPackage {
  const versions = spec.versions.map((version) => {
    const nuspec = parseNuspec(`<?xml version="1.0"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${spec.id}</id>
    <version>${version}</version>
    <title>${spec.title ?? ''}</title>
    <authors>${spec.authors ?? 'Contoso'}</authors>
    <owners>contoso, fabrikam</owners>
    <description>${spec.description ?? `${spec.id} library`}</description>
    <tags>${spec.tags ?? ''}</tags>
    ${spec.icon ? '<icon>icon.png</icon>' : ''}
    ${spec.packageType ? `<packageTypes><packageType name="${spec.packageType}" /></packageTypes>` : ''}
  </metadata>
</package>`);
    return { lowerVersion: toLowerVersion(nuspec.version), version: nuspec.version, nuspec };
  });
  return { lowerId: toLowerInvariant(spec.id), versions };
}

const PACKAGES: readonly LocalPackage[] = [
  pkg({ id: 'Newtonsoft.Json', versions: ['12.0.3', '13.0.1', '13.0.3'], description: 'Json.NET is a popular high-performance JSON framework for .NET', tags: 'json', authors: 'James Newton-King', title: 'Json.NET', icon: true }),
  pkg({ id: 'Newtonsoft.Json.Bson', versions: ['1.0.2'], description: 'Json.NET BSON adds support for reading and writing BSON', tags: 'json bson', authors: 'James Newton-King' }),
  pkg({ id: 'xunit', versions: ['2.9.2', '2.9.3', '3.0.0-pre.15'], description: 'xUnit.net is a developer testing framework', tags: 'test unit', authors: 'jnewkirk,bradwilson' }),
  pkg({ id: 'Preview.Only', versions: ['0.1.0-alpha', '0.2.0-beta'], description: 'only prereleases' }),
  pkg({ id: 'SemVer2.Only', versions: ['1.0.0+build.5', '1.1.0-rc.1'], description: 'only SemVer 2.0.0 versions' }),
  pkg({ id: 'dotnet-format', versions: ['5.1.250801'], description: 'a tool', packageType: 'DotnetTool' }),
  pkg({ id: 'JSON', versions: ['1.0.0'], description: 'exact id match for the query json' }),
];

const URLS = { regBase: 'https://p.example/v3/registration/semver2/', flatBase: 'https://p.example/v3/flatcontainer/' };

function params(overrides: Partial<SearchParams> = {}): SearchParams {
  return { q: '', skip: 0, take: 20, prerelease: true, semVer2: true, packageType: '', ...overrides };
}

type Result = { id: string; version: string; versions: Array<{ version: string; '@id': string; downloads: number }> } & Record<string, unknown>;

function search(p: Partial<SearchParams>): { totalHits: number; data: Result[]; raw: Record<string, unknown> } {
  const raw = searchPackages(PACKAGES, params(p), URLS);
  return { totalHits: raw['totalHits'] as number, data: raw['data'] as Result[], raw };
}

describe('parseSearchParams', () => {
  const table: Array<[string, Partial<SearchParams>]> = [
    ['', { q: '', skip: 0, take: 20, prerelease: false, semVer2: false, packageType: '' }],
    ['q=%20json%20&skip=25&take=26&prerelease=true&semVerLevel=2.0.0', { q: 'json', skip: 25, take: 26, prerelease: true, semVer2: true }],
    ['prerelease=TRUE', { prerelease: true }],
    ['prerelease=false', { prerelease: false }],
    ['prerelease=1', { prerelease: false }],
    ['semVerLevel=1.0.0', { semVer2: false }],
    ['take=5000', { take: 1000 }],
    ['take=-1&skip=abc', { take: 20, skip: 0 }],
    ['take=0', { take: 0 }],
    ['packageType=DotnetTool', { packageType: 'dotnettool' }],
  ];
  for (const [query, expected] of table) {
    it(`?${query} → ${JSON.stringify(expected)}`, () => {
      const parsed = parseSearchParams(new URLSearchParams(query));
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(parsed[key as keyof SearchParams], value, key);
      }
    });
  }
});

describe('searchPackages', () => {
  it('returns every package with a visible version, exact id match first, then by id', () => {
    const r = search({ q: 'json' });
    assert.deepEqual(
      r.data.map((d) => d.id),
      ['JSON', 'Newtonsoft.Json', 'Newtonsoft.Json.Bson'],
    );
    assert.equal(r.totalHits, 3);
  });

  it('matches every term against id, title, description, tags and authors', () => {
    assert.deepEqual(search({ q: 'newton-king bson' }).data.map((d) => d.id), ['Newtonsoft.Json.Bson']);
    assert.deepEqual(search({ q: 'testing' }).data.map((d) => d.id), ['xunit']);
    assert.deepEqual(search({ q: 'no-such-term' }).data, []);
  });

  it('supports field filters', () => {
    assert.deepEqual(search({ q: 'packageid:newtonsoft.json' }).data.map((d) => d.id), ['Newtonsoft.Json']);
    assert.deepEqual(search({ q: 'PackageId:Newtonsoft.Json' }).data.map((d) => d.id), ['Newtonsoft.Json']);
    assert.deepEqual(search({ q: 'id:newtonsoft' }).data.map((d) => d.id), ['Newtonsoft.Json', 'Newtonsoft.Json.Bson']);
    assert.deepEqual(search({ q: 'tags:bson' }).data.map((d) => d.id), ['Newtonsoft.Json.Bson']);
    assert.deepEqual(search({ q: 'author:bradwilson' }).data.map((d) => d.id), ['xunit']);
  });

  it('hides prereleases unless prerelease=true, and packages that only have prereleases', () => {
    const stable = search({ prerelease: false });
    assert.ok(!stable.data.some((d) => d.id === 'Preview.Only'));
    const xunit = stable.data.find((d) => d.id === 'xunit');
    assert.equal(xunit?.version, '2.9.3');
    assert.deepEqual(xunit?.versions.map((v) => v.version), ['2.9.2', '2.9.3']);
    const all = search({ prerelease: true });
    assert.equal(all.data.find((d) => d.id === 'xunit')?.version, '3.0.0-pre.15');
    assert.ok(all.data.some((d) => d.id === 'Preview.Only'));
  });

  it('hides SemVer 2.0.0 versions unless semVerLevel=2.0.0', () => {
    const semver1 = search({ semVer2: false, prerelease: true });
    assert.ok(!semver1.data.some((d) => d.id === 'SemVer2.Only'));
    assert.deepEqual(semver1.data.find((d) => d.id === 'xunit')?.versions.map((v) => v.version), ['2.9.2', '2.9.3']);
    const semver2 = search({ semVer2: true, prerelease: true });
    assert.deepEqual(semver2.data.find((d) => d.id === 'SemVer2.Only')?.versions.map((v) => v.version), ['1.0.0+build.5', '1.1.0-rc.1']);
  });

  it('filters by package type (packages without one are Dependency)', () => {
    assert.deepEqual(search({ packageType: 'dotnettool' }).data.map((d) => d.id), ['dotnet-format']);
    const deps = search({ packageType: 'dependency' }).data.map((d) => d.id);
    assert.ok(deps.includes('Newtonsoft.Json'));
    assert.ok(!deps.includes('dotnet-format'));
  });

  it('pages with skip and take while totalHits counts every hit', () => {
    const all = search({}).data.map((d) => d.id);
    const page = search({ skip: 2, take: 2 });
    assert.equal(page.totalHits, all.length);
    assert.deepEqual(page.data.map((d) => d.id), all.slice(2, 4));
    assert.deepEqual(search({ skip: 100 }).data, []);
  });

  it('answers in nuget.org shape with registration and leaf URLs', () => {
    const r = search({ q: 'packageid:newtonsoft.json' });
    assert.deepEqual(r.raw['@context'], { '@vocab': 'http://schema.nuget.org/schema#', '@base': URLS.regBase });
    const [hit] = r.data;
    assert.ok(hit);
    assert.equal(hit['@id'], `${URLS.regBase}newtonsoft.json/index.json`);
    assert.equal(hit['registration'], `${URLS.regBase}newtonsoft.json/index.json`);
    assert.equal(hit['@type'], 'Package');
    assert.equal(hit.version, '13.0.3');
    assert.equal(hit['title'], 'Json.NET');
    assert.equal(hit['iconUrl'], `${URLS.flatBase}newtonsoft.json/13.0.3/icon`);
    assert.deepEqual(hit['tags'], ['json']);
    assert.deepEqual(hit['authors'], ['James Newton-King']);
    assert.deepEqual(hit['owners'], ['contoso', 'fabrikam']);
    assert.deepEqual(hit['packageTypes'], [{ name: 'Dependency' }]);
    assert.deepEqual(hit['vulnerabilities'], []);
    assert.deepEqual(hit.versions, [
      { version: '12.0.3', downloads: 0, '@id': `${URLS.regBase}newtonsoft.json/12.0.3.json` },
      { version: '13.0.1', downloads: 0, '@id': `${URLS.regBase}newtonsoft.json/13.0.1.json` },
      { version: '13.0.3', downloads: 0, '@id': `${URLS.regBase}newtonsoft.json/13.0.3.json` },
    ]);
    assert.equal(search({ q: 'packageid:xunit' }).data[0]?.['iconUrl'], '');
  });

  it('uses lower-case normalized versions in leaf URLs and full versions in the version field', () => {
    const hit = search({ q: 'packageid:semver2.only' }).data[0];
    assert.deepEqual(hit?.versions.map((v) => [v.version, v['@id']]), [
      ['1.0.0+build.5', `${URLS.regBase}semver2.only/1.0.0.json`],
      ['1.1.0-rc.1', `${URLS.regBase}semver2.only/1.1.0-rc.1.json`],
    ]);
  });
});

describe('autocomplete', () => {
  const ac = (query: string) => autocomplete(PACKAGES, new URLSearchParams(query)) as { totalHits: number; data: string[] };

  it('lists ids containing q, prefix matches first, in original case', () => {
    const r = ac('q=json&prerelease=true&semVerLevel=2.0.0');
    assert.deepEqual(r.data, ['JSON', 'Newtonsoft.Json', 'Newtonsoft.Json.Bson']);
    assert.equal(r.totalHits, 3);
  });

  it('lists every id for an empty q and honours skip/take', () => {
    const all = ac('prerelease=true&semVerLevel=2.0.0');
    assert.equal(all.totalHits, PACKAGES.length);
    assert.deepEqual(ac('prerelease=true&semVerLevel=2.0.0&skip=1&take=2').data, all.data.slice(1, 3));
  });

  it('excludes ids with only prerelease versions unless prerelease=true', () => {
    assert.ok(!ac('q=preview').data.includes('Preview.Only'));
    assert.deepEqual(ac('q=preview&prerelease=true').data, ['Preview.Only']);
  });

  it('lists the versions of one id (id=), filtered like search', () => {
    assert.deepEqual(ac('id=XUNIT').data, ['2.9.2', '2.9.3']);
    assert.deepEqual(ac('id=xunit&prerelease=true&semVerLevel=2.0.0').data, ['2.9.2', '2.9.3', '3.0.0-pre.15']);
    assert.deepEqual(ac('id=semver2.only&prerelease=true&semVerLevel=2.0.0').data, ['1.0.0+build.5', '1.1.0-rc.1']);
    assert.deepEqual(ac('id=unknown').data, []);
    assert.equal(ac('id=unknown').totalHits, 0);
  });
});
