// Tests for nuspec parsing (src/nuget/nuspec.ts) on the real nuspecs installed under /opt/nuget/packages and on
// small hand-written documents. Schema: docs/reference/nuspec.md (dependencies, dependency groups, license).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toLowerInvariant } from '../../src/nuget/identity.ts';
import { NuspecError, parseNuspec } from '../../src/nuget/nuspec.ts';

const PACKAGES_DIR = '/opt/nuget/packages';

/** Every {id}/{version}/{id}.nuspec in the global-packages folder. */
function realNuspecs(): Array<{ lowerId: string; lowerVersion: string; path: string }> {
  const out: Array<{ lowerId: string; lowerVersion: string; path: string }> = [];
  for (const lowerId of readdirSync(PACKAGES_DIR)) {
    for (const lowerVersion of readdirSync(join(PACKAGES_DIR, lowerId))) {
      const path = join(PACKAGES_DIR, lowerId, lowerVersion, `${lowerId}.nuspec`);
      out.push({ lowerId, lowerVersion, path });
    }
  }
  return out;
}

function nuspec(metadata: string, attrs = ''): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata${attrs}>
    ${metadata}
  </metadata>
</package>`;
}

describe('parseNuspec on the real packages in /opt/nuget/packages', () => {
  const all = realNuspecs();

  it('finds the installed nuspecs', () => {
    assert.ok(all.length >= 16, `found ${all.length}`);
  });

  for (const { lowerId, lowerVersion, path } of all) {
    it(`parses ${lowerId} ${lowerVersion}`, () => {
      const n = parseNuspec(readFileSync(path, 'utf8'));
      assert.equal(toLowerInvariant(n.id), lowerId);
      assert.equal(n.fullVersion.toLowerCase(), lowerVersion);
      assert.ok(n.authors.length > 0, 'authors');
      assert.ok(n.description.length > 0, 'description');
      for (const g of n.dependencyGroups) {
        for (const d of g.dependencies) assert.ok(d.id.length > 0, 'dependency id');
      }
    });
  }

  it('reads xunit 2.9.3: flat dependencies, license expression, embedded icon and readme', () => {
    const n = parseNuspec(readFileSync(join(PACKAGES_DIR, 'xunit/2.9.3/xunit.nuspec'), 'utf8'));
    assert.equal(n.id, 'xunit');
    assert.equal(n.fullVersion, '2.9.3');
    assert.equal(n.title, 'xUnit.net');
    assert.equal(n.authors, 'jnewkirk,bradwilson');
    assert.equal(n.minClientVersion, '2.12');
    assert.equal(n.licenseExpression, 'Apache-2.0');
    assert.equal(n.licenseUrl, 'https://licenses.nuget.org/Apache-2.0');
    assert.equal(n.iconFile, '_content/logo-128-transparent.png');
    assert.equal(n.readmeFile, '_content/README.md');
    assert.equal(n.requireLicenseAcceptance, false);
    assert.match(n.description, /^xUnit\.net is a developer testing framework/);
    assert.match(n.description, /xunit\.core, xunit\.assert, and xunit\.analyzers\.$/);
    assert.deepEqual(n.dependencyGroups, [
      {
        targetFramework: '',
        dependencies: [
          { id: 'xunit.core', range: '[2.9.3]' },
          { id: 'xunit.assert', range: '2.9.3' },
          { id: 'xunit.analyzers', range: '1.18.0' },
        ],
      },
    ]);
  });

  it('reads Newtonsoft.Json 13.0.3: empty and populated dependency groups per framework', () => {
    const n = parseNuspec(readFileSync(join(PACKAGES_DIR, 'newtonsoft.json/13.0.3/newtonsoft.json.nuspec'), 'utf8'));
    assert.equal(n.id, 'Newtonsoft.Json');
    assert.equal(n.licenseExpression, 'MIT');
    assert.equal(n.iconUrl, 'https://www.newtonsoft.com/content/images/nugeticon.png');
    assert.equal(n.iconFile, 'packageIcon.png');
    assert.equal(n.tags, 'json');
    assert.deepEqual(
      n.dependencyGroups.map((g) => [g.targetFramework, g.dependencies.length]),
      [
        ['.NETFramework2.0', 0],
        ['.NETFramework3.5', 0],
        ['.NETFramework4.0', 0],
        ['.NETFramework4.5', 0],
        ['.NETStandard1.0', 4],
        ['.NETStandard1.3', 6],
        ['net6.0', 0],
        ['.NETStandard2.0', 0],
      ],
    );
    assert.deepEqual(n.dependencyGroups[4]?.dependencies[0], { id: 'Microsoft.CSharp', range: '4.3.0' });
  });

  it('reads xunit.abstractions 2.0.3: a licenseUrl without a license expression', () => {
    const n = parseNuspec(readFileSync(join(PACKAGES_DIR, 'xunit.abstractions/2.0.3/xunit.abstractions.nuspec'), 'utf8'));
    assert.equal(n.licenseExpression, '');
    assert.equal(n.licenseUrl, 'https://raw.githubusercontent.com/xunit/xunit/master/license.txt');
  });
});

describe('parseNuspec on hand-written documents', () => {
  it('reads groups with and without targetFramework', () => {
    const n = parseNuspec(
      nuspec(`<id>Contoso.Lib</id><version>1.0.0</version><authors>a</authors><description>d</description>
      <dependencies>
        <group><dependency id="Always" version="[1.0,2.0)" /></group>
        <group targetFramework="net8.0"><dependency id="Only.Net8" version="8.0.0" /><dependency id="NoRange" /></group>
        <group targetFramework="netstandard2.0" />
      </dependencies>`),
    );
    assert.deepEqual(n.dependencyGroups, [
      { targetFramework: '', dependencies: [{ id: 'Always', range: '[1.0,2.0)' }] },
      { targetFramework: 'net8.0', dependencies: [{ id: 'Only.Net8', range: '8.0.0' }, { id: 'NoRange', range: '' }] },
      { targetFramework: 'netstandard2.0', dependencies: [] },
    ]);
  });

  it('reads a single flat dependency (not wrapped in an array by the XML) as one group', () => {
    const n = parseNuspec(nuspec('<id>x</id><version>1.0.0</version><dependencies><dependency id="Only" version="1.0.0" /></dependencies>'));
    assert.deepEqual(n.dependencyGroups, [{ targetFramework: '', dependencies: [{ id: 'Only', range: '1.0.0' }] }]);
  });

  it('has no groups without <dependencies>', () => {
    assert.deepEqual(parseNuspec(nuspec('<id>x</id><version>1.0.0</version>')).dependencyGroups, []);
  });

  it('reads a license expression as licenseExpression and a license file as licenseFile', () => {
    const expr = parseNuspec(nuspec('<id>x</id><version>1.0.0</version><license type="expression">MIT OR Apache-2.0</license>'));
    assert.equal(expr.licenseExpression, 'MIT OR Apache-2.0');
    assert.equal(expr.licenseFile, '');
    const file = parseNuspec(nuspec('<id>x</id><version>1.0.0</version><license type="file">LICENSE.txt</license>'));
    assert.equal(file.licenseExpression, '');
    assert.equal(file.licenseFile, 'LICENSE.txt');
  });

  it('keeps full version with metadata and original case, normalized', () => {
    const n = parseNuspec(nuspec('<id>X</id><version>01.0-Beta.1+Build.7</version>'));
    assert.equal(n.fullVersion, '1.0.0-Beta.1+Build.7');
    assert.deepEqual([...n.version.releaseLabels], ['Beta', '1']);
  });

  it('decodes entities, reads package types and requireLicenseAcceptance', () => {
    const n = parseNuspec(
      nuspec(`<id>x</id><version>1.0.0</version><description>a &amp; b &lt;c&gt;</description>
      <requireLicenseAcceptance>True</requireLicenseAcceptance>
      <packageTypes><packageType name="DotnetTool" /><packageType name="Dependency" version="1.0" /></packageTypes>`),
    );
    assert.equal(n.description, 'a & b <c>');
    assert.equal(n.requireLicenseAcceptance, true);
    assert.deepEqual(n.packageTypes, ['DotnetTool', 'Dependency']);
  });

  it('gives empty strings for absent display fields', () => {
    const n = parseNuspec(nuspec('<id>x</id><version>1.0.0</version>'));
    assert.deepEqual(
      [n.title, n.summary, n.owners, n.tags, n.projectUrl, n.iconUrl, n.iconFile, n.readmeFile, n.language, n.minClientVersion],
      ['', '', '', '', '', '', '', '', '', ''],
    );
  });
});

describe('parseNuspec errors', () => {
  const notNuspec: Array<[string, string]> = [
    [nuspec('<version>1.0.0</version>'), 'missing <id>'],
    [nuspec('<id></id><version>1.0.0</version>'), 'empty <id>'],
    [nuspec('<id>   </id><version>1.0.0</version>'), 'blank <id>'],
    [nuspec('<id>x</id>'), 'missing <version>'],
    [nuspec('<id>x</id><version>1.0.0-01</version>'), 'invalid <version>'],
    [nuspec('<id>x</id><version>$version$</version>'), 'unreplaced version token'],
    ['<package><files /></package>', 'no <metadata>'],
    ['<metadata><id>x</id><version>1.0.0</version></metadata>', 'no <package> root'],
    ['', 'empty document'],
    ['not xml at all', 'plain text'],
  ];
  for (const [xml, why] of notNuspec) {
    it(`throws NuspecError for ${why}`, () => {
      assert.throws(() => parseNuspec(xml), NuspecError);
    });
  }

  // The contract says "a nuspec with a valid id": ids become URL and blob-path segments downstream.
  const invalidIds = ['a/b', '../evil', 'a b', 'a..b'];
  for (const id of invalidIds) {
    it(`throws NuspecError for the invalid id ${JSON.stringify(id)}`, () => {
      assert.throws(() => parseNuspec(nuspec(`<id>${id}</id><version>1.0.0</version>`)), NuspecError);
    });
  }

  // Not well-formed XML (an XML parser such as XDocument, which NuGet uses, rejects all of these).
  const malformed: Array<[string, string]> = [
    ['<package><metadata><id>x</id><version>1.0.0</version></metadata></package', 'unterminated end tag'],
    ['<package><metadata><id>x</id><version>1.0.0</version></metadatax></package>', 'mismatched end tag'],
    ['<package><metadata><id>x</id><version>1.0.0</version></package>', 'missing </metadata>'],
    ['<package><metadata><id>x</id><version>1.0.0</version></metadata>', 'truncated: missing </package>'],
    ['<package><metadata><id>x</id><version>1.0.0</version><description>a & b</description></metadata></package>', 'bare ampersand'],
  ];
  for (const [xml, why] of malformed) {
    it(`throws NuspecError for malformed XML: ${why}`, () => {
      assert.throws(() => parseNuspec(xml), NuspecError);
    });
  }
});
