// Tests for upstream → proxy URL rewriting (src/nuget/rewrite.ts). The registration fixture follows
// docs/api/_data/package-registration-index.json and the leaf shape in protocol digest §6.3; the paths that must
// (and must not) change are the digest's §6.5 / §17 checklist.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BASE_MARKER,
  buildRewriteRules,
  InvalidDocument,
  renderJson,
  renderUrl,
  rewriteJsonText,
  rewriteUrl,
  rewriteValue,
  separatePageIds,
} from '../../src/nuget/rewrite.ts';
import { buildLayout, parseServiceIndex } from '../../src/nuget/service-index.ts';

const FLAT = 'https://api.nuget.org/v3-flatcontainer/';
const REG2 = 'https://api.nuget.org/v3/registration5-gz-semver2/';
const REG1 = 'https://api.nuget.org/v3/registration5-semver1/';
const CATALOG = 'https://api.nuget.org/v3/catalog0/';

const RULES = buildRewriteRules(
  buildLayout(
    parseServiceIndex({
      version: '3.0.0',
      resources: [
        { '@id': FLAT, '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': REG1, '@type': 'RegistrationsBaseUrl' },
        { '@id': 'https://api.nuget.org/v3/registration5-gz-semver1/', '@type': 'RegistrationsBaseUrl/3.4.0' },
        { '@id': REG2, '@type': 'RegistrationsBaseUrl/3.6.0' },
        { '@id': `${CATALOG}index.json`, '@type': 'Catalog/3.0.0' },
      ],
    }),
  ),
);

const M = BASE_MARKER;

describe('rewriteUrl', () => {
  const table: Array<[string, string]> = [
    [`${REG2}newtonsoft.json/index.json`, `${M}/v3/registration/semver2/newtonsoft.json/index.json`],
    [`${REG2}newtonsoft.json/index.json#page/13.0.1/13.0.3`, `${M}/v3/registration/semver2/newtonsoft.json/index.json#page/13.0.1/13.0.3`],
    [`${REG2}newtonsoft.json/page/3.5.8/12.0.1.json`, `${M}/v3/registration/semver2/newtonsoft.json/page/3.5.8/12.0.1.json`],
    [`${REG2}newtonsoft.json/13.0.3.json`, `${M}/v3/registration/semver2/newtonsoft.json/13.0.3.json`],
    [`${REG1}x/index.json`, `${M}/v3/registration/semver1/x/index.json`],
    ['https://api.nuget.org/v3/registration5-gz-semver1/x/index.json', `${M}/v3/registration/gz-semver1/x/index.json`],
    [`${FLAT}newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`, `${M}/v3/flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`],
    [`${FLAT}newtonsoft.json/13.0.3/icon`, `${M}/v3/flatcontainer/newtonsoft.json/13.0.3/icon`],
  ];
  for (const [from, to] of table) {
    it(`${from} → ${to.replace(M, '<base>')}`, () => {
      assert.equal(rewriteUrl(from, RULES), to);
    });
  }

  const untouched: Array<[string, string]> = [
    ['https://www.nuget.org/packages/Newtonsoft.Json/13.0.3/license', 'licenseUrl (web page)'],
    ['https://licenses.nuget.org/MIT', 'licenses site'],
    ['https://www.newtonsoft.com/json', 'projectUrl'],
    ['https://github.com/advisories/GHSA-5crp-9r3c-p9vr', 'advisoryUrl'],
    [`${CATALOG}data/2023.03.08.07.46.17/newtonsoft.json.13.0.3.json`, 'catalog leaf (catalog not served)'],
    ['http://schema.nuget.org/schema#', 'JSON-LD vocabulary'],
    ['https://api.nuget.org/v3-flatcontainer-evil/x/1.0.0/x.1.0.0.nupkg', 'look-alike prefix without the slash boundary'],
    ['https://api.nuget.org/v3/registration5-gz-semver2', 'hive base without its trailing slash'],
    ['http://api.nuget.org/v3-flatcontainer/x/1.0.0/x.1.0.0.nupkg', 'other scheme'],
    ['Newtonsoft.Json', 'not a URL'],
    ['', 'empty'],
  ];
  for (const [value, why] of untouched) {
    it(`leaves ${JSON.stringify(value)} alone (${why})`, () => {
      assert.equal(rewriteUrl(value, RULES), value);
    });
  }

  it('picks the longest matching prefix when one upstream base is nested in another', () => {
    const rules = buildRewriteRules(
      buildLayout(
        parseServiceIndex({
          version: '3.0.0',
          resources: [
            { '@id': 'https://feed.example/v3/', '@type': 'PackageBaseAddress/3.0.0' },
            { '@id': 'https://feed.example/v3/registration/', '@type': 'RegistrationsBaseUrl/3.6.0' },
          ],
        }),
      ),
    );
    assert.equal(rewriteUrl('https://feed.example/v3/registration/x/index.json', rules), `${M}/v3/registration/semver2/x/index.json`);
    assert.equal(rewriteUrl('https://feed.example/v3/x/index.json', rules), `${M}/v3/flatcontainer/x/index.json`);
  });
});

/** A registration index with one inlined page and one leaf, nuget.org-shaped (abridged). */
function registrationIndex(): Record<string, unknown> {
  const index = `${REG2}newtonsoft.json/index.json`;
  return {
    '@id': index,
    '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
    commitId: 'b4d6a7a2-4c5b-4b5a-9f0e-0e9e4a0f5d11',
    count: 1,
    items: [
      {
        '@id': `${index}#page/13.0.3/13.0.3`,
        '@type': 'catalog:CatalogPage',
        count: 1,
        lower: '13.0.3',
        upper: '13.0.3',
        parent: index,
        items: [
          {
            '@id': `${REG2}newtonsoft.json/13.0.3.json`,
            '@type': 'Package',
            catalogEntry: {
              '@id': `${CATALOG}data/2023.03.08.07.46.17/newtonsoft.json.13.0.3.json`,
              '@type': 'PackageDetails',
              authors: 'James Newton-King',
              dependencyGroups: [
                {
                  '@id': `${CATALOG}data/2023.03.08.07.46.17/newtonsoft.json.13.0.3.json#dependencygroup/.netstandard1.0`,
                  targetFramework: '.NETStandard1.0',
                  dependencies: [
                    {
                      '@id': `${CATALOG}data/2023.03.08.07.46.17/newtonsoft.json.13.0.3.json#dependencygroup/.netstandard1.0/microsoft.csharp`,
                      id: 'Microsoft.CSharp',
                      range: '[4.3.0, )',
                      registration: `${REG2}microsoft.csharp/index.json`,
                    },
                  ],
                },
              ],
              description: 'Json.NET is a popular high-performance JSON framework for .NET',
              iconUrl: `${FLAT}newtonsoft.json/13.0.3/icon`,
              id: 'Newtonsoft.Json',
              licenseUrl: 'https://www.nuget.org/packages/Newtonsoft.Json/13.0.3/license',
              licenseExpression: 'MIT',
              listed: true,
              packageContent: `${FLAT}newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`,
              projectUrl: 'https://www.newtonsoft.com/json',
              published: '2023-03-08T07:42:54.647+00:00',
              tags: ['json'],
              version: '13.0.3',
              vulnerabilities: [{ advisoryUrl: 'https://github.com/advisories/GHSA-5crp-9r3c-p9vr', severity: '2' }],
            },
            packageContent: `${FLAT}newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`,
            registration: index,
          },
        ],
      },
    ],
    '@context': { '@vocab': 'http://schema.nuget.org/schema#', catalog: 'http://schema.nuget.org/catalog#' },
  };
}

describe('rewriteJsonText + renderJson on a registration index', () => {
  const base = 'https://nuget.corp.example/nuget';
  const stored = rewriteJsonText(JSON.stringify(registrationIndex()), RULES).text;
  const rendered = JSON.parse(renderJson(stored, base)) as ReturnType<typeof registrationIndex>;
  const page = (rendered['items'] as Array<Record<string, unknown>>)[0] ?? {};
  const leaf = (page['items'] as Array<Record<string, unknown>>)[0] ?? {};
  const entry = (leaf['catalogEntry'] ?? {}) as Record<string, unknown>;
  const group = ((entry['dependencyGroups'] as Array<Record<string, unknown>>)[0] ?? {}) as Record<string, unknown>;
  const dep = ((group['dependencies'] as Array<Record<string, unknown>>)[0] ?? {}) as Record<string, unknown>;
  const reg = `${base}/v3/registration/semver2/`;
  const flat = `${base}/v3/flatcontainer/`;

  const rewritten: Array<[string, unknown, string]> = [
    ['index @id', rendered['@id'], `${reg}newtonsoft.json/index.json`],
    ['page @id (inlined, #page fragment kept)', page['@id'], `${reg}newtonsoft.json/index.json#page/13.0.3/13.0.3`],
    ['page parent', page['parent'], `${reg}newtonsoft.json/index.json`],
    ['leaf @id', leaf['@id'], `${reg}newtonsoft.json/13.0.3.json`],
    ['leaf registration', leaf['registration'], `${reg}newtonsoft.json/index.json`],
    ['leaf packageContent', leaf['packageContent'], `${flat}newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`],
    ['catalogEntry.packageContent', entry['packageContent'], `${flat}newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`],
    ['catalogEntry.iconUrl', entry['iconUrl'], `${flat}newtonsoft.json/13.0.3/icon`],
    ['dependency registration', dep['registration'], `${reg}microsoft.csharp/index.json`],
  ];
  for (const [what, actual, expected] of rewritten) {
    it(`rewrites ${what}`, () => {
      assert.equal(actual, expected);
    });
  }

  const kept: Array<[string, unknown, string]> = [
    ['licenseUrl', entry['licenseUrl'], 'https://www.nuget.org/packages/Newtonsoft.Json/13.0.3/license'],
    ['projectUrl', entry['projectUrl'], 'https://www.newtonsoft.com/json'],
    ['catalogEntry.@id', entry['@id'], `${CATALOG}data/2023.03.08.07.46.17/newtonsoft.json.13.0.3.json`],
    ['dependency @id', dep['@id'], `${CATALOG}data/2023.03.08.07.46.17/newtonsoft.json.13.0.3.json#dependencygroup/.netstandard1.0/microsoft.csharp`],
    ['@context @vocab', (rendered['@context'] as Record<string, unknown>)['@vocab'], 'http://schema.nuget.org/schema#'],
    ['advisoryUrl', ((entry['vulnerabilities'] as Array<Record<string, unknown>>)[0] ?? {})['advisoryUrl'], 'https://github.com/advisories/GHSA-5crp-9r3c-p9vr'],
  ];
  for (const [what, actual, expected] of kept) {
    it(`keeps ${what}`, () => {
      assert.equal(actual, expected);
    });
  }

  it('changes nothing but URLs: non-URL fields and types survive', () => {
    const original = registrationIndex();
    const strip = (doc: unknown): unknown => JSON.parse(JSON.stringify(doc, (_k, val: unknown) => (typeof val === 'string' && /^https?:/.test(val) ? '<url>' : val)));
    assert.deepEqual(strip(rendered), strip(original));
    assert.equal(entry['version'], '13.0.3');
    assert.equal(((entry['vulnerabilities'] as Array<Record<string, unknown>>)[0] ?? {})['severity'], '2');
  });

  it('leaves no upstream registration or flat-container URL behind', () => {
    const text = renderJson(stored, base);
    assert.ok(!text.includes(REG2));
    assert.ok(!text.includes(FLAT));
  });

  it('stores a base-independent document that renders for any base', () => {
    assert.ok(!stored.includes('nuget.corp.example'));
    const other = JSON.parse(renderJson(stored, 'http://localhost:5555')) as Record<string, unknown>;
    assert.equal(other['@id'], 'http://localhost:5555/v3/registration/semver2/newtonsoft.json/index.json');
  });
});

describe('rewriteJsonText: separate registration pages', () => {
  it('lists the @id of every index page without items (a separate page document), in stored form', () => {
    const index = `${REG2}big/index.json`;
    const doc = {
      '@id': index,
      count: 3,
      items: [
        { '@id': `${REG2}big/page/1.0.0/1.0.63.json`, count: 64, lower: '1.0.0', upper: '1.0.63' },
        { '@id': `${REG2}big/page/1.0.64/1.0.127.json`, count: 64, lower: '1.0.64', upper: '1.0.127' },
        { '@id': `${index}#page/2.0.0/2.0.0`, count: 1, lower: '2.0.0', upper: '2.0.0', parent: index, items: [] },
      ],
    };
    assert.deepEqual(rewriteJsonText(JSON.stringify(doc), RULES).separatePages, [
      `${M}/v3/registration/semver2/big/page/1.0.0/1.0.63.json`,
      `${M}/v3/registration/semver2/big/page/1.0.64/1.0.127.json`,
    ]);
  });

  it('finds none in the inlined registration index or in documents that are not indexes', () => {
    assert.deepEqual(rewriteJsonText(JSON.stringify(registrationIndex()), RULES).separatePages, []);
    assert.deepEqual(rewriteJsonText('{"versions":["1.0.0"]}', RULES).separatePages, []);
    assert.deepEqual(rewriteJsonText('{"totalHits":1,"data":[{"@id":"x"}]}', RULES).separatePages, []);
  });

  it('separatePageIds tolerates odd shapes', () => {
    const odd: Array<[unknown, string[]]> = [
      [null, []],
      ['text', []],
      [{ items: 'nope' }, []],
      [{ items: [null, 7, { count: 1 }, { '@id': 9 }, { '@id': 'p', items: {} }] }, ['p']],
    ];
    for (const [doc, expected] of odd) assert.deepEqual(separatePageIds(doc), expected);
  });
});

describe('rewriteJsonText: invalid documents', () => {
  const bad: Array<[string, string]> = [
    ['not json', 'not JSON'],
    ['{"a":', 'truncated'],
    ['', 'empty'],
    ['<html><body>Error</body></html>', 'an HTML error page'],
    ['[1,2]', 'an array'],
    ['[]', 'an empty array'],
    ['null', 'null'],
    ['"https://api.nuget.org/v3-flatcontainer/"', 'a string'],
    ['42', 'a number'],
    ['true', 'a boolean'],
  ];
  for (const [text, why] of bad) {
    it(`throws InvalidDocument for ${why}`, () => {
      assert.throws(() => rewriteJsonText(text, RULES), InvalidDocument);
    });
  }

  it('accepts an empty object', () => {
    assert.deepEqual(rewriteJsonText('{}', RULES), { text: '{}', separatePages: [] });
  });
});

describe('rewriteValue', () => {
  it('returns a new value and leaves the input untouched', () => {
    const input = { a: [`${FLAT}x/index.json`, 1, null, true], b: { c: `${REG2}x/index.json` } };
    const snapshot = JSON.parse(JSON.stringify(input)) as unknown;
    const out = rewriteValue(input, RULES);
    assert.deepEqual(input, snapshot);
    assert.deepEqual(out, { a: [`${M}/v3/flatcontainer/x/index.json`, 1, null, true], b: { c: `${M}/v3/registration/semver2/x/index.json` } });
  });
});

describe('renderJson / renderUrl', () => {
  it('substitutes a base with a path prefix', () => {
    const stored = JSON.stringify({ u: `${M}/v3/flatcontainer/x/index.json`, v: [`${M}/v3/registration/semver2/x/index.json`] });
    assert.deepEqual(JSON.parse(renderJson(stored, 'https://host.example/deep/prefix')), {
      u: 'https://host.example/deep/prefix/v3/flatcontainer/x/index.json',
      v: ['https://host.example/deep/prefix/v3/registration/semver2/x/index.json'],
    });
  });

  it('returns a document without markers unchanged', () => {
    const text = '{"a":"b","c":[1,2]}';
    assert.equal(renderJson(text, 'https://x.example'), text);
  });

  it('renderUrl replaces a leading marker only', () => {
    assert.equal(renderUrl(`${M}/v3/flatcontainer/`, 'https://p.example/nuget'), 'https://p.example/nuget/v3/flatcontainer/');
    assert.equal(renderUrl('https://www.nuget.org/x', 'https://p.example'), 'https://www.nuget.org/x');
  });

  // Text that resembles the marker must come back unchanged: the marker needs NUL characters, which ordinary text
  // (and every real NuGet document) never contains.
  const lookalikes = [
    'nuget-proxy',
    '\\u0000nuget-proxy\\u0000',
    'u0000nuget-proxyu0000',
    '%00nuget-proxy%00',
    '\\\\u0000nuget-proxy\\\\u0000',
    'C:\\u0000nuget-proxy\\u0000\\path',
    '&#0;nuget-proxy&#0;',
    '<base>/v3/flatcontainer/',
  ];
  for (const text of lookalikes) {
    it(`does not treat ${JSON.stringify(text)} as the marker`, () => {
      const doc = { description: text, tags: [text], nested: { summary: `prefix ${text} suffix` } };
      const stored = rewriteJsonText(JSON.stringify(doc), RULES).text;
      assert.deepEqual(JSON.parse(renderJson(stored, 'https://proxy.example')), doc);
    });
  }
});
