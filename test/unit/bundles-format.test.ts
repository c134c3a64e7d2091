// Tests for the bundle format (src/bundles/bundle-format.ts): which blob keys a bundle carries, the header
// and the manifest.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BundleFormatError,
  bundleEntryOf,
  compareWithManifest,
  makeHeader,
  makeManifest,
  parseHeader,
  parseManifest,
  sha512Hex,
} from '../../src/bundles/bundle-format.ts';
import { isAlwaysExportedKey } from '../../src/resources/keys.ts';
import { GENERATION_KEY, packageKey } from '../../src/storage/layout.ts';

describe('bundleEntryOf', () => {
  it('accepts the package files and metadata entries of the cache layout under their blob keys', () => {
    assert.deepEqual(bundleEntryOf('packages/xunit/2.9.3/xunit.2.9.3.nupkg'), {
      kind: 'package',
      key: 'packages/xunit/2.9.3/xunit.2.9.3.nupkg',
      lowerId: 'xunit',
      lowerVersion: '2.9.3',
      file: 'nupkg',
    });
    for (const ok of [
      'packages/xunit/2.9.3/xunit.2.9.3.nupkg.sha512',
      'packages/xunit/2.9.3/xunit.nuspec',
      'packages/contoso.iconreadme/1.0.0/icon',
      'packages/contoso.iconreadme/1.0.0/readme',
      'packages/contoso.prerelease/1.0.0-beta.2/contoso.prerelease.1.0.0-beta.2.nupkg',
    ])
      assert.equal(bundleEntryOf(ok)?.kind, 'package', ok);
    const h = 'ab'.padEnd(64, '0');
    assert.deepEqual(bundleEntryOf(`metadata/ab/${h}.json`), { kind: 'metadata', key: `metadata/ab/${h}.json`, hash: h });
  });

  it('refuses pins (they stay where they are), escapes and everything that is not a cache entry', () => {
    for (const bad of [packageKey('xunit', '2.9.3', 'pinned'), '../evil', '/etc/passwd', 'packages/xunit/2.9.3/evil.sh', GENERATION_KEY, 'tmp/import-1/x', ''])
      assert.equal(bundleEntryOf(bad), null, bad);
  });

  it('always carries the service index, vulnerability data and signatures', () => {
    assert.ok(isAlwaysExportedKey('svc:index'));
    assert.ok(isAlwaysExportedKey('vuln:index'));
    assert.ok(isAlwaysExportedKey('vuln:page:0123456789abcdef'));
    assert.ok(isAlwaysExportedKey('sig:5.0.0'));
    assert.ok(!isAlwaysExportedKey('versions:xunit'));
    assert.ok(!isAlwaysExportedKey('reg:semver2:xunit/index.json'));
    // Named upstreams (several in --config): the same documents under `u:{name}:`.
    assert.ok(isAlwaysExportedKey('u:internal:svc:index'));
    assert.ok(isAlwaysExportedKey('u:public:vuln:page:0123456789abcdef'));
    assert.ok(!isAlwaysExportedKey('u:internal:versions:contoso.core'));
  });
});

describe('manifest and header', () => {
  const a = Buffer.from('a');
  const files = [
    { path: 'packages/a/1.0.0/a.1.0.0.nupkg', size: 1, sha512: sha512Hex(a) },
    { path: 'metadata/00/x.json', size: 0, sha512: sha512Hex('') },
  ];

  it('round-trips and accepts an intact extraction', () => {
    const m = parseManifest(Buffer.from(JSON.stringify(makeManifest(files))));
    assert.equal(m.totalBytes, 1);
    assert.deepEqual(compareWithManifest(m, new Map(files.map((f) => [f.path, { size: f.size, sha512: f.sha512 }]))), []);
    assert.equal(parseHeader(Buffer.from(JSON.stringify(makeHeader(true, 'test')))).selection, true);
  });

  it('reports missing, extra, resized and altered files', () => {
    const m = makeManifest(files);
    const extracted = new Map([
      ['packages/a/1.0.0/a.1.0.0.nupkg', { size: 1, sha512: sha512Hex('b') }],
      ['packages/b/1.0.0/b.1.0.0.nupkg', { size: 1, sha512: sha512Hex('b') }],
    ]);
    const problems = compareWithManifest(m, extracted);
    assert.equal(problems.length, 3);
    assert.match(problems.join('\n'), /a\.1\.0\.0\.nupkg does not match its SHA-512/);
    assert.match(problems.join('\n'), /metadata\/00\/x\.json is listed in the manifest but missing/);
    assert.match(problems.join('\n'), /b\.1\.0\.0\.nupkg is in the bundle but not in its manifest/);
    assert.match(compareWithManifest(m, new Map([[files[0]?.path ?? '', { size: 2, sha512: files[0]?.sha512 ?? '' }]]))[0] ?? '', /has 2 bytes/);
  });

  it('refuses other formats, future versions and malformed entries', () => {
    assert.throws(() => parseHeader(Buffer.from('{"format":"zip"}')), BundleFormatError);
    assert.throws(() => parseHeader(Buffer.from('{"format":"nuget-proxy-bundle","formatVersion":2}')), /version 2 is not supported/);
    assert.throws(() => parseManifest(Buffer.from('{"format":"nuget-proxy-bundle","formatVersion":1,"files":[{"path":"a","size":-1,"sha512":"00"}]}')), /invalid entry/);
    assert.throws(() => parseManifest(Buffer.from('[')), /not valid JSON/);
  });
});
