// Tests for the cache commands' package patterns (src/cache-admin/patterns.ts) and their tables
// (src/cli/table.ts): ids as NuGet lower-cases them, versions in normalized form, `*` anywhere, bad
// patterns refused together; columns padded, numbers right-aligned.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactIds, matchesAny, parsePattern, parsePatterns, PatternError } from '../../src/cache-admin/patterns.ts';
import { renderTable } from '../../src/cli/table.ts';

describe('package patterns', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['Newtonsoft.Json', 'newtonsoft.json', '13.0.3', true],
    ['NEWTONSOFT.JSON@13.0.3', 'newtonsoft.json', '13.0.3', true],
    ['newtonsoft.json@13.0', 'newtonsoft.json', '13.0.0', true],
    ['newtonsoft.json@13.0.3.0', 'newtonsoft.json', '13.0.3', true],
    ['newtonsoft.json@13.0.3', 'newtonsoft.json', '13.0.30', false],
    ['newtonsoft.json@13.*', 'newtonsoft.json', '13.0.30', true],
    ['newtonsoft.json@13.*', 'newtonsoft.json', '12.0.3', false],
    ['Microsoft.*', 'microsoft.extensions.logging', '8.0.0', true],
    ['Microsoft.*', 'newtonsoft.json', '8.0.0', false],
    ['*', 'anything', '1.0.0', true],
    ['*@*-beta*', 'x', '1.0.0-beta.2', true],
    ['*@*-beta*', 'x', '1.0.0', false],
    ['contoso.prerelease@1.0.0-RC.1', 'contoso.prerelease', '1.0.0-rc.1', true],
    ['a.b', 'aXb', '1.0.0', false],
    ['Café.Lib', 'café.lib', '1.0.0', true],
  ];
  for (const [pattern, lowerId, lowerVersion, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${lowerId} ${lowerVersion}`, () => {
      assert.equal(matchesAny([parsePattern(pattern)], lowerId, lowerVersion), expected);
    });
  }

  it('no patterns match everything; several add up', () => {
    assert.equal(matchesAny([], 'x', '1.0.0'), true);
    const ps = parsePatterns(['a', 'b@2.0.0']);
    assert.equal(matchesAny(ps, 'b', '2.0.0'), true);
    assert.equal(matchesAny(ps, 'b', '1.0.0'), false);
  });

  it('names the ids to list when no id has a *', () => {
    assert.deepEqual(exactIds(parsePatterns(['B', 'a@1.0.0', 'b@2.0.0'])), ['a', 'b']);
    assert.equal(exactIds(parsePatterns(['a', 'b*'])), null);
    assert.equal(exactIds([]), null);
  });

  it('refuses what is no id or version, every problem at once', () => {
    try {
      parsePatterns(['../etc', 'x@1.0.0.0.0', 'ok', '@1.0.0', 'x@', '-x']);
      assert.fail('expected a PatternError');
    } catch (err) {
      assert.ok(err instanceof PatternError);
      assert.match(err.message, /'\.\.\/etc': not a package id pattern/);
      assert.match(err.message, /'1\.0\.0\.0\.0' is not a valid NuGet version/);
      assert.match(err.message, /'@1\.0\.0': not a package id pattern/);
      assert.match(err.message, /'x@': not a version pattern/);
      assert.match(err.message, /'-x' is not a valid package id/);
      assert.doesNotMatch(err.message, /'ok'/);
    }
  });

  it('treats regular-expression characters literally', () => {
    assert.throws(() => parsePattern('a(b'), PatternError);
    assert.equal(matchesAny([parsePattern('a.*@1.0.0+meta')], 'a.b', '1.0.0'), true, 'metadata is not part of a version');
  });
});

describe('renderTable', () => {
  it('pads columns, right-aligns the ones asked, trims line ends', () => {
    const t = renderTable(['ID', 'SIZE', 'NOTE'], [['a', '1 KB', ''], ['longer.id', '10.5 MB', 'x']], ['left', 'right']);
    assert.equal(t, ['ID            SIZE  NOTE', 'a             1 KB', 'longer.id  10.5 MB  x'].join('\n'));
  });
});
