// Tests for registration documents built from nuspecs (src/nuget/registration-synthesis.ts): leaf items, the
// nuget.org paging rule (< 128 versions: inlined pages of up to 64; >= 128: separate page documents) and exact
// lower/upper/count bounds, which clients use to skip pages. Shapes: docs/api/registration-base-url-resource.md;
// paging: protocol digest §6.2 (NuGetGallery RegistrationUrlBuilder.cs).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNuspec } from '../../src/nuget/nuspec.ts';
import { isSemVer1Leaf, nuspecCatalogEntry, registrationDocuments, type LeafItem } from '../../src/nuget/registration-synthesis.ts';

const BASES = { regBase: 'https://p.example/v3/registration/semver2/', flatBase: 'https://p.example/v3/flatcontainer/' };

function nuspecXml(id: string, version: string, extra = ''): string {
  return `<?xml version="1.0"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${id}</id>
    <version>${version}</version>
    <authors>Contoso</authors>
    <description>${id} ${version}</description>
    ${extra}
  </metadata>
</package>`;
}

function leaf(id: string, version: string, extra = ''): LeafItem {
  return nuspecCatalogEntry(parseNuspec(nuspecXml(id, version, extra)), BASES);
}

type Page = Record<string, unknown> & { items?: LeafItem[] };

/** `count` versions in known ascending order: 0.0.0-Beta, 0.0.0, 1.0.0-Beta, 1.0.0, … (upper-case label on purpose). */
function ascendingVersions(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    out.push(`${i}.0.0-Beta`);
    if (out.length < count) out.push(`${i}.0.0`);
  }
  return out;
}

/** A deterministic shuffle, so the test shows that the order of the input does not matter. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

describe('nuspecCatalogEntry', () => {
  const item = leaf(
    'Contoso.Lib',
    '1.2.0-RC.1+sha.abc',
    `<title>Contoso</title><tags>a b,c</tags><icon>icon.png</icon><license type="expression">MIT</license>
     <dependencies>
       <group><dependency id="Always.There" version="[1.0, )" /></group>
       <group targetFramework="net8.0"><dependency id="No.Range" /></group>
     </dependencies>`,
  );
  const entry = item.catalogEntry;
  const leafUrl = `${BASES.regBase}contoso.lib/1.2.0-rc.1.json`;
  const nupkg = `${BASES.flatBase}contoso.lib/1.2.0-rc.1/contoso.lib.1.2.0-rc.1.nupkg`;

  const fields: Array<[string, unknown, unknown]> = [
    ['@id', item['@id'], leafUrl],
    ['packageContent', item['packageContent'], nupkg],
    ['registration', item['registration'], `${BASES.regBase}contoso.lib/index.json`],
    ['catalogEntry.id (original case)', entry['id'], 'Contoso.Lib'],
    ['catalogEntry.version (full, with metadata and case)', entry['version'], '1.2.0-RC.1+sha.abc'],
    ['catalogEntry.packageContent', entry['packageContent'], nupkg],
    ['catalogEntry.iconUrl (embedded icon)', entry['iconUrl'], `${BASES.flatBase}contoso.lib/1.2.0-rc.1/icon`],
    ['catalogEntry.licenseExpression', entry['licenseExpression'], 'MIT'],
    ['catalogEntry.listed', entry['listed'], true],
    ['catalogEntry.tags', entry['tags'], ['a', 'b', 'c']],
  ];
  for (const [what, actual, expected] of fields) {
    it(`sets ${what}`, () => {
      assert.deepEqual(actual, expected);
    });
  }

  it('writes dependency groups with "(, )" for a missing range and a registration URL per dependency', () => {
    assert.deepEqual(entry['dependencyGroups'], [
      {
        '@type': 'PackageDependencyGroup',
        dependencies: [{ '@type': 'PackageDependency', id: 'Always.There', range: '[1.0, )', registration: `${BASES.regBase}always.there/index.json` }],
      },
      {
        '@type': 'PackageDependencyGroup',
        targetFramework: 'net8.0',
        dependencies: [{ '@type': 'PackageDependency', id: 'No.Range', range: '(, )', registration: `${BASES.regBase}no.range/index.json` }],
      },
    ]);
  });

  it('writes [""] for no tags and "" for no icon, as nuget.org does', () => {
    const plain = leaf('x', '1.0.0').catalogEntry;
    assert.deepEqual(plain['tags'], ['']);
    assert.equal(plain['iconUrl'], '');
  });

  it('lowers ids with ToLowerInvariant in every URL, like the request paths (İ → i)', () => {
    const turkish = leaf('\u0130pek.Lib', '1.0.0', '<dependencies><dependency id="\u0130pek.Core" version="1.0.0" /></dependencies>');
    assert.equal(turkish['packageContent'], `${BASES.flatBase}ipek.lib/1.0.0/ipek.lib.1.0.0.nupkg`);
    assert.equal(turkish['@id'], `${BASES.regBase}ipek.lib/1.0.0.json`);
    const dep = ((turkish.catalogEntry['dependencyGroups'] as Array<Record<string, unknown>>)[0]?.['dependencies'] as Array<Record<string, unknown>>)[0];
    assert.equal(dep?.['registration'], `${BASES.regBase}ipek.core/index.json`);
  });

  it('classifies SemVer 1 leaves', () => {
    assert.equal(isSemVer1Leaf(leaf('x', '1.0.0-beta')), true);
    assert.equal(isSemVer1Leaf(leaf('x', '1.0.0-beta.1')), false);
    assert.equal(isSemVer1Leaf(leaf('x', '1.0.0+meta')), false);
  });
});

describe('registrationDocuments paging', () => {
  // [versions, expected page sizes, inlined?]
  const table: Array<[number, number[], boolean]> = [
    [1, [1], true],
    [64, [64], true],
    [65, [64, 1], true],
    [100, [64, 36], true],
    [127, [64, 63], true],
    [128, [64, 64], false],
    [140, [64, 64, 12], false],
  ];
  for (const [count, sizes, inline] of table) {
    it(`${count} versions → ${sizes.length} ${inline ? 'inlined' : 'separate'} page(s) of ${sizes.join(', ')}`, () => {
      const versions = ascendingVersions(count);
      const docs = registrationDocuments('x', shuffled(versions.map((v) => leaf('X', v))), BASES);
      const indexUrl = `${BASES.regBase}x/index.json`;
      const items = docs.index['items'] as Page[];
      assert.equal(docs.index['@id'], indexUrl);
      assert.equal(docs.index['count'], sizes.length);
      assert.equal(items.length, sizes.length);
      assert.equal(docs.pages.length, sizes.length);

      let offset = 0;
      for (const [p, size] of sizes.entries()) {
        const lower = (versions[offset] ?? '').toLowerCase();
        const upper = (versions[offset + size - 1] ?? '').toLowerCase();
        offset += size;
        const item = items[p] ?? {};
        const page = docs.pages[p];
        assert.ok(page);
        assert.deepEqual([item['lower'], item['upper'], item['count']], [lower, upper, size], `index page ${p}`);
        assert.deepEqual([page.lower, page.upper], [lower, upper]);
        assert.deepEqual([page.document['lower'], page.document['upper'], page.document['count']], [lower, upper, size]);
        assert.equal(page.document['parent'], indexUrl);
        const pageItems = page.document['items'] as LeafItem[];
        assert.deepEqual(
          pageItems.map((l) => String(l.catalogEntry['version'])),
          versions.slice(offset - size, offset),
          `page ${p} holds its versions in ascending order`,
        );
        if (inline) {
          assert.equal(item['@id'], `${indexUrl}#page/${lower}/${upper}`);
          assert.equal(item['parent'], indexUrl);
          assert.equal((item['items'] as unknown[] | undefined)?.length, size, 'inlined page carries its leaves');
        } else {
          assert.equal(item['@id'], `${BASES.regBase}x/page/${lower}/${upper}.json`);
          assert.equal(page.document['@id'], item['@id']);
          assert.equal(item['items'], undefined, 'separate page: the index entry has no items');
        }
      }
      assert.equal(offset, count);
    });
  }

  it('keys leaf documents by lower-case normalized version', () => {
    const docs = registrationDocuments('x', [leaf('X', '2.0.0-RC.1+sha.1'), leaf('X', '1.0'), leaf('X', '1.0.0.1')], BASES);
    assert.deepEqual([...docs.leaves.keys()], ['1.0.0', '1.0.0.1', '2.0.0-rc.1']);
    const rc = docs.leaves.get('2.0.0-rc.1');
    assert.deepEqual(rc, {
      '@id': `${BASES.regBase}x/2.0.0-rc.1.json`,
      '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
      catalogEntry: `${BASES.regBase}x/2.0.0-rc.1.json#catalogEntry`,
      listed: true,
      packageContent: `${BASES.flatBase}x/2.0.0-rc.1/x.2.0.0-rc.1.nupkg`,
      published: new Date(0).toISOString(),
      registration: `${BASES.regBase}x/index.json`,
    });
  });

  it('sorts by NuGet precedence, not as strings', () => {
    const docs = registrationDocuments('x', ['10.0.0', '9.0.0', '1.0.0-rc.10', '1.0.0-rc.2', '1.0.0'].map((v) => leaf('X', v)), BASES);
    const [page] = docs.pages;
    assert.deepEqual(
      (page?.document['items'] as LeafItem[]).map((l) => l.catalogEntry['version']),
      ['1.0.0-rc.2', '1.0.0-rc.10', '1.0.0', '9.0.0', '10.0.0'],
    );
    assert.deepEqual([page?.lower, page?.upper], ['1.0.0-rc.2', '10.0.0']);
  });

  it('gives an index without pages for no versions', () => {
    const docs = registrationDocuments('x', [], BASES);
    assert.equal(docs.index['count'], 0);
    assert.deepEqual(docs.index['items'], []);
    assert.equal(docs.leaves.size, 0);
  });
});
