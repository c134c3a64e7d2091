// Package Source Mapping matching (src/nuget/source-mapping.ts), table-driven with the cases from NuGet's
// docs (test/helpers/source-mapping-cases.ts); test/integration/source-mapping-nuget.test.ts runs the same
// table through NuGet's own NuGet.Configuration.dll.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PackageSourceMapping, PatternSet, patternProblem } from '../../src/nuget/source-mapping.ts';
import { MAPPING_CASES } from '../helpers/source-mapping-cases.ts';

describe('PackageSourceMapping: NuGet rules', () => {
  for (const c of MAPPING_CASES) {
    it(c.name, () => {
      const m = new PackageSourceMapping(c.mapping);
      for (const [id, expected] of Object.entries(c.expect)) assert.deepEqual(m.sourcesFor(id), expected, `${id}`);
    });
  }
});

describe('patternProblem', () => {
  const table: Array<[string, boolean]> = [
    ['*', true],
    ['Contoso.*', true],
    ['NuGet*', true],
    ['Contoso.Core', true],
    ['', false],
    ['   ', false],
    ['Contoso.*.Core', false],
    ['**', false],
    ['Two Words', false],
    ['x'.repeat(101), false],
  ];
  for (const [pattern, ok] of table) {
    it(`${JSON.stringify(pattern.slice(0, 20))} is ${ok ? 'valid' : 'refused'}`, () => {
      assert.equal(patternProblem(pattern) === null, ok, patternProblem(pattern) ?? '');
    });
  }
});

describe('PatternSet', () => {
  it('matches exact ids and prefixes, case-insensitively', () => {
    const s = new PatternSet(['Evil.*', 'Some.Package']);
    assert.ok(s.matches('evil.thing'));
    assert.ok(s.matches('EVIL.'));
    assert.ok(s.matches('some.package'));
    assert.ok(!s.matches('Some.Package.Extra'));
    assert.ok(!s.matches('Evil'));
    assert.ok(!new PatternSet([]).matches('anything'));
  });
});
