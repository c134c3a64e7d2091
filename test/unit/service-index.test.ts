// Tests for the service index (src/nuget/service-index.ts): classification by @type, validation of upstream's
// index, and the index clients get. The fixture mirrors nuget.org's index as listed in the protocol digest §4
// table (docs/api/service-index.md samples plus captured copies): two search hosts, three registration hives,
// link templates, catalog, publish, the undocumented gallery types.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildClientIndex,
  buildLayout,
  classifyType,
  InvalidServiceIndex,
  offlineResources,
  parseServiceIndex,
  type ClientIndexOptions,
  type Family,
} from '../../src/nuget/service-index.ts';

const NUGET_ORG_INDEX = {
  version: '3.0.0',
  resources: [
    { '@id': 'https://azuresearch-usnc.nuget.org/query', '@type': 'SearchQueryService', comment: 'Query endpoint of NuGet Search service (primary)' },
    { '@id': 'https://azuresearch-ussc.nuget.org/query', '@type': 'SearchQueryService', comment: 'Query endpoint of NuGet Search service (secondary)' },
    { '@id': 'https://azuresearch-usnc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService', comment: 'Autocomplete endpoint (primary)' },
    { '@id': 'https://azuresearch-ussc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService', comment: 'Autocomplete endpoint (secondary)' },
    { '@id': 'https://azuresearch-usnc.nuget.org/', '@type': 'SearchGalleryQueryService/3.0.0-rc', comment: 'Azure Website based Search Service used by Gallery (primary)' },
    { '@id': 'https://azuresearch-ussc.nuget.org/', '@type': 'SearchGalleryQueryService/3.0.0-rc', comment: 'Azure Website based Search Service used by Gallery (secondary)' },
    { '@id': 'https://api.nuget.org/v3/registration5-semver1/', '@type': 'RegistrationsBaseUrl', comment: 'Base URL of Azure storage where NuGet package registration info is stored' },
    { '@id': 'https://api.nuget.org/v3-flatcontainer/', '@type': 'PackageBaseAddress/3.0.0', comment: 'Base URL of where NuGet packages are stored, in the format https://api.nuget.org/v3-flatcontainer/{id-lower}/{version-lower}/{id-lower}.{version-lower}.nupkg' },
    { '@id': 'https://www.nuget.org/api/v2', '@type': 'LegacyGallery' },
    { '@id': 'https://www.nuget.org/api/v2', '@type': 'LegacyGallery/2.0.0' },
    { '@id': 'https://www.nuget.org/api/v2/package', '@type': 'PackagePublish/2.0.0' },
    { '@id': 'https://www.nuget.org/api/v2/symbolpackage', '@type': 'SymbolPackagePublish/4.9.0', comment: 'The gallery symbol publish endpoint.' },
    { '@id': 'https://azuresearch-usnc.nuget.org/query', '@type': 'SearchQueryService/3.0.0-rc', comment: 'Query endpoint of NuGet Search service (primary) used by RC clients' },
    { '@id': 'https://azuresearch-ussc.nuget.org/query', '@type': 'SearchQueryService/3.0.0-rc', comment: 'Query endpoint of NuGet Search service (secondary) used by RC clients' },
    { '@id': 'https://azuresearch-usnc.nuget.org/query', '@type': 'SearchQueryService/3.5.0', comment: 'Query endpoint of NuGet Search service (primary) that supports package type filtering' },
    { '@id': 'https://azuresearch-ussc.nuget.org/query', '@type': 'SearchQueryService/3.5.0', comment: 'Query endpoint of NuGet Search service (secondary) that supports package type filtering' },
    { '@id': 'https://azuresearch-usnc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService/3.0.0-rc', comment: 'Autocomplete endpoint (primary) used by RC clients' },
    { '@id': 'https://azuresearch-ussc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService/3.0.0-rc', comment: 'Autocomplete endpoint (secondary) used by RC clients' },
    { '@id': 'https://azuresearch-usnc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService/3.5.0', comment: 'Autocomplete endpoint (primary) that supports package type filtering' },
    { '@id': 'https://azuresearch-ussc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService/3.5.0', comment: 'Autocomplete endpoint (secondary) that supports package type filtering' },
    { '@id': 'https://api.nuget.org/v3/registration5-semver1/', '@type': 'RegistrationsBaseUrl/3.0.0-rc', comment: 'Base URL of registration info used by RC clients' },
    { '@id': 'https://www.nuget.org/packages/{id}/{version}/ReportAbuse', '@type': 'ReportAbuseUriTemplate/3.0.0-rc', comment: 'URI template used by NuGet Client to construct Report Abuse URL for packages used by RC clients' },
    { '@id': 'https://api.nuget.org/v3/registration5-semver1/{id-lower}/index.json', '@type': 'PackageDisplayMetadataUriTemplate/3.0.0-rc', comment: 'URI template used by NuGet Client to construct display metadata for Packages using ID' },
    { '@id': 'https://api.nuget.org/v3/registration5-semver1/{id-lower}/{version-lower}.json', '@type': 'PackageVersionDisplayMetadataUriTemplate/3.0.0-rc', comment: 'URI template used by NuGet Client to construct display metadata for Packages using ID, Version' },
    { '@id': 'https://azuresearch-usnc.nuget.org/query', '@type': 'SearchQueryService/3.0.0-beta', comment: 'Query endpoint of NuGet Search service (primary) used by beta clients' },
    { '@id': 'https://azuresearch-ussc.nuget.org/query', '@type': 'SearchQueryService/3.0.0-beta', comment: 'Query endpoint of NuGet Search service (secondary) used by beta clients' },
    { '@id': 'https://azuresearch-usnc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService/3.0.0-beta', comment: 'Autocomplete endpoint (primary) used by beta clients' },
    { '@id': 'https://azuresearch-ussc.nuget.org/autocomplete', '@type': 'SearchAutocompleteService/3.0.0-beta', comment: 'Autocomplete endpoint (secondary) used by beta clients' },
    { '@id': 'https://api.nuget.org/v3/registration5-semver1/', '@type': 'RegistrationsBaseUrl/3.0.0-beta', comment: 'Base URL of registration info used by beta clients' },
    { '@id': 'https://www.nuget.org/packages/{id}/{version}/ReportAbuse', '@type': 'ReportAbuseUriTemplate/3.0.0-beta', comment: 'URI template used by NuGet Client to construct Report Abuse URL for packages' },
    { '@id': 'https://www.nuget.org/packages/{id}/{version}?_src=template', '@type': 'PackageDetailsUriTemplate/5.1.0', comment: 'URI template used by NuGet Client to construct details URL for packages' },
    { '@id': 'https://www.nuget.org/profiles/{owner}?_src=template', '@type': 'OwnerDetailsUriTemplate/6.11.0', comment: 'URI template used by NuGet Client to construct owner URL for packages' },
    { '@id': 'https://api.nuget.org/v3/registration5-gz-semver1/', '@type': 'RegistrationsBaseUrl/3.4.0', comment: 'Base URL of registration info stored in gzip; does not include SemVer 2.0.0 packages' },
    { '@id': 'https://api.nuget.org/v3/registration5-gz-semver2/', '@type': 'RegistrationsBaseUrl/3.6.0', comment: 'Base URL of registration info stored in gzip; includes SemVer 2.0.0 packages' },
    { '@id': 'https://api.nuget.org/v3/registration5-gz-semver2/', '@type': 'RegistrationsBaseUrl/Versioned', clientVersion: '4.3.0-alpha', comment: 'Base URL of registration info stored in gzip; includes SemVer 2.0.0 packages' },
    { '@id': 'https://api.nuget.org/v3-index/repository-signatures/4.7.0/index.json', '@type': 'RepositorySignatures/4.7.0', comment: 'The endpoint for discovering information about this package source\'s repository signatures.' },
    { '@id': 'https://api.nuget.org/v3-index/repository-signatures/5.0.0/index.json', '@type': 'RepositorySignatures/5.0.0', comment: 'The endpoint for discovering information about this package source\'s repository signatures.' },
    { '@id': 'https://api.nuget.org/v3/vulnerabilities/index.json', '@type': 'VulnerabilityInfo/6.7.0', comment: 'The endpoint for discovering information about vulnerabilities of packages in this package source.' },
    { '@id': 'https://api.nuget.org/v3/catalog0/index.json', '@type': 'Catalog/3.0.0', comment: 'Index of the NuGet package catalog.' },
    { '@id': 'https://api.nuget.org/v3-flatcontainer/{lower_id}/{lower_version}/readme', '@type': 'ReadmeUriTemplate/6.13.0', comment: 'URI template used by NuGet Client to construct a URL for downloading a package\'s README.' },
  ],
  '@context': { '@vocab': 'http://schema.nuget.org/services#', comment: 'http://www.w3.org/2000/01/rdf-schema#comment' },
};

/** Hosts that serve resources the proxy mirrors; none of them may appear in the client index. */
const SERVED_UPSTREAM_HOSTS = ['api.nuget.org', 'azuresearch-usnc.nuget.org', 'azuresearch-ussc.nuget.org', 'globalcdn.nuget.org'];
const BASE = 'https://nuget.corp.example/nuget';

type Entry = Record<string, unknown>;

function clientIndex(options: Partial<ClientIndexOptions> = {}, doc: unknown = NUGET_ORG_INDEX) {
  const layout = buildLayout(parseServiceIndex(doc));
  return buildClientIndex(layout, { publicBase: BASE, https: true, vulnerability: true, ...options });
}

function entriesOfType(resources: readonly Entry[], type: string): Entry[] {
  return resources.filter((r) => r['@type'] === type);
}

function idsOfType(resources: readonly Entry[], type: string): string[] {
  return entriesOfType(resources, type).map((r) => String(r['@id']));
}

describe('classifyType', () => {
  const table: Array<[string, Family]> = [
    ['PackageBaseAddress/3.0.0', 'flat'],
    ['PackageBaseAddress/Versioned', 'flat'],
    ['RegistrationsBaseUrl', 'registration'],
    ['RegistrationsBaseUrl/3.6.0', 'registration'],
    ['RegistrationsBaseUrl/Versioned', 'registration'],
    ['SearchQueryService', 'search'],
    ['SearchQueryService/3.0.0-beta', 'search'],
    ['SearchQueryService/3.5.0', 'search'],
    ['SearchAutocompleteService/3.0.0-rc', 'autocomplete'],
    ['VulnerabilityInfo/6.7.0', 'vulnerability'],
    ['RepositorySignatures/5.0.0', 'signatures'],
    ['ReadmeUriTemplate/6.13.0', 'readme'],
    ['PackageDetailsUriTemplate/5.1.0', 'link'],
    ['ReportAbuseUriTemplate/3.0.0-beta', 'link'],
    ['OwnerDetailsUriTemplate/6.11.0', 'link'],
    ['SearchGalleryQueryService/3.0.0-rc', 'drop'],
    ['PackageDisplayMetadataUriTemplate/3.0.0-rc', 'drop'],
    ['PackageVersionDisplayMetadataUriTemplate/3.0.0-rc', 'drop'],
    ['Catalog/3.0.0', 'drop'],
    ['PackagePublish/2.0.0', 'drop'],
    ['SymbolPackagePublish/4.9.0', 'drop'],
    ['LegacyGallery', 'drop'],
    ['LegacyGallery/2.0.0', 'drop'],
    ['SomethingNew/1.0.0', 'drop'],
    ['', 'drop'],
    // The client matches @type ordinally (ServiceTypes.cs), so a differently cased name is not the same type.
    ['searchqueryservice/3.0.0-beta', 'drop'],
    ['SearchQueryServiceX/3.0.0', 'drop'],
  ];
  for (const [type, family] of table) {
    it(`${JSON.stringify(type)} → ${family}`, () => {
      assert.equal(classifyType(type), family);
    });
  }
});

describe('parseServiceIndex', () => {
  it('reads every absolute resource of the nuget.org-like index', () => {
    const resources = parseServiceIndex(NUGET_ORG_INDEX);
    assert.equal(resources.length, NUGET_ORG_INDEX.resources.length);
    const versioned = resources.find((r) => r['@type'] === 'RegistrationsBaseUrl/Versioned');
    assert.equal(versioned?.clientVersion, '4.3.0-alpha');
    assert.equal(typeof versioned?.comment, 'string');
  });

  const rejected: Array<[unknown, string]> = [
    [{ version: '2.0.0', resources: [] }, 'version 2.0.0'],
    [{ version: '30.0.0', resources: [] }, 'version 30.0.0 (major is not 3)'],
    [{ resources: [] }, 'no version'],
    [{ version: 3, resources: [] }, 'numeric version'],
    [{ version: '3.0.0' }, 'no resources'],
    [{ version: '3.0.0', resources: {} }, 'resources not an array'],
    [[], 'an array'],
    [null, 'null'],
    ['{"version":"3.0.0","resources":[]}', 'a string'],
    [42, 'a number'],
  ];
  for (const [doc, why] of rejected) {
    it(`rejects ${why}`, () => {
      assert.throws(() => parseServiceIndex(doc), InvalidServiceIndex);
    });
  }

  it('accepts 3.x versions', () => {
    for (const version of ['3.0.0', '3.0.0-beta.1', '3.1']) {
      assert.deepEqual(parseServiceIndex({ version, resources: [] }), []);
    }
  });

  it('skips entries the client would skip: relative or non-http @id, bad @type', () => {
    const resources = parseServiceIndex({
      version: '3.0.0',
      resources: [
        { '@id': '/v3-flatcontainer/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'v3/registration/', '@type': 'RegistrationsBaseUrl/3.6.0' },
        { '@id': 'ftp://example.org/flat/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@type': 'SearchQueryService/3.0.0-beta' },
        { '@id': 42, '@type': 'SearchQueryService/3.0.0-beta' },
        { '@id': 'https://example.org/query', '@type': 42 },
        { '@id': 'https://example.org/query', '@type': ['SearchQueryService', 7] },
        { '@id': 'https://example.org/query' },
        null,
        'https://example.org/flat/',
        { '@id': 'https://example.org/flat/', '@type': ['PackageBaseAddress/3.0.0', 'PackageBaseAddress/Versioned'] },
        { '@id': 'http://example.org/reg/', '@type': 'RegistrationsBaseUrl/3.6.0', clientVersion: ['4.3.0', '5.0.0'], comment: 7 },
      ],
    });
    assert.deepEqual(resources, [
      { '@id': 'https://example.org/flat/', '@type': ['PackageBaseAddress/3.0.0', 'PackageBaseAddress/Versioned'] },
      { '@id': 'http://example.org/reg/', '@type': 'RegistrationsBaseUrl/3.6.0', clientVersion: ['4.3.0', '5.0.0'] },
    ]);
  });
});

describe('buildLayout', () => {
  it('names the three nuget.org hives by content and prefers semver2', () => {
    const layout = buildLayout(parseServiceIndex(NUGET_ORG_INDEX));
    assert.equal(layout.flat, 'https://api.nuget.org/v3-flatcontainer/');
    assert.deepEqual(Object.fromEntries(layout.hives), {
      semver1: 'https://api.nuget.org/v3/registration5-semver1/',
      'gz-semver1': 'https://api.nuget.org/v3/registration5-gz-semver1/',
      semver2: 'https://api.nuget.org/v3/registration5-gz-semver2/',
    });
    assert.equal(layout.primaryHive, 'semver2');
    assert.deepEqual(layout.search, ['https://azuresearch-usnc.nuget.org/query', 'https://azuresearch-ussc.nuget.org/query']);
    assert.deepEqual(layout.autocomplete, ['https://azuresearch-usnc.nuget.org/autocomplete', 'https://azuresearch-ussc.nuget.org/autocomplete']);
    assert.equal(layout.vulnerability, 'https://api.nuget.org/v3/vulnerabilities/index.json');
    assert.deepEqual(Object.fromEntries(layout.signatures), {
      '4.7.0': 'https://api.nuget.org/v3-index/repository-signatures/4.7.0/index.json',
      '5.0.0': 'https://api.nuget.org/v3-index/repository-signatures/5.0.0/index.json',
    });
    assert.equal(layout.readmeTemplate, 'https://api.nuget.org/v3-flatcontainer/{lower_id}/{lower_version}/readme');
  });

  it('adds the trailing slash the client would add to base URLs', () => {
    const layout = buildLayout(
      parseServiceIndex({
        version: '3.0.0',
        resources: [
          { '@id': 'https://feed.example/flat', '@type': 'PackageBaseAddress/3.0.0' },
          { '@id': 'https://feed.example/reg', '@type': 'RegistrationsBaseUrl/3.6.0' },
        ],
      }),
    );
    assert.equal(layout.flat, 'https://feed.example/flat/');
    assert.equal(layout.hives.get('semver2'), 'https://feed.example/reg/');
  });
});

describe('buildClientIndex for a nuget.org-like upstream', () => {
  const index = clientIndex();
  const resources = index.resources;
  const text = JSON.stringify(index);

  it('is a version 3.0.0 index with the services @context', () => {
    assert.equal(index.version, '3.0.0');
    assert.equal(index['@context']['@vocab'], 'http://schema.nuget.org/services#');
  });

  for (const host of SERVED_UPSTREAM_HOSTS) {
    it(`leaves no URL on ${host}`, () => {
      assert.ok(!text.includes(host), `${host} still appears in the client index`);
    });
  }

  it('points every served family at the public base', () => {
    const served: Family[] = ['flat', 'registration', 'search', 'autocomplete', 'vulnerability', 'signatures', 'readme'];
    let count = 0;
    for (const r of resources) {
      const types = [r['@type']].flat().map(String);
      if (!types.some((t) => served.includes(classifyType(t)))) continue;
      count++;
      assert.ok(String(r['@id']).startsWith(`${BASE}/v3/`), `${types.join(',')} → ${String(r['@id'])}`);
    }
    assert.ok(count >= 20, `expected the served entries, saw ${count}`);
  });

  const expectedIds: Array<[string, string]> = [
    ['PackageBaseAddress/3.0.0', `${BASE}/v3/flatcontainer/`],
    ['RegistrationsBaseUrl', `${BASE}/v3/registration/semver1/`],
    ['RegistrationsBaseUrl/3.0.0-rc', `${BASE}/v3/registration/semver1/`],
    ['RegistrationsBaseUrl/3.0.0-beta', `${BASE}/v3/registration/semver1/`],
    ['RegistrationsBaseUrl/3.4.0', `${BASE}/v3/registration/gz-semver1/`],
    ['RegistrationsBaseUrl/3.6.0', `${BASE}/v3/registration/semver2/`],
    ['RegistrationsBaseUrl/Versioned', `${BASE}/v3/registration/semver2/`],
    ['SearchQueryService', `${BASE}/v3/search/query`],
    ['SearchQueryService/3.0.0-beta', `${BASE}/v3/search/query`],
    ['SearchQueryService/3.0.0-rc', `${BASE}/v3/search/query`],
    ['SearchQueryService/3.4.0', `${BASE}/v3/search/query`],
    ['SearchQueryService/3.5.0', `${BASE}/v3/search/query`],
    ['SearchAutocompleteService', `${BASE}/v3/search/autocomplete`],
    ['SearchAutocompleteService/3.0.0-beta', `${BASE}/v3/search/autocomplete`],
    ['SearchAutocompleteService/3.0.0-rc', `${BASE}/v3/search/autocomplete`],
    ['SearchAutocompleteService/3.5.0', `${BASE}/v3/search/autocomplete`],
    ['VulnerabilityInfo/6.7.0', `${BASE}/v3/vulnerabilities/index.json`],
    ['RepositorySignatures/4.7.0', `${BASE}/v3/repository-signatures/4.7.0/index.json`],
    ['RepositorySignatures/5.0.0', `${BASE}/v3/repository-signatures/5.0.0/index.json`],
    ['ReadmeUriTemplate/6.13.0', `${BASE}/v3/flatcontainer/{lower_id}/{lower_version}/readme`],
    // Link templates are web pages shown to the user; they keep upstream's URL.
    ['PackageDetailsUriTemplate/5.1.0', 'https://www.nuget.org/packages/{id}/{version}?_src=template'],
    ['OwnerDetailsUriTemplate/6.11.0', 'https://www.nuget.org/profiles/{owner}?_src=template'],
    ['ReportAbuseUriTemplate/3.0.0-beta', 'https://www.nuget.org/packages/{id}/{version}/ReportAbuse'],
    ['ReportAbuseUriTemplate/3.0.0-rc', 'https://www.nuget.org/packages/{id}/{version}/ReportAbuse'],
  ];
  for (const [type, id] of expectedIds) {
    it(`${type} appears once, at ${id}`, () => {
      assert.deepEqual(idsOfType(resources, type), [id]);
    });
  }

  for (const type of [
    'Catalog/3.0.0',
    'PackagePublish/2.0.0',
    'SymbolPackagePublish/4.9.0',
    'LegacyGallery',
    'LegacyGallery/2.0.0',
    'SearchGalleryQueryService/3.0.0-rc',
    'PackageDisplayMetadataUriTemplate/3.0.0-rc',
    'PackageVersionDisplayMetadataUriTemplate/3.0.0-rc',
  ]) {
    it(`drops ${type}`, () => {
      assert.deepEqual(entriesOfType(resources, type), []);
    });
  }

  it('collapses the two search hosts into one proxy endpoint per type', () => {
    const searchIds = new Set(resources.filter((r) => classifyType(String(r['@type'])) === 'search').map((r) => r['@id']));
    assert.deepEqual([...searchIds], [`${BASE}/v3/search/query`]);
    const keys = resources.map((r) => `${String(r['@id'])} ${String(r['@type'])}`);
    assert.equal(new Set(keys).size, keys.length, 'no duplicate (@id, @type) pairs');
  });

  it('lets the official client find search: one of its types (Versioned, 3.4.0, 3.0.0-beta) is present (ServiceTypes.cs)', () => {
    const clientTypes = ['SearchQueryService/Versioned', 'SearchQueryService/3.4.0', 'SearchQueryService/3.0.0-beta'];
    const found = clientTypes.find((t) => entriesOfType(resources, t).length > 0);
    assert.ok(found);
    assert.deepEqual(idsOfType(resources, found), [`${BASE}/v3/search/query`]);
  });

  it('adds SearchQueryService/3.4.0, which nuget.org does not list, as an alias', () => {
    const [alias] = entriesOfType(resources, 'SearchQueryService/3.4.0');
    assert.equal(alias?.['comment'], 'alias added by nuget-proxy');
  });

  it('keeps RegistrationsBaseUrl/Versioned with its clientVersion', () => {
    const [versioned] = entriesOfType(resources, 'RegistrationsBaseUrl/Versioned');
    assert.equal(versioned?.['clientVersion'], '4.3.0-alpha');
  });

  it('keeps upstream comments on rewritten entries', () => {
    const [flat] = entriesOfType(resources, 'PackageBaseAddress/3.0.0');
    assert.match(String(flat?.['comment']), /Base URL of where NuGet packages are stored/);
  });
});

describe('buildClientIndex options', () => {
  it('lists RepositorySignatures only when served over https (the client requires https)', () => {
    const http = clientIndex({ publicBase: 'http://proxy.local:5555', https: false });
    assert.deepEqual(http.resources.filter((r) => String(r['@type']).startsWith('RepositorySignatures')), []);
    const https = clientIndex({ publicBase: 'https://proxy.local', https: true });
    const sig = https.resources.filter((r) => String(r['@type']).startsWith('RepositorySignatures'));
    assert.equal(sig.length, 2);
    for (const r of sig) assert.ok(String(r['@id']).startsWith('https://'));
  });

  it('lists only the mirrored signature versions when signatureVersions is given', () => {
    const index = clientIndex({ signatureVersions: new Set(['5.0.0']) });
    assert.deepEqual(
      index.resources.filter((r) => String(r['@type']).startsWith('RepositorySignatures')).map((r) => r['@type']),
      ['RepositorySignatures/5.0.0'],
    );
  });

  it('drops VulnerabilityInfo when no vulnerability data can be served', () => {
    const index = clientIndex({ vulnerability: false });
    assert.deepEqual(entriesOfType(index.resources, 'VulnerabilityInfo/6.7.0'), []);
    assert.ok(!JSON.stringify(index).includes('vulnerabilities'));
  });

  it('uses a plain http base as given, for every served entry', () => {
    const index = clientIndex({ publicBase: 'http://localhost:5555', https: false });
    for (const type of ['PackageBaseAddress/3.0.0', 'RegistrationsBaseUrl/3.6.0', 'SearchQueryService/3.0.0-beta']) {
      assert.ok(idsOfType(index.resources, type)[0]?.startsWith('http://localhost:5555/v3/'), type);
    }
  });
});

describe('buildClientIndex for a minimal upstream (PackageBaseAddress + RegistrationsBaseUrl/3.6.0)', () => {
  const index = clientIndex(
    {},
    {
      version: '3.0.0',
      resources: [
        { '@id': 'https://feed.example/flat/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'https://feed.example/reg/', '@type': 'RegistrationsBaseUrl/3.6.0' },
      ],
    },
  );

  // Every registration type the client looks up (ServiceTypes.cs, protocol digest §4), all pointing at the one hive.
  for (const type of [
    'RegistrationsBaseUrl/Versioned',
    'RegistrationsBaseUrl/3.6.0',
    'RegistrationsBaseUrl/3.4.0',
    'RegistrationsBaseUrl/3.0.0-rc',
    'RegistrationsBaseUrl/3.0.0-beta',
    'RegistrationsBaseUrl',
  ]) {
    it(`has ${type} → the semver2 hive`, () => {
      assert.deepEqual(idsOfType(index.resources, type), [`${BASE}/v3/registration/semver2/`]);
    });
  }

  it('has the flat container, the proxy\'s own search, and nothing else upstream did not offer', () => {
    assert.deepEqual(idsOfType(index.resources, 'PackageBaseAddress/3.0.0'), [`${BASE}/v3/flatcontainer/`]);
    const families = new Set(index.resources.map((r) => classifyType(String(r['@type']))));
    assert.deepEqual([...families].sort(), ['autocomplete', 'flat', 'registration', 'search']);
    assert.ok(!JSON.stringify(index).includes('feed.example'));
  });

  // Upstream has no search (a static or private feed): the proxy searches what it holds, under every type the client looks for.
  for (const [type, path] of [
    ['SearchQueryService', 'search/query'],
    ['SearchQueryService/3.0.0-beta', 'search/query'],
    ['SearchQueryService/3.4.0', 'search/query'],
    ['SearchQueryService/3.5.0', 'search/query'],
    ['SearchAutocompleteService/3.0.0-beta', 'search/autocomplete'],
  ]) {
    it(`lists the proxy's own ${type}`, () => {
      const [entry] = entriesOfType(index.resources, type as string);
      assert.equal(entry?.['@id'], `${BASE}/v3/${path}`);
      assert.match(String(entry?.['comment']), /searches the packages this proxy holds/);
    });
  }
});

describe('offlineResources', () => {
  it('advertises every client alias so an empty-cache offline index is still usable', () => {
    const layout = buildLayout(offlineResources());
    const index = buildClientIndex(layout, { publicBase: BASE, https: true, vulnerability: false });
    for (const type of ['PackageBaseAddress/3.0.0', 'RegistrationsBaseUrl/3.6.0', 'SearchQueryService/3.0.0-beta', 'SearchAutocompleteService/3.0.0-beta']) {
      const [id] = idsOfType(index.resources, type);
      assert.ok(id?.startsWith(`${BASE}/v3/`), `${type} → ${String(id)}`);
    }
  });
});
