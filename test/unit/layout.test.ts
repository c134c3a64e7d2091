// Tests for the cache layout (src/storage/layout.ts): package keys in the global-packages folder layout, that
// no request a client can send lands outside packages/<id>/<version>/, and classifyKey — the whitelist of
// package files and metadata entries — round-tripping every key the layout builds and refusing the rest; and
// that layout.ts stays the one module that spells a cache key, and the offline tools reach storage only
// through the BlobStore interface.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { describe, it } from 'node:test';
import { checkKey } from '../../src/storage/blob-store.ts';
import { parseFlatFile } from '../../src/nuget/paths.ts';
import { GENERATION_KEY, PACKAGE_FILES, classifyKey, metadataHash, metadataKey, packageDirPrefix, packageKey, packageKeys, quarantineKey } from '../../src/storage/layout.ts';

describe('packageKey', () => {
  it('uses the global-packages folder layout', () => {
    assert.equal(packageKey('newtonsoft.json', '13.0.3', 'nupkg'), 'packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg');
    assert.equal(packageKey('newtonsoft.json', '13.0.3', 'sha512'), 'packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg.sha512');
    assert.equal(packageKey('newtonsoft.json', '13.0.3', 'nuspec'), 'packages/newtonsoft.json/13.0.3/newtonsoft.json.nuspec');
    assert.equal(packageKey('newtonsoft.json', '13.0.3', 'icon'), 'packages/newtonsoft.json/13.0.3/icon');
    assert.equal(packageKey('newtonsoft.json', '13.0.3', 'readme'), 'packages/newtonsoft.json/13.0.3/readme');
    assert.equal(packageKey('newtonsoft.json', '13.0.3', 'pinned'), 'packages/newtonsoft.json/13.0.3/pinned');
    assert.equal(packageDirPrefix('x', '1.0.0'), 'packages/x/1.0.0/');
    assert.deepEqual(packageKeys('x', '1.0.0').at(-1), 'packages/x/1.0.0/x.1.0.0.nupkg', 'the .nupkg last');
  });

  // Every id/version/file combination a client can send either fails to parse or lands inside packages/<id>/<version>/.
  const ids = ['x', 'X', '..', '.', '%2e%2e', '%2E', 'a%2Fb', 'a%5C..', '%2F', '%00', 'a.b', 'con', 'x'.repeat(100), '..%2F..', 'café', '\u0130'];
  const versions = ['1.0.0', '1.0', '..', '%2e%2e', '1.0.0%2F..', '1.0.0-RC.1', '2.0.0+meta', '.', '%2F', '1.0.0-..'];
  const files = ['x.1.0.0.nupkg', 'x.nuspec', 'icon', 'readme', '..', '%2e%2e', '..%2F..%2Fx', 'x.1.0.nupkg', '%2E%2E%2Fx.nuspec'];
  it(`never escapes packages/ (${ids.length * versions.length * files.length} combinations)`, () => {
    let accepted = 0;
    for (const id of ids) {
      for (const version of versions) {
        for (const file of files) {
          const r = parseFlatFile(id, version, file);
          if (!r.ok) continue;
          accepted++;
          const p = packageKey(r.value.lowerId, r.value.lowerVersion, r.value.file);
          assert.equal(posix.normalize(p), p, `${p} is not normalized`);
          assert.ok(p.startsWith(packageDirPrefix(r.value.lowerId, r.value.lowerVersion)), p);
          assert.equal(p.split('/').length, 4, `${p} has extra segments`);
          assert.equal(checkKey(p), p, 'a safe blob key');
          assert.deepEqual(classifyKey(p), { kind: 'package', key: p, lowerId: r.value.lowerId, lowerVersion: r.value.lowerVersion, file: r.value.file });
        }
      }
    }
    assert.ok(accepted > 0, 'the table should contain some valid requests');
  });
});

describe('quarantineKey', () => {
  it('moves a package file under quarantine/{stamp}/, outside everything a proxy reads', () => {
    const key = quarantineKey('20250102T030405Z', packageKey('newtonsoft.json', '13.0.3', 'nupkg'));
    assert.equal(key, 'quarantine/20250102T030405Z/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg');
    assert.equal(checkKey(key), key);
    assert.equal(classifyKey(key), null, 'not a package file any more');
    assert.throws(() => quarantineKey('x', 'metadata/ab/x.json'), /not a package key/);
  });
});

describe('classifyKey', () => {
  it('recognizes every key the layout builds', () => {
    for (const [id, version] of [['xunit', '2.9.3'], ['contoso.prerelease', '1.0.0-beta.2'], ['x', '1.0.0.1']] as const) {
      for (const file of PACKAGE_FILES) {
        const key = packageKey(id, version, file);
        assert.deepEqual(classifyKey(key), { kind: 'package', key, lowerId: id, lowerVersion: version, file }, key);
      }
    }
    const key = metadataKey('reg:semver2:xunit/index.json');
    const hash = metadataHash('reg:semver2:xunit/index.json');
    assert.equal(key, `metadata/${hash.slice(0, 2)}/${hash}.json`);
    assert.deepEqual(classifyKey(key), { kind: 'metadata', key, hash });
  });

  it('refuses escapes, absolute paths, other names and everything outside packages/ and metadata/', () => {
    const h = 'ab'.padEnd(64, '0');
    for (const bad of [
      '../evil',
      'packages/../../evil/1.0.0/evil.1.0.0.nupkg',
      'packages/xunit/../../../etc/passwd',
      '/etc/passwd',
      'packages/xunit/2.9.3/../../x/1.0.0/x.1.0.0.nupkg',
      'packages\\xunit\\2.9.3\\xunit.2.9.3.nupkg',
      'packages/XUnit/2.9.3/XUnit.2.9.3.nupkg',
      'packages/xunit/2.9.3.0/xunit.2.9.3.0.nupkg',
      'packages/xunit/2.9.3/other.2.9.3.nupkg',
      'packages/xunit/2.9.3/evil.sh',
      'packages/xunit/2.9.3/xunit.2.9.3.nupkg/x',
      'packages/./2.9.3/x',
      `metadata/cd/${h}.json`,
      `metadata/ab/${h}.json.1a2b.tmp`,
      `metadata/ab/../${h}.json`,
      'tmp/import-1/x',
      'locks/x',
      GENERATION_KEY,
      'generation',
      '',
    ])
      assert.equal(classifyKey(bad), null, bad);
  });
});

describe('one module knows the layout', () => {
  const src = new URL('../../src/', import.meta.url).pathname;

  async function sources(): Promise<Array<{ path: string; code: string }>> {
    const out: Array<{ path: string; code: string }> = [];
    for (const name of await readdir(src, { recursive: true })) {
      if (!name.endsWith('.ts')) continue;
      const text = await readFile(join(src, name), 'utf8');
      // Comments may name keys; code may not.
      const code = text
        .split('\n')
        .filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line))
        .join('\n');
      out.push({ path: relative(src, join(src, name)), code });
    }
    return out;
  }

  it('no module but src/storage/layout.ts writes a cache key prefix in code', async () => {
    const files = await sources();
    assert.ok(files.length > 30, 'found the sources');
    const offenders = files
      .filter((f) => f.path !== 'storage/layout.ts')
      .filter((f) => /['"`](packages|metadata|state|quarantine|tmp|locks)\/|['"`]generation['"`]|\.nupkg\.sha512['"`]/.test(f.code))
      .map((f) => f.path);
    assert.deepEqual(offenders, []);
  });

  it('the command line, the cache commands, prefetch and bundles use the BlobStore interface, never a backend', async () => {
    const offenders = (await sources())
      .filter((f) => /^(cli|cache-admin|prefetch|bundles)\//.test(f.path))
      .filter((f) => /disk-blob-store\.ts|from '\.\.\/cache\//.test(f.code))
      .map((f) => f.path);
    assert.deepEqual(offenders, []);
  });
});
