// Table tests for the proxy's URL parsing (src/nuget/paths.ts): flat-container file names and registration
// paths (where parsed names land in the cache: test/unit/layout.test.ts). Flat-container shapes: docs/api/package-base-address-resource.md;
// registration shapes: NuGetGallery RegistrationUrlBuilder.cs (protocol digest §5, §6.2).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseFlatFile,
  parseRegistrationPath,
  registrationRelativePath,
  type FlatFile,
} from '../../src/nuget/paths.ts';

describe('parseFlatFile: accepted requests', () => {
  // [id segment, version segment, file segment] → [lowerId, lowerVersion, file]
  const ok: Array<[string, string, string, string, string, FlatFile]> = [
    ['newtonsoft.json', '13.0.3', 'newtonsoft.json.13.0.3.nupkg', 'newtonsoft.json', '13.0.3', 'nupkg'],
    ['Newtonsoft.Json', '13.0.3', 'Newtonsoft.Json.13.0.3.nupkg', 'newtonsoft.json', '13.0.3', 'nupkg'],
    ['newtonsoft.json', '13.0.3', 'NEWTONSOFT.JSON.13.0.3.NUPKG', 'newtonsoft.json', '13.0.3', 'nupkg'],
    // A non-normalized version directory with the normalized file name, or with the name as written.
    ['x', '1.0', 'x.1.0.0.nupkg', 'x', '1.0.0', 'nupkg'],
    ['x', '1.0', 'x.1.0.nupkg', 'x', '1.0.0', 'nupkg'],
    ['x', '1.0.0.0', 'x.1.0.0.nupkg', 'x', '1.0.0', 'nupkg'],
    ['x', '1.0.0.0', 'x.1.0.0.0.nupkg', 'x', '1.0.0', 'nupkg'],
    ['x', '01.0', 'x.1.0.0.nupkg', 'x', '1.0.0', 'nupkg'],
    ['x', '1.00.0.1', 'x.1.0.0.1.nupkg', 'x', '1.0.0.1', 'nupkg'],
    ['x', '2.0.0-RC.1', 'x.2.0.0-rc.1.nupkg', 'x', '2.0.0-rc.1', 'nupkg'],
    ['X', '2.0.0-RC.1', 'X.2.0.0-RC.1.nupkg', 'x', '2.0.0-rc.1', 'nupkg'],
    ['x', '1.0.7+r3456', 'x.1.0.7.nupkg', 'x', '1.0.7', 'nupkg'],
    ['x', '1.0.7%2Br3456', 'x.1.0.7.nupkg', 'x', '1.0.7', 'nupkg'],
    ['x', '1.0.0', 'x%2E1.0.0.nupkg', 'x', '1.0.0', 'nupkg'],
    ['caf%C3%A9', '1.0.0', 'caf%C3%A9.1.0.0.nupkg', 'café', '1.0.0', 'nupkg'],
    ['xunit', '2.9.3', 'xunit.nuspec', 'xunit', '2.9.3', 'nuspec'],
    ['XUnit', '2.9.3', 'XUnit.nuspec', 'xunit', '2.9.3', 'nuspec'],
    ['xunit', '2.9.3', 'icon', 'xunit', '2.9.3', 'icon'],
    ['xunit', '2.9.3', 'readme', 'xunit', '2.9.3', 'readme'],
    ['xunit', '2.9.3', 'ICON', 'xunit', '2.9.3', 'icon'],
    ['x.nuspec', '1.0.0', 'x.nuspec.nuspec', 'x.nuspec', '1.0.0', 'nuspec'],
    ['x.nuspec', '1.0.0', 'x.nuspec.1.0.0.nupkg', 'x.nuspec', '1.0.0', 'nupkg'],
  ];
  for (const [idSeg, versionSeg, fileSeg, lowerId, lowerVersion, file] of ok) {
    it(`${idSeg}/${versionSeg}/${fileSeg} → ${lowerId} ${lowerVersion} ${file}`, () => {
      assert.deepEqual(parseFlatFile(idSeg, versionSeg, fileSeg), { ok: true, value: { lowerId, lowerVersion, file } });
    });
  }
});

describe('parseFlatFile: rejected requests', () => {
  const rejected: Array<[string, string, string, 400 | 404, string]> = [
    // The file name must name the same package as the directories.
    ['x', '1.0.0', 'y.1.0.0.nupkg', 404, 'another id in the file name'],
    ['x', '1.0.0', 'x.1.0.1.nupkg', 404, 'another version in the file name'],
    ['x', '1.0.0', 'x.nupkg', 404, 'no version in the file name'],
    ['x', '1.0.0', 'x.1.0.0.nupkg.sha512', 404, 'not a served file'],
    ['x', '1.0.0', 'y.nuspec', 404, 'nuspec of another id'],
    ['x', '1.0.0', 'x.1.0.0.nuspec', 404, 'nuspec name with a version'],
    ['x', '1.0.0', 'index.json', 404, 'unknown file'],
    ['x', '1.0.0', '', 404, 'empty file name'],
    ['x', '1.0.0', '..%2F..%2Fetc%2Fpasswd', 404, 'encoded slashes in the file name'],
    ['x', '1.0.0', 'x.1.0.0.nupkg%2F..', 404, 'encoded slash after a valid name'],
    ['x', '1.0.0', '%E0%A4%A', 404, 'malformed percent-encoding in the file name'],
    // Bad ids are bad requests.
    ['..', '1.0.0', 'x.1.0.0.nupkg', 400, 'dot-dot id'],
    ['%2e%2e', '1.0.0', 'x.1.0.0.nupkg', 400, 'encoded dot-dot id'],
    ['%2E%2E', '1.0.0', '%2E%2E.1.0.0.nupkg', 400, 'upper-case encoded dot-dot id'],
    ['a%2Fb', '1.0.0', 'a%2Fb.1.0.0.nupkg', 400, 'encoded slash in the id'],
    ['a%5Cb', '1.0.0', 'a%5Cb.1.0.0.nupkg', 400, 'encoded backslash in the id'],
    ['a%00b', '1.0.0', 'a.1.0.0.nupkg', 400, 'encoded NUL in the id'],
    ['a..b', '1.0.0', 'a..b.1.0.0.nupkg', 400, 'double dot in the id'],
    ['a b', '1.0.0', 'a b.1.0.0.nupkg', 400, 'space in the id'],
    ['%E0%A4%A', '1.0.0', 'x.1.0.0.nupkg', 400, 'malformed percent-encoding in the id'],
    ['a'.repeat(101), '1.0.0', 'x.nuspec', 400, 'id longer than 100'],
    // Bad versions are bad requests.
    ['x', '%2e%2e', 'x.1.0.0.nupkg', 400, 'encoded dot-dot version'],
    ['x', '..', 'x.nuspec', 400, 'dot-dot version'],
    ['x', '1.0.0%2F..', 'x.nuspec', 400, 'encoded slash in the version'],
    ['x', 'a.b', 'x.a.b.nupkg', 400, 'letters'],
    ['x', '1.0.0-01', 'x.1.0.0-01.nupkg', 400, 'leading zero in a numeric label'],
    ['x', '1.2.3.4.5', 'x.nuspec', 400, 'five parts'],
  ];
  for (const [idSeg, versionSeg, fileSeg, status, why] of rejected) {
    it(`${status} for ${JSON.stringify(`${idSeg.slice(0, 20)}/${versionSeg}/${fileSeg}`)} (${why})`, () => {
      const r = parseFlatFile(idSeg, versionSeg, fileSeg);
      assert.equal(r.ok, false);
      assert.equal(r.ok ? 0 : r.status, status);
    });
  }
});

describe('parseRegistrationPath', () => {
  const ok: Array<[string[], string]> = [
    [['newtonsoft.json', 'index.json'], 'index newtonsoft.json'],
    [['Newtonsoft.Json', 'INDEX.JSON'], 'index newtonsoft.json'],
    [['x', 'page', '1.0.0', '2.0.0.json'], 'page x 1.0.0 2.0.0'],
    [['X', 'Page', '1.0', '2.0-Beta.JSON'], 'page x 1.0.0 2.0.0-beta'],
    [['x', '1.0.0.json'], 'leaf x 1.0.0'],
    [['x', '1.0.json'], 'leaf x 1.0.0'],
    [['x', '4.3.0-Beta.json'], 'leaf x 4.3.0-beta'],
    [['x', '1.0.0.0.json'], 'leaf x 1.0.0'],
  ];
  for (const [segments, expected] of ok) {
    it(`${segments.join('/')} → ${expected}`, () => {
      const r = parseRegistrationPath(segments);
      assert.ok(r.ok, `expected ${segments.join('/')} to parse`);
      const p = r.value;
      const summary =
        p.kind === 'index' ? `index ${p.lowerId}` : p.kind === 'page' ? `page ${p.lowerId} ${p.lower} ${p.upper}` : `leaf ${p.lowerId} ${p.lowerVersion}`;
      assert.equal(summary, expected);
    });
  }

  const rejected: Array<[string[], 400 | 404, string]> = [
    [[], 404, 'nothing'],
    [['x'], 404, 'id only'],
    [['x', 'index.txt'], 404, 'not json'],
    [['x', 'junk'], 404, 'junk without extension'],
    [['x', 'index.json', 'extra'], 404, 'extra segment after the index'],
    [['x', 'page', '1.0.0'], 404, 'page without upper bound'],
    [['x', 'page', '1.0.0', '2.0.0'], 404, 'page upper bound without .json'],
    [['x', 'page', '1.0.0', '2.0.0.json', 'more'], 404, 'extra segment after a page'],
    [['x', 'pages', '1.0.0', '2.0.0.json'], 404, 'not the page keyword'],
    [['x', '1.0.0', 'index.json'], 404, 'nested below a version'],
    [['..', 'index.json'], 400, 'dot-dot id'],
    [['%2e%2e', 'index.json'], 400, 'encoded dot-dot id'],
    [['a%2Fb', 'index.json'], 400, 'encoded slash in the id'],
    [['x', 'junk.json'], 400, 'leaf name that is not a version'],
    [['x', 'page', 'a', '2.0.0.json'], 400, 'page lower bound that is not a version'],
    [['x', 'page', '1.0.0', '%2e%2e.json'], 400, 'page upper bound that is not a version'],
  ];
  for (const [segments, status, why] of rejected) {
    it(`${status} for ${JSON.stringify(segments.join('/'))} (${why})`, () => {
      const r = parseRegistrationPath(segments);
      assert.equal(r.ok, false);
      assert.equal(r.ok ? 0 : r.status, status);
    });
  }

  it('registrationRelativePath gives back the canonical lower-case path', () => {
    const cases: Array<[string[], string]> = [
      [['Newtonsoft.Json', 'Index.json'], 'newtonsoft.json/index.json'],
      [['X', 'page', '1.0', '2.0-RC.1.json'], 'x/page/1.0.0/2.0.0-rc.1.json'],
      [['X', '1.0.0.0.json'], 'x/1.0.0.json'],
    ];
    for (const [segments, expected] of cases) {
      const r = parseRegistrationPath(segments);
      assert.ok(r.ok);
      assert.equal(registrationRelativePath(r.value), expected);
    }
  });
});

