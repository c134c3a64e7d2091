// Table tests for package ids and versions (src/nuget/identity.ts): validation, invariant lowering,
// normalization, precedence. Cases come from docs/concepts/Package-Versioning.md
// (NuGet/docs.microsoft.com-nuget) and the NuGet.Versioning test suite (NuGet/NuGet.Client,
// test/NuGet.Core.Tests/NuGet.Versioning.Test/*.cs); each table names its source.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareVersions,
  isPrerelease,
  isSemVer2,
  isValidPackageId,
  normalizeLowerVersion,
  parseVersion,
  sortVersionStrings,
  toFullString,
  toLowerId,
  toLowerInvariant,
  toLowerVersion,
  toNormalizedString,
  type NuGetVersion,
} from '../../src/nuget/identity.ts';

function mustParse(s: string): NuGetVersion {
  const v = parseVersion(s);
  assert.ok(v, `expected '${s}' to parse`);
  return v;
}

describe('isValidPackageId', () => {
  // Rule: ^\w+([.-]\w+)*$ with .NET's Unicode \w ([\p{L}\p{Mn}\p{Nd}\p{Pc}]), at most 100 chars
  // (NuGet.Packaging PackageIdValidator.cs; protocol digest §3.1).
  const valid: Array<[string, string]> = [
    ['Newtonsoft.Json', 'dotted id'],
    ['xunit.runner.visualstudio', 'several dots'],
    ['Microsoft.NET.Test.Sdk', 'mixed case'],
    ['my-package', 'dash separator'],
    ['a_b', 'underscore is a word char'],
    ['_', 'a lone underscore'],
    ['1', 'a lone digit'],
    ['Ünïcödé.Paket', 'Latin letters with diacritics'],
    ['пакет.тест', 'Cyrillic'],
    ['中文包', 'CJK (Lo)'],
    ['e\u0301clair', 'combining acute accent (Mn)'],
    ['a\u203Fb', 'undertie (Pc, connector punctuation)'],
    ['\u0661\u0662\u0663', 'Arabic-Indic digits (Nd)'],
    ['a'.repeat(100), 'exactly 100 chars'],
    ['a.b-c.d', 'dots and dashes alternating with words'],
  ];
  for (const [id, why] of valid) {
    it(`accepts ${JSON.stringify(id.length > 30 ? `${id.slice(0, 10)}…(${id.length})` : id)} (${why})`, () => {
      assert.equal(isValidPackageId(id), true);
    });
  }

  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    ['.a', 'leading dot'],
    ['a.', 'trailing dot'],
    ['-a', 'leading dash'],
    ['a..b', 'two dots'],
    ['a.-b', 'dot then dash'],
    ['a/b', 'slash'],
    ['a\\b', 'backslash'],
    ['../x', 'path traversal'],
    ['..', 'dot-dot'],
    ['a b', 'space'],
    ['a+b', 'plus'],
    ['a:b', 'colon'],
    ['a%2eb', 'percent sign'],
    ['😀', 'emoji (So) is not a word char'],
    ['a\u0000b', 'NUL'],
    ['abc\n', 'trailing newline (.NET $ would allow it before a final \\n; a URL path must not)'],
    ['a'.repeat(101), '101 chars'],
  ];
  for (const [id, why] of invalid) {
    it(`rejects ${JSON.stringify(id.length > 30 ? `${id.slice(0, 10)}…(${id.length})` : id)} (${why})`, () => {
      assert.equal(isValidPackageId(id), false);
    });
  }
});

describe('toLowerInvariant', () => {
  // .NET String.ToLowerInvariant: simple (1:1) Unicode case mapping, culture-invariant
  // (protocol digest §3.1; package-base-address-resource.md says ids are lowered with ToLowerInvariant).
  const cases: Array<[string, string, string]> = [
    ['Newtonsoft.Json', 'newtonsoft.json', 'ASCII'],
    ['MICROSOFT.NET.TEST.SDK', 'microsoft.net.test.sdk', 'ASCII upper'],
    ['I', 'i', 'invariant, not Turkish: I → i, not dotless ı'],
    ['\u0130', 'i', 'Turkish capital dotted İ → plain i (simple mapping, no combining dot)'],
    ['\u0130stanbul.Lib', 'istanbul.lib', 'İ inside an id'],
    ['\u03A3', '\u03C3', 'lone Σ → σ'],
    ['\u039F\u0394\u039F\u03A3', '\u03BF\u03B4\u03BF\u03C3', 'word-final Σ stays σ, never final ς'],
    ['\u01C5', '\u01C6', 'titlecase ǅ → ǆ'],
    ['\u01C4', '\u01C6', 'Ǆ → ǆ'],
    ['\u00DF', '\u00DF', 'ß has no lowercase change'],
    ['\u1E9E', '\u00DF', 'capital sharp S ẞ → ß'],
    ['\u212A', 'k', 'Kelvin sign → k'],
    ['\u2126', '\u03C9', 'Ohm sign → ω'],
    ['ÄÖÜ', 'äöü', 'Latin-1'],
    ['ПАКЕТ', 'пакет', 'Cyrillic'],
    ['中文', '中文', 'uncased script unchanged'],
  ];
  for (const [input, expected, why] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)} (${why})`, () => {
      assert.equal(toLowerInvariant(input), expected);
    });
  }

  it('maps every BMP code unit to exactly one code unit, as .NET does', () => {
    for (let c = 0; c <= 0xffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCharCode(c);
      const lower = toLowerInvariant(ch);
      assert.equal(lower.length, 1, `U+${c.toString(16).padStart(4, '0')} lowered to ${lower.length} units`);
    }
  });
});

describe('toLowerId', () => {
  const cases: Array<[string, string | null]> = [
    ['Newtonsoft.Json', 'newtonsoft.json'],
    ['\u0130pek.Lib', 'ipek.lib'],
    ['../x', null],
    ['', null],
    ['a'.repeat(101), null],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input.slice(0, 20))} → ${JSON.stringify(expected)}`, () => {
      assert.equal(toLowerId(input), expected);
    });
  }
});

describe('parseVersion + normalization', () => {
  // docs/concepts/Package-Versioning.md "Normalized version numbers" and protocol digest §3.3 table;
  // extra rows from NuGetVersionTest.cs (ToStringReturnsNormalizedForSemVer2, ParseReadsLegacyStyleVersionNumbers)
  // and VersionParsingTests.cs (VersionLength).
  const table: Array<[input: string, normalized: string, full: string, lower: string]> = [
    ['1', '1.0.0', '1.0.0', '1.0.0'],
    ['1.0', '1.0.0', '1.0.0', '1.0.0'],
    ['1.0.0', '1.0.0', '1.0.0', '1.0.0'],
    ['1.0.0.0', '1.0.0', '1.0.0', '1.0.0'],
    ['1.00', '1.0.0', '1.0.0', '1.0.0'],
    ['01.0', '1.0.0', '1.0.0', '1.0.0'],
    ['1.01.1', '1.1.1', '1.1.1', '1.1.1'],
    ['1.00.0.1', '1.0.0.1', '1.0.0.1', '1.0.0.1'],
    ['1.0.01.0', '1.0.1', '1.0.1', '1.0.1'],
    ['1.0.7+r3456', '1.0.7', '1.0.7+r3456', '1.0.7'],
    ['2.0.0-RC.1+sha.abc', '2.0.0-RC.1', '2.0.0-RC.1+sha.abc', '2.0.0-rc.1'],
    ['4.3.0-Beta', '4.3.0-Beta', '4.3.0-Beta', '4.3.0-beta'],
    ['1.022', '1.22.0', '1.22.0', '1.22.0'],
    ['1.3.42.10133', '1.3.42.10133', '1.3.42.10133', '1.3.42.10133'],
    ['1.0+A', '1.0.0', '1.0.0+A', '1.0.0'],
    ['1.0-1.1', '1.0.0-1.1', '1.0.0-1.1', '1.0.0-1.1'],
    ['1.0-1.1+B.B', '1.0.0-1.1', '1.0.0-1.1+B.B', '1.0.0-1.1'],
    ['1.0.0009.01-1.1+A', '1.0.9.1-1.1', '1.0.9.1-1.1+A', '1.0.9.1-1.1'],
    ['1.0.0-0a', '1.0.0-0a', '1.0.0-0a', '1.0.0-0a'],
    ['1.0.0+001', '1.0.0', '1.0.0+001', '1.0.0'],
    ['1.2.3-X.y.3+Meta-2', '1.2.3-X.y.3', '1.2.3-X.y.3+Meta-2', '1.2.3-x.y.3'],
    ['1.3.2-CTP-2-Refresh-Alpha', '1.3.2-CTP-2-Refresh-Alpha', '1.3.2-CTP-2-Refresh-Alpha', '1.3.2-ctp-2-refresh-alpha'],
    ['0.1.2--B2.-.C.-A0-', '0.1.2--B2.-.C.-A0-', '0.1.2--B2.-.C.-A0-', '0.1.2--b2.-.c.-a0-'],
    ['0.1.2+----.-.-.-', '0.1.2', '0.1.2+----.-.-.-', '0.1.2'],
    ['  1.022-Beta', '1.22.0-Beta', '1.22.0-Beta', '1.22.0-beta'],
    ['23.2.3-Alpha  ', '23.2.3-Alpha', '23.2.3-Alpha', '23.2.3-alpha'],
    ['2147483647.0', '2147483647.0.0', '2147483647.0.0', '2147483647.0.0'],
  ];
  for (const [input, normalized, full, lower] of table) {
    it(`${JSON.stringify(input)} → N ${normalized}, F ${full}, URL ${lower}`, () => {
      const v = mustParse(input);
      assert.equal(toNormalizedString(v), normalized);
      assert.equal(toFullString(v), full);
      assert.equal(toLowerVersion(v), lower);
      assert.equal(normalizeLowerVersion(input), lower);
    });
  }

  it('splits parts, labels and metadata (VersionParsingTests.cs ReleaseLabelParsing / MetadataParsing)', () => {
    const v = mustParse('1.0.0-RC.X.35.A.3455+Meta-A-B-C');
    assert.deepEqual(
      { major: v.major, minor: v.minor, patch: v.patch, revision: v.revision, releaseLabels: [...v.releaseLabels], metadata: v.metadata },
      { major: 1, minor: 0, patch: 0, revision: 0, releaseLabels: ['RC', 'X', '35', 'A', '3455'], metadata: 'Meta-A-B-C' },
    );
    const four = mustParse('3.4.0.3-RC-3');
    assert.deepEqual([four.major, four.minor, four.patch, four.revision, [...four.releaseLabels]], [3, 4, 0, 3, ['RC-3']]);
  });

  // Invalid: the brief's list, NuGetVersionTest.cs ParseThrowsIfStringIsNotAValidSemVer, SemVer201SpecTests.cs.
  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    ['   ', 'whitespace only'],
    ['1.0.0-', 'empty release label'],
    ['1.0.0-01', 'numeric label with a leading zero'],
    ['1.0.0-beta.01', 'numeric label part with a leading zero'],
    ['0.1.2-2.A.02', 'numeric label part with a leading zero, later position'],
    ['1.0.0+', 'empty metadata'],
    ['0.1.2+02..A', 'empty metadata part'],
    ['0.1.2+2+A', 'second plus'],
    ['0.1.2-Alpha..2', 'empty label part'],
    ['0.1.2-.AA', 'label starting with a dot'],
    ['1.0.0-beta.', 'label ending with a dot'],
    ['a.b', 'letters'],
    ['So.is.this', 'words'],
    ['1beta', 'label without dash'],
    ['1.2.3.Beta', 'label in the fourth part'],
    ['1.34.2Alpha', 'label glued to patch'],
    ['1.2.3.4.5', 'five parts'],
    ['-1.0', 'negative major'],
    ['1.-2.3', 'negative minor'],
    ['1..0', 'empty part'],
    ['1.2..', 'trailing empty parts'],
    ['1.2.', 'trailing dot'],
    ['.1', 'leading dot'],
    ['1.0.0-beta_1', 'underscore in label'],
    ['0.1.2-alp=ha', '= in label'],
    ['1.4.7-A^A', '^ in label'],
    ['1.4.7+AA.01^', '^ in metadata'],
    ['1.0.0-\u00C4\u00C4', 'non-ASCII label'],
    ['0.1.2+\u00C4\u00C4', 'non-ASCII metadata'],
    ['1.4.7-*', 'float is not a version'],
    ['$version$', 'unreplaced token'],
    ['2147483648.0', 'major above int32'],
    ['1.2147483648', 'minor above int32'],
    ['99999999999999999999', 'far above int32'],
    ['0x10', 'hex'],
    ['1e3', 'exponent'],
    ['+1.0', 'leading plus'],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${JSON.stringify(input)} (${why})`, () => {
      assert.equal(parseVersion(input), null);
      assert.equal(normalizeLowerVersion(input), null);
    });
  }
});

describe('compareVersions', () => {
  // Ascending order from docs/concepts/Package-Versioning.md (pre-release precedence) and protocol digest §3.4.
  const docsOrder = ['1.0.1-aaa', '1.0.1-alpha', '1.0.1-alpha10', '1.0.1-alpha2', '1.0.1-beta', '1.0.1-open', '1.0.1-rc', '1.0.1-rc.2', '1.0.1-rc.10', '1.0.1-zzz', '1.0.1'];
  it(`orders ${docsOrder.join(' < ')}`, () => {
    for (let i = 0; i + 1 < docsOrder.length; i++) {
      const a = mustParse(docsOrder[i] ?? '');
      const b = mustParse(docsOrder[i + 1] ?? '');
      assert.equal(compareVersions(a, b), -1, `${docsOrder[i]} < ${docsOrder[i + 1]}`);
      assert.equal(compareVersions(b, a), 1, `${docsOrder[i + 1]} > ${docsOrder[i]}`);
    }
  });

  // [lower, higher]: NuGetVersionTest.cs SemVerLessThanAndGreaterThanOperatorsWorks and SemVer201SpecTests.cs sort tests.
  const less: Array<[string, string]> = [
    ['1.0', '1.0.1'],
    ['1.23', '1.231'],
    ['1.4.5.6', '1.45.6'],
    ['1.4.5.6', '1.4.5.60'],
    ['1.01', '1.10'],
    ['1.01-alpha', '1.10-beta'],
    ['1.01.0-RC-1', '1.10.0-rc-2'],
    ['1.01-RC-1', '1.01'],
    ['1.01', '1.2-preview'],
    ['1.0.0', '1.0.0.1'],
    ['1.0.0.9', '1.0.0.10'],
    ['9.9.9', '10.1.1'],
    ['1.2.3-alpha', '1.2.3'],
    ['1.2.3-2', '1.2.3-3'],
    ['1.2.3-1.9', '1.2.3-1.50'],
    ['1.2.3-2A', '1.2.3-3A'],
    ['1.2.3-1.50A', '1.2.3-1.9A'],
    ['1.2.3-999999', '1.2.3-Z'],
    ['1.2.3-A.999999', '1.2.3-A.56-2'],
    ['1.2.3-a', '1.2.3-a.2'],
    ['1.2.3-a.2.3.4', '1.2.3-a.2.3.4.5'],
    ['1.0.0-alpha', '1.0.0-alpha.1'],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta'],
    ['1.0.0-beta.2', '1.0.0-beta.11'],
    ['1.0.0-rc.1', '1.0.0'],
    ['1.0.0-Alpha', '1.0.0-beta'],
    ['1.0.0-alpha', '1.0.0-BETA'],
  ];
  for (const [lo, hi] of less) {
    it(`${lo} < ${hi}`, () => {
      assert.equal(compareVersions(mustParse(lo), mustParse(hi)), -1);
      assert.equal(compareVersions(mustParse(hi), mustParse(lo)), 1);
    });
  }

  // NuGetVersionTest.cs SemVerEqualsOperatorWorks, SemVer201SpecTests.cs SemVerSortIgnoreReleaseCasing; metadata ignored.
  const equal: Array<[string, string]> = [
    ['1.0', '1.0.0.0'],
    ['1.23.01', '1.23.1'],
    ['1.45.6', '1.45.6.0'],
    ['1.45.6-Alpha', '1.45.6-Alpha'],
    ['1.6.2-BeTa', '1.6.02-beta'],
    ['22.3.07     ', '22.3.07'],
    ['1.2.3-a', '1.2.3-A'],
    ['1.2.3-A-b2-C', '1.2.3-a-B2-c'],
    ['1.0.0+a', '1.0.0+b'],
    ['1.0.0-rc.1+x', '1.0.0-RC.1'],
  ];
  for (const [a, b] of equal) {
    it(`${JSON.stringify(a)} == ${JSON.stringify(b)}`, () => {
      assert.equal(compareVersions(mustParse(a), mustParse(b)), 0);
      assert.equal(compareVersions(mustParse(b), mustParse(a)), 0);
    });
  }
});

describe('isPrerelease / isSemVer2', () => {
  // docs/concepts/Package-Versioning.md "Semantic Versioning 2.0.0": dotted label or metadata makes a version SemVer2-only.
  const table: Array<[string, boolean, boolean]> = [
    ['1.0.0', false, false],
    ['1.0.0-alpha', true, false],
    ['1.0.0-alpha-1', true, false],
    ['1.0.0-alpha.1', true, true],
    ['1.0.0+githash', false, true],
    ['1.0.0-beta+meta', true, true],
    ['1.0.0.1', false, false],
  ];
  for (const [input, pre, semver2] of table) {
    it(`${input}: prerelease=${pre}, semver2=${semver2}`, () => {
      const v = mustParse(input);
      assert.equal(isPrerelease(v), pre);
      assert.equal(isSemVer2(v), semver2);
    });
  }
});

describe('sortVersionStrings', () => {
  it('sorts by NuGet precedence, keeps the strings as written and drops unparsable ones', () => {
    const input = ['1.0.1', 'not-a-version', '1.0.1-rc.10', '10.0.0', '1.0.1-ALPHA10', '2.0.0', '1.0.1-alpha2', '1.0.1-rc.2', '1.0.0.1', '1.0', '1.0.1-aaa', '1.0.0-01'];
    assert.deepEqual(sortVersionStrings(input), [
      '1.0',
      '1.0.0.1',
      '1.0.1-aaa',
      '1.0.1-ALPHA10',
      '1.0.1-alpha2',
      '1.0.1-rc.2',
      '1.0.1-rc.10',
      '1.0.1',
      '2.0.0',
      '10.0.0',
    ]);
  });

  it('accepts any iterable', () => {
    assert.deepEqual(sortVersionStrings(new Set(['2.0.0', '1.0.0'])), ['1.0.0', '2.0.0']);
  });
});
