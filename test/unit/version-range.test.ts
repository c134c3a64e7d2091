// Table tests for version ranges and floating versions (src/nuget/version-range.ts). Cases come from
// docs/concepts/Package-Versioning.md ("Version ranges" table, floating-version note) in
// NuGet/docs.microsoft.com-nuget, and from NuGet/NuGet.Client test/NuGet.Core.Tests/NuGet.Versioning.Test/
// (VersionRangeTests.cs, FloatingRangeTests.cs); the rules they check live in NuGet.Versioning
// VersionRangeFactory.cs, FloatRange.cs and VersionRange.cs (IsBetter / FindBestMatch).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVersion, toNormalizedString, type NuGetVersion } from '../../src/nuget/identity.ts';
import { ALL_VERSIONS, findBestMatch, parseRange, rangeContains, type VersionRange } from '../../src/nuget/version-range.ts';

function v(s: string): NuGetVersion {
  const parsed = parseVersion(s);
  assert.ok(parsed, `expected version '${s}' to parse`);
  return parsed;
}

function range(s: string): VersionRange {
  const r = parseRange(s);
  assert.ok(r, `expected range '${s}' to parse`);
  return r;
}

function n(x: NuGetVersion | null): string | null {
  return x === null ? null : toNormalizedString(x);
}

function best(r: string, available: readonly string[]): string | null {
  return n(findBestMatch(range(r), available.map(v)));
}

describe('parseRange: interval notation', () => {
  // [input, min, minInclusive, max, maxInclusive]: the docs' "Version ranges" table plus
  // VersionRangeTests.cs (ParseVersionRange*, PrettyPrint and ParseVersionParsesTokensVersionsCorrectly rows).
  const table: Array<[string, string | null, boolean, string | null, boolean]> = [
    ['1.0', '1.0.0', true, null, false],
    ['(1.0,)', '1.0.0', false, null, false],
    ['[1.0]', '1.0.0', true, '1.0.0', true],
    ['(,1.0]', null, false, '1.0.0', true],
    ['(,1.0)', null, false, '1.0.0', false],
    ['[1.0,2.0]', '1.0.0', true, '2.0.0', true],
    ['(1.0,2.0)', '1.0.0', false, '2.0.0', false],
    ['[1.0,2.0)', '1.0.0', true, '2.0.0', false],
    ['[1,3)', '1.0.0', true, '3.0.0', false],
    ['[1.3.2,1.5)', '1.3.2', true, '1.5.0', false],
    ['(4.1.3,)', '4.1.3', false, null, false],
    ['[1.0.0, ]', '1.0.0', true, null, true],
    ['(, 2.0.0]', null, false, '2.0.0', true],
    ['[, 2.0.0)', null, true, '2.0.0', false],
    ['(1.2.3.4, 3.2]', '1.2.3.4', false, '3.2.0', true],
    ['[2.3.7, 3.2.4.5]', '2.3.7', true, '3.2.4.5', true],
    ['[1.0.0-beta.1, 2.0.0-alpha.2]', '1.0.0-beta.1', true, '2.0.0-alpha.2', true],
    ['[1.0.0+beta.1, 2.0.0+alpha.2]', '1.0.0', true, '2.0.0', true],
    ['[1.0,1.0]', '1.0.0', true, '1.0.0', true],
    ['   [1.2 , 2.3 ]  ', '1.2.0', true, '2.3.0', true],
    [' 1.0.0', '1.0.0', true, null, false],
    ['[1.0.0] ', '1.0.0', true, '1.0.0', true],
  ];
  for (const [input, min, minInc, max, maxInc] of table) {
    it(`${JSON.stringify(input)} → ${minInc ? '[' : '('}${min ?? ''}, ${max ?? ''}${maxInc ? ']' : ')'}`, () => {
      const r = range(input);
      assert.deepEqual(
        { min: n(r.min), minInclusive: r.minInclusive, max: n(r.max), maxInclusive: r.maxInclusive, float: r.float },
        { min, minInclusive: minInc, max, maxInclusive: maxInc, float: null },
      );
      assert.equal(r.original, input);
    });
  }

  // Invalid: docs table ((1.0) is invalid) and VersionRangeTests.cs / VersionRangeFactory.cs rules.
  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    ['   ', 'whitespace'],
    ['(1.0)', 'single version must be [x] (docs: invalid)'],
    ['[1.0)', 'single version with mixed brackets'],
    ['(1.0]', 'single version with mixed brackets'],
    ['[2.0,1.0]', 'min above max'],
    ['[1.0,1.0)', 'equal bounds, one exclusive'],
    ['(1.0,1.0]', 'equal bounds, one exclusive'],
    ['(,)', 'no bounds at all (VersionRangeTests.cs ParseVersionThrowsIfExclusiveMinAndMaxVersionRangeContainsNoValues)'],
    ['[,]', 'no bounds, inclusive'],
    ['[,)', 'no bounds, mixed'],
    ['(,]', 'no bounds, mixed'],
    ['(,1.3..2]', 'bad max version'],
    ['(1.2.3.4.5,1.2]', 'five-part min'],
    ['   [-1, 2]  ', 'negative version'],
    ['[1.0,2.0,3.0]', 'three parts'],
    ['[1.0,2.0', 'unterminated'],
    ['1.0,2.0)', 'missing opening bracket'],
    ['[1.0,2.*)', 'the max cannot float'],
    ['[1.*]', 'an exact version cannot float'],
    ['not-a-version', 'garbage'],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${JSON.stringify(input)} (${why})`, () => {
      assert.equal(parseRange(input), null);
    });
  }

  it('accepts "(, )", the spelling of "every version" in registration dependency ranges (protocol digest §6.3)', () => {
    const r = range('(, )');
    assert.equal(r.min, null);
    assert.equal(r.max, null);
    assert.equal(rangeContains(r, v('0.0.1-alpha')), true);
    assert.equal(rangeContains(r, v('99.0.0')), true);
  });
});

describe('parseRange: floating versions', () => {
  // [input, normalized min]: FloatingRangeTests.cs FloatRange_ParsesCorrectMinVersion and the FloatingRange_Float* facts.
  const minTable: Array<[string, string]> = [
    ['*', '0.0.0'],
    ['*-*', '0.0.0-0'],
    ['1.*', '1.0.0'],
    ['1.0.*', '1.0.0'],
    ['1.0.0.*', '1.0.0'],
    ['1.1.*', '1.1.0'],
    ['1.*-*', '1.0.0-0'],
    ['1.1.*-*', '1.1.0-0'],
    ['1.0.0.*-*', '1.0.0-0'],
    ['1.0.0-*', '1.0.0-0'],
    ['1.1.1-*', '1.1.1-0'],
    ['1.1.1-beta*', '1.1.1-beta'],
    ['1.1.1-1*', '1.1.1-1'],
    ['1.1.*-beta*', '1.1.0-beta'],
    ['1.1.*-1*', '1.1.0-1'],
    ['1.0.0-beta.1*', '1.0.0-beta.1'],
    ['1.0.*-beta.1*', '1.0.0-beta.1'],
    ['1.0.0-b-*', '1.0.0-b-'],
    ['1.0.*-b-*', '1.0.0-b-'],
    ['1.1.0-beta.*', '1.1.0-beta.0'],
    ['1.1.*-beta.*', '1.1.0-beta.0'],
    ['*-beta.*', '0.0.0-beta.0'],
    ['*-rc.*', '0.0.0-rc.0'],
  ];
  for (const [input, min] of minTable) {
    it(`${input} floats from ${min}`, () => {
      const r = range(input);
      assert.ok(r.float, 'expected a float');
      assert.equal(n(r.min), min);
      assert.equal(r.minInclusive, true);
      assert.equal(r.max, null);
    });
  }

  const floatKinds: Array<[string, string, boolean]> = [
    ['*', 'major', false],
    ['1.*', 'minor', false],
    ['1.0.*', 'patch', false],
    ['1.0.0.*', 'revision', false],
    ['1.0.0-*', 'prerelease', true],
    ['1.0.0-beta*', 'prerelease', true],
    ['*-*', 'major', true],
    ['1.*-*', 'minor', true],
  ];
  for (const [input, behavior, includePrerelease] of floatKinds) {
    it(`${input}: behavior ${behavior}, prereleases ${includePrerelease ? 'included' : 'excluded'}`, () => {
      const r = range(input);
      assert.equal(r.float?.behavior, behavior);
      assert.equal(r.float?.includePrerelease, includePrerelease);
    });
  }

  it('a float may be the lower bound of an interval: [1.0.*, 2.0.0)', () => {
    const r = range('[1.0.*, 2.0.0)');
    assert.equal(r.float?.behavior, 'patch');
    assert.equal(n(r.min), '1.0.0');
    assert.equal(n(r.max), '2.0.0');
  });

  // FloatingRangeTests.cs FloatingRange_Parse_Valid / FloatingRange_Parse_Invalid.
  for (const input of ['1.0.0-preview.*', '1.0.*-bla*', '1.0.*-*', '1.0.*-preview.1.*', '1.0.*-preview.1*', '1.0.0--', '1.0.0-bla*', '1.0.*--*', '1.0.0--*']) {
    it(`accepts float ${input}`, () => {
      assert.notEqual(parseRange(input), null);
    });
  }
  for (const input of ['1.0.0+*', '1.0.**', '1.*.0', '1.0.*-*bla', '1.0.*-*bla+*', '**', '1.0.0-preview.*+blabla', '1.0.*--', '1.0.*-alpha*+', '1.0.*-']) {
    it(`rejects float ${input}`, () => {
      assert.equal(parseRange(input), null);
    });
  }
});

describe('rangeContains', () => {
  // VersionRangeTests.cs ParseVersionRangeSatisfies / ParseVersionRangeDoesNotSatisfy (metadata never matters).
  const yes: Array<[string, string]> = [
    ['1.0.0', '2.0.0'],
    ['[1.0.0, 2.0.0]', '2.0.0'],
    ['[1.0.0, 2.0.0]', '1.0.0'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0-beta+meta'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '2.0.0-beta'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0+meta'],
    ['(1.0.0-beta+meta, 2.0.0-beta+meta)', '1.0.0'],
    ['(1.0.0-beta+meta, 2.0.0-beta+meta)', '2.0.0-alpha+meta'],
    ['(, 2.0.0-beta+meta)', '2.0.0-alpha'],
    ['[1.0.0+A, 2.0.0+A]', '1.0.0+B'],
    ['[6,7)', '6.9.9.9'],
    ['[1.0]', '1.0.0.0'],
    ['1.0.0-beta.1*', '1.0.0-beta.1'],
    ['1.0.0-beta.1*', '1.0.0-beta.12'],
    ['1.0.*-preview.1.*', '1.0.0-preview.1.5'],
  ];
  for (const [r, version] of yes) {
    it(`${r} contains ${version}`, () => {
      assert.equal(rangeContains(range(r), v(version)), true);
    });
  }
  const no: Array<[string, string]> = [
    ['1.0.0', '0.0.0'],
    ['[1.0.0, 2.0.0]', '2.0.1'],
    ['[1.0.0, 2.0.0]', '0.0.0'],
    ['[1.0.0, 2.0.0]', '3.0.0'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0-alpha'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0-alpha+meta'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '2.0.0-rc'],
    ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '2.0.0+meta'],
    ['(1.0.0-beta+meta, 2.0.0-beta+meta)', '2.0.0-beta+meta'],
    ['(, 2.0.0-beta+meta)', '2.0.0-beta+meta'],
    ['(1.0,)', '1.0.0'],
    ['[6,7)', '7.0.0'],
    ['[1.0.0-beta, 2.0.0)', '2.0.0'],
  ];
  for (const [r, version] of no) {
    it(`${r} does not contain ${version}`, () => {
      assert.equal(rangeContains(range(r), v(version)), false);
    });
  }

  it('ALL_VERSIONS contains everything', () => {
    for (const s of ['0.0.0-0', '1.0.0', '2147483647.0.0']) assert.equal(rangeContains(ALL_VERSIONS, v(s)), true);
  });
});

describe('findBestMatch', () => {
  // [range, available, expected]: FloatingRangeTests.cs (FloatRange_* / FloatingRange_*Best facts).
  const fromFloatingRangeTests: Array<[string, string[], string | null]> = [
    ['1.0.0', ['1.0.0', '1.0.1', '2.0.0'], '1.0.0'],
    ['1.*', ['0.1.0', '1.0.0', '1.2.0', '2.0.0'], '1.2.0'],
    ['1.*', ['0.1.0', '2.0.0', '2.5.0', '3.3.0'], '2.0.0'],
    ['*', ['0.1.0', '2.0.0', '2.5.0', '3.3.0'], '3.3.0'],
    ['1.0.0-*', ['0.1.0-alpha', '1.0.0-alpha01', '1.0.0-alpha02', '2.0.0-beta', '2.0.1'], '1.0.0-alpha02'],
    ['1.0.0-*', ['0.1.0-alpha', '1.0.1-alpha01', '1.0.1-alpha02', '2.0.0-beta', '2.0.1'], '1.0.1-alpha01'],
    ['1.0.0-alpha*', ['0.1.0-alpha', '1.0.0-alpha01', '1.0.0-alpha02', '2.0.0-beta', '2.0.1'], '1.0.0-alpha02'],
    ['[1.0.*, 2.0.0)', ['0.1.0', '1.0.0-alpha.2', '2.0.0', '2.2.0', '3.0.0'], null],
    ['[1.0.*, 2.0.0)', ['0.1.0', '0.2.0', '1.0.0-alpha.2'], null],
    ['[1.0.*, 2.0.0)', ['2.0.0', '2.0.0-alpha.2', '3.1.0'], null],
    ['[1.0.*, )', ['0.1.0', '0.2.0', '1.0.0-alpha.2'], null],
    ['[1.0.*, )', ['0.1.0', '0.2.0', '1.0.0-alpha.2', '101.0.0'], '101.0.0'],
  ];
  for (const [r, available, expected] of fromFloatingRangeTests) {
    it(`${r} over [${available.join(', ')}] → ${expected}`, () => {
      assert.equal(best(r, available), expected);
    });
  }

  // Single candidate: VersionRangeTests.cs VersionRange_IsBetter_Prerelease. A prerelease is picked only when a
  // bound of the range is a prerelease or the float is a prerelease float (VersionRange.IsBetter).
  const single: Array<[string, string, boolean]> = [
    ['1.0.0', '1.0.1-beta', false],
    ['1.0.0', '1.0.1', true],
    ['1.0.0-*', '1.0.0-beta', true],
    ['1.0.0-beta.*', '1.0.0-beta.1', true],
    ['1.0.0-beta-*', '1.0.0-beta-01', true],
    ['1.0.0-beta-*', '2.0.0-beta', true],
    ['1.0.*', '1.0.0-beta', false],
    ['1.*', '1.0.0-beta', false],
    ['*', '1.0.0-beta', false],
    ['[1.0.0, 2.0.0]', '1.5.0-beta', false],
    ['[1.0.0, 2.0.0-beta]', '1.5.0-beta', true],
    ['[1.0.0-beta, 2.0.0]', '1.5.0-beta', true],
    ['[1.0.0-beta, 2.0.0]', '3.5.0-beta', false],
    ['[1.0.0-beta, 2.0.0]', '0.5.0-beta', false],
    ['[1.0.0-beta, 2.0.0)', '2.0.0', false],
    ['[1.0.0-beta, 2.0.0)', '2.0.0-beta', true],
    ['[1.0.*, 2.0.0-beta]', '2.0.0-beta', true],
  ];
  for (const [r, candidate, picked] of single) {
    it(`${r} ${picked ? 'picks' : 'does not pick'} ${candidate}`, () => {
      assert.equal(best(r, [candidate]), picked ? n(v(candidate)) : null);
    });
  }

  // Docs ("floating versions do not resolve prerelease versions unless opted into") and the NuGet/Home spec
  // "Support pre release packages with floating versions" (5.* vs 5.*-* over the same list).
  const list = ['5.1.0', '5.2.0', '5.3.0', '5.4.0', '5.5.0-preview.1', '5.5.0-preview.2', '5.5.0-preview.3'];
  const docs: Array<[string, string[], string | null]> = [
    ['5.*', list, '5.4.0'],
    ['5.*-*', list, '5.5.0-preview.3'],
    ['*-*', list, '5.5.0-preview.3'],
    ['*', list, '5.4.0'],
    ['5.5.0-preview.*', list, '5.5.0-preview.3'],
    ['5.5.0-preview.1*', list, '5.5.0-preview.1'],
    ['5.0', list, '5.1.0'],
    ['[5.2, 5.4)', list, '5.2.0'],
    ['(, 5.2.0]', list, '5.1.0'],
    ['[6.0, )', list, null],
    ['1.*', ['1.1.0-beta'], null],
    ['1.0.*', ['1.0.0', '1.0.5', '1.1.0'], '1.0.5'],
    ['1.0.0.*', ['1.0.0.1', '1.0.0.9', '1.0.1'], '1.0.0.9'],
    ['[1.0.0]', ['0.9.0', '1.0.0', '1.0.1'], '1.0.0'],
  ];
  for (const [r, available, expected] of docs) {
    it(`${r} over [${available.join(', ')}] → ${expected}`, () => {
      assert.equal(best(r, available), expected);
    });
  }

  it('returns null for an empty list and is not confused by input order', () => {
    assert.equal(findBestMatch(range('1.0'), []), null);
    assert.equal(best('1.0', ['3.0.0', '1.5.0', '2.0.0']), '1.5.0');
    assert.equal(best('1.*', ['1.2.0', '1.10.0', '1.9.0']), '1.10.0');
  });
});
