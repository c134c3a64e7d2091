// Merging several upstreams' answers (src/nuget/merge.ts, vulnerability index merging), table-driven:
// an exact version from the first upstream that has it, search results only from upstreams an id routes to
// (with the mapping cases of NuGet's docs), one result per id with every upstream's versions, unique
// vulnerability page names.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstListing, interleave, mergeSearchResults } from '../../src/nuget/merge.ts';
import { PackageSourceMapping } from '../../src/nuget/source-mapping.ts';
import { BASE_MARKER } from '../../src/nuget/rewrite.ts';
import { mergeVulnerabilityIndexes } from '../../src/resources/vulnerability.ts';

describe('firstListing: an exact version comes from the first upstream that has it', () => {
  const table: Array<[string, Array<[string, string[]]>, Record<string, string>]> = [
    ['disjoint lists are a union', [['internal', ['1.0.0']], ['public', ['2.0.0']]], { '1.0.0': 'internal', '2.0.0': 'public' }],
    ['the same version on both: the first upstream', [['internal', ['1.0.0', '1.1.0']], ['public', ['1.0.0', '9.9.9']]], { '1.0.0': 'internal', '1.1.0': 'internal', '9.9.9': 'public' }],
    ['order is configuration order, not version order', [['b', ['3.0.0']], ['a', ['3.0.0', '1.0.0']]], { '3.0.0': 'b', '1.0.0': 'a' }],
    ['an empty list changes nothing', [['a', []], ['b', ['1.0.0']]], { '1.0.0': 'b' }],
  ];
  for (const [name, lists, expected] of table) {
    it(name, () => {
      const out = firstListing(lists.map(([source, versions]) => ({ source, versions })));
      assert.deepEqual(Object.fromEntries(out), expected);
    });
  }
});

describe('interleave', () => {
  it('takes one of each list in turn', () => {
    assert.deepEqual(interleave([['a0', 'a1', 'a2'], ['b0'], ['c0', 'c1']]), ['a0', 'b0', 'c0', 'a1', 'c1', 'a2']);
    assert.deepEqual(interleave([]), []);
  });
});

function result(id: string, versions: string[], description = `${id} description`) {
  return { id, version: versions[versions.length - 1], description, versions: versions.map((version) => ({ version, downloads: 1 })) };
}

describe('mergeSearchResults', () => {
  // The docs' example: Contoso.* and NuGet.Common from contoso.com, everything else from nuget.org.
  const mapping = new PackageSourceMapping([
    ['nuget.org', ['*']],
    ['contoso.com', ['Contoso.*', 'NuGet.Common']],
  ]);
  const routes = (lowerId: string) => mapping.sourcesFor(lowerId);

  it('keeps a result only from an upstream its id routes to', () => {
    const { results, dropped } = mergeSearchResults(
      [
        { source: 'contoso.com', data: [result('Contoso.Core', ['1.0.0']), result('Newtonsoft.Json', ['13.0.3'])] },
        { source: 'nuget.org', data: [result('Contoso.Core', ['9.9.9'], 'impostor'), result('NuGet.Common', ['6.0.0']), result('xunit', ['2.9.3'])] },
      ],
      routes,
    );
    assert.deepEqual(
      results.map((r) => [r.lowerId, r.result['version'], r.result['description']]),
      [
        ['contoso.core', '1.0.0', 'Contoso.Core description'],
        ['xunit', '2.9.3', 'xunit description'],
      ],
    );
    assert.equal(dropped, 3, 'the impostor, NuGet.Common from nuget.org and Newtonsoft.Json from contoso.com');
  });

  it('one result per id served by several upstreams: every version, the newest one\'s metadata', () => {
    const both = (_: string) => ['internal', 'public'];
    const { results, dropped } = mergeSearchResults(
      [
        { source: 'internal', data: [result('Shared.Lib', ['1.0.0', '2.0.0'], 'inside')] },
        { source: 'public', data: [result('Shared.Lib', ['1.0.0', '1.5.0', '3.0.0'], 'public')] },
      ],
      both,
    );
    assert.equal(results.length, 1);
    assert.equal(dropped, 1);
    const r = results[0];
    assert.equal(r?.result['version'], '3.0.0');
    assert.equal(r?.result['description'], 'public');
    assert.deepEqual((r?.result['versions'] as Array<{ version: string }>).map((v) => v.version), ['1.0.0', '1.5.0', '2.0.0', '3.0.0']);
    assert.deepEqual(Object.fromEntries(r?.sources ?? []), { '1.0.0': 'internal', '2.0.0': 'internal', '1.5.0': 'public', '3.0.0': 'public' });
  });

  it('interleaves upstreams so both show on the first page', () => {
    const { results } = mergeSearchResults(
      [
        { source: 'contoso.com', data: [result('Contoso.A', ['1.0.0']), result('Contoso.B', ['1.0.0'])] },
        { source: 'nuget.org', data: [result('Alpha', ['1.0.0']), result('Beta', ['1.0.0'])] },
      ],
      routes,
    );
    assert.deepEqual(results.map((r) => r.lowerId), ['contoso.a', 'alpha', 'contoso.b', 'beta']);
  });
});

describe('mergeVulnerabilityIndexes', () => {
  const page = (name: string, token: string) => ({ '@name': name, '@id': `${BASE_MARKER}/v3/vulnerabilities/${name}/${token}.json`, '@updated': '2025-01-01T00:00:00Z' });
  it('keeps unique names, prefixes shared ones with the upstream name, at most 16 pages', () => {
    const merged = JSON.parse(
      mergeVulnerabilityIndexes([
        { upstream: 'public', body: JSON.stringify([page('base', 'aaaaaaaaaaaaaaaa'), page('update', 'bbbbbbbbbbbbbbbb')]) },
        { upstream: 'mirror', body: JSON.stringify([page('base', 'cccccccccccccccc'), page('extra', 'dddddddddddddddd')]) },
      ]),
    ) as Array<{ '@name': string; '@id': string }>;
    assert.deepEqual(
      merged.map((p) => p['@name']),
      ['public-base', 'update', 'mirror-base', 'extra'],
    );
    assert.ok(merged[0]?.['@id'].endsWith('/v3/vulnerabilities/public-base/aaaaaaaaaaaaaaaa.json'));
    const many = Array.from({ length: 20 }, (_, i) => page(`p${i}`, i.toString(16).padStart(16, '0')));
    assert.equal((JSON.parse(mergeVulnerabilityIndexes([{ upstream: 'a', body: JSON.stringify(many) }])) as unknown[]).length, 16);
  });
});
