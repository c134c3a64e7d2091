// Tests for the bundle format (src/bundles/bundle-format.ts), the cache-path whitelist and metadata-file
// reading (src/tools/cache-files.ts) and selection files (src/prefetch/selection.ts). The metadata layout is
// checked against the real MetadataStore, so a change there breaks this test, not an import.

import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MetadataStore } from '../../src/storage/metadata-store.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import {
  BundleFormatError,
  compareWithManifest,
  makeHeader,
  makeManifest,
  parseHeader,
  parseManifest,
  sha512Hex,
} from '../../src/bundles/bundle-format.ts';
import { classifyCachePath, isAlwaysExportedKey, metadataPathOfKey, readMetadataHead } from '../../src/tools/cache-files.ts';
import { makeSelection, readSelection, SelectionError, writeSelection } from '../../src/prefetch/selection.ts';
import { makeTempDir } from '../helpers/proxy.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('classifyCachePath', () => {
  it('accepts the package files and metadata entries of the cache layout', () => {
    assert.deepEqual(classifyCachePath('packages/xunit/2.9.3/xunit.2.9.3.nupkg'), {
      kind: 'package',
      rel: 'packages/xunit/2.9.3/xunit.2.9.3.nupkg',
      lowerId: 'xunit',
      lowerVersion: '2.9.3',
      isNupkg: true,
    });
    for (const ok of [
      'packages/xunit/2.9.3/xunit.2.9.3.nupkg.sha512',
      'packages/xunit/2.9.3/xunit.nuspec',
      'packages/contoso.iconreadme/1.0.0/icon',
      'packages/contoso.iconreadme/1.0.0/readme',
      'packages/contoso.prerelease/1.0.0-beta.2/contoso.prerelease.1.0.0-beta.2.nupkg',
    ])
      assert.equal(classifyCachePath(ok)?.kind, 'package', ok);
    const h = 'ab'.padEnd(64, '0');
    assert.deepEqual(classifyCachePath(`metadata/ab/${h}.json`), { kind: 'metadata', rel: `metadata/ab/${h}.json`, hash: h });
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
      'generation',
      '',
    ])
      assert.equal(classifyCachePath(bad), null, bad);
  });
});

describe('metadata files', () => {
  it('finds and reads entries exactly where the MetadataStore writes them', async () => {
    const dir = await makeTempDir('meta');
    dirs.push(dir);
    const store = new MetadataStore({
      dir: join(dir, 'metadata'),
      memoryBytes: 1024,
      redisUrl: null,
      metrics: createMetrics({ defaultMetrics: false }),
      log: createLogger({ level: 'silent', format: 'json' }),
    });
    const body = `{"items":[${'"x",'.repeat(50_000)}"y"]}\nwith a newline`;
    await store.set('reg:semver2:xunit/index.json', { status: 200, body, etag: '"e"', lastModified: null, fetchedAt: 1_700_000_000_123, extra: { separatePages: '[]' } });
    await store.set('versions:nosuch', { status: 404, body: '', etag: null, lastModified: null, fetchedAt: 42 });
    await store.close();
    const rel = metadataPathOfKey('reg:semver2:xunit/index.json');
    assert.ok((await stat(join(dir, rel))).isFile(), rel);
    assert.equal(classifyCachePath(rel)?.kind, 'metadata');
    assert.deepEqual(await readMetadataHead(join(dir, rel)), { key: 'reg:semver2:xunit/index.json', status: 200, fetchedAt: 1_700_000_000_123 });
    assert.deepEqual(await readMetadataHead(join(dir, metadataPathOfKey('versions:nosuch'))), { key: 'versions:nosuch', status: 404, fetchedAt: 42 });
    assert.equal(await readMetadataHead(join(dir, 'missing.json')), null);
    await writeFile(join(dir, 'junk.json'), 'no newline at all');
    assert.equal(await readMetadataHead(join(dir, 'junk.json')), null);
  });

  it('always exports the service index, vulnerability data and signatures', () => {
    assert.ok(isAlwaysExportedKey('svc:index'));
    assert.ok(isAlwaysExportedKey('vuln:index'));
    assert.ok(isAlwaysExportedKey('vuln:page:0123456789abcdef'));
    assert.ok(isAlwaysExportedKey('sig:5.0.0'));
    assert.ok(!isAlwaysExportedKey('versions:xunit'));
    assert.ok(!isAlwaysExportedKey('reg:semver2:xunit/index.json'));
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

describe('selection files', () => {
  it('write and read back sorted and de-duplicated; refuse anything else', async () => {
    const dir = await makeTempDir('selection');
    dirs.push(dir);
    const path = join(dir, 'sel.json');
    const sel = makeSelection(
      [
        { lowerId: 'xunit', lowerVersion: '2.9.3' },
        { lowerId: 'contoso.a', lowerVersion: '1.0.0' },
        { lowerId: 'xunit', lowerVersion: '2.9.3' },
      ],
      ['versions:xunit', 'svc:index', 'versions:xunit'],
    );
    await writeSelection(path, sel);
    const back = await readSelection(path);
    assert.deepEqual(back, sel);
    assert.deepEqual(back.packages.map((p) => p.lowerId), ['contoso.a', 'xunit']);
    assert.deepEqual(back.metadataKeys, ['svc:index', 'versions:xunit']);
    assert.match(await readFile(path, 'utf8'), /"format": "nuget-proxy-selection"/);
    await writeFile(path, JSON.stringify({ ...sel, packages: [{ lowerId: '../x', lowerVersion: '1.0.0' }] }));
    await assert.rejects(readSelection(path), SelectionError);
    await writeFile(path, '{}');
    await assert.rejects(readSelection(path), /not a nuget-proxy-selection/);
  });
});
