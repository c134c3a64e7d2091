// `nuget-proxy export` and `import` on a cache filled by prefetch from the real fake upstream: identical
// round trips (tar and tar.gz), selections, merging into a cache that already has entries, refusal of
// corrupted, truncated and path-escaping bundles with the target cache unchanged, and an offline proxy
// serving what was imported (including one already running when the import happens).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { parseConfig } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { exportBundle, importBundle, type ImportResult } from '../../src/bundles/export.ts';
import { HEADER_PATH, MANIFEST_PATH, MANIFEST_SHA512_PATH, makeHeader, makeManifest, sha512Hex } from '../../src/bundles/bundle-format.ts';
import { metadataPathOfKey, readMetadataHead } from '../../src/tools/cache-files.ts';
import { prefetch } from '../../src/prefetch/prefetch.ts';
import { TarWriter } from '../../src/bundles/tar.ts';
import { ToolError } from '../../src/cli/tool.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy } from '../helpers/proxy.ts';
import { runCli } from '../helpers/clients.ts';

const silent: Logger = createLogger({ level: 'silent', format: 'json' });
const deps = { log: silent };
let upstream: FakeUpstream;
let work: string;
/** Filled by prefetch: xunit's closure, a paged package, an icon/readme package, a vulnerable one. */
let source: string;
/** The whole of `source`. */
let fullBundle: string;
const dirs: string[] = [];

async function tempDir(prefix: string): Promise<string> {
  const d = await makeTempDir(prefix);
  dirs.push(d);
  return d;
}

function exportConfig(cacheDir: string, output: string, selection?: string) {
  return parseConfig('export', ['--output', output, ...(selection ? ['--selection', selection] : [])], { NUGET_PROXY_CACHE_DIR: cacheDir }).config;
}

function importConfig(cacheDir: string) {
  return parseConfig('import', [], { NUGET_PROXY_CACHE_DIR: cacheDir }).config;
}

/** Every file of a cache directory with its SHA-512, except the temp dir and the generation stamp. */
async function listing(cacheDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await readdir(cacheDir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = join(e.parentPath, e.name).slice(cacheDir.length + 1);
    if (rel === 'generation' || rel.startsWith('tmp/')) continue;
    out.set(rel, createHash('sha512').update(await readFile(join(cacheDir, rel))).digest('hex'));
  }
  return out;
}

/** Full listing including tmp/ (a refused import must leave no staging directory behind). */
async function everything(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();
}

before(async () => {
  upstream = await startStandardFakeUpstream();
  work = await tempDir('bundle');
  source = join(work, 'source');
  await writeFile(join(work, 'a.txt'), 'xunit@2.9.3\nContoso.Paged@1.0.5\nContoso.IconReadme@1.0.0\nContoso.Vulnerable@1.0.0\n');
  const config = parseConfig('prefetch', ['--selection', join(work, 'a.selection.json')], {
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_CACHE_DIR: source,
  }).config;
  const a = await prefetch(config, [join(work, 'a.txt')], deps);
  assert.deepEqual(a.failures, []);
  // A second prefetch without a selection: in the cache, but not in a.selection.json.
  await writeFile(join(work, 'b.txt'), 'Contoso.Tool@1.0.0\n');
  const b = await prefetch({ ...config, selection: null }, [join(work, 'b.txt')], deps);
  assert.deepEqual(b.failures, []);
  fullBundle = join(work, 'full.tar');
  await exportBundle(exportConfig(source, fullBundle), deps);
});

after(async () => {
  await upstream?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('export then import', () => {
  it('recreates the cache file for file into an empty directory', async () => {
    const target = join(await tempDir('import-empty'), 'cache');
    const r = await importBundle(importConfig(target), fullBundle, deps);
    const want = await listing(source);
    assert.deepEqual(await listing(target), want);
    assert.equal(r.files, want.size);
    assert.equal(r.packagesAdded, 11);
    assert.equal(r.conflicts.length, 0);
    assert.deepEqual(await everything(join(target, 'tmp')), [], 'staging removed');
    assert.ok(await stat(join(target, 'generation')).then((s) => s.isFile()));
  });

  it('leaves temp files and the generation stamp out of the bundle', async () => {
    const dirty = join(await tempDir('dirty'), 'cache');
    await cp(source, dirty, { recursive: true });
    await mkdir(join(dirty, 'tmp'), { recursive: true });
    await writeFile(join(dirty, 'tmp', 'abc-partial.nupkg'), 'partial');
    const shard = dirname(join(dirty, metadataPathOfKey('versions:xunit')));
    await writeFile(join(shard, `${'0'.repeat(64)}.json.1a2b3c.tmp`), 'half-written');
    // A well-named metadata file that is not an entry for the key its name hashes: import would refuse it.
    const junk = `${'ab'.padEnd(64, 'c')}.json`;
    await mkdir(join(dirty, 'metadata', 'ab'), { recursive: true });
    await writeFile(join(dirty, 'metadata', 'ab', junk), '"some:key"\n{"value":{"status":200,"fetchedAt":1}}\n{}');
    const bundle = join(dirty, '..', 'dirty.tar');
    const r = await exportBundle(exportConfig(dirty, bundle), deps);
    assert.equal(r.skipped.length, 2);
    const text = (await readFile(bundle)).toString('latin1');
    assert.ok(!text.includes('abc-partial') && !text.includes('half-written') && !text.includes(junk) && !text.includes('generation'), 'nothing but cache entries');
    await importBundle(importConfig(join(dirty, '..', 'imported')), bundle, deps);
  });

  it('refuses to export a package whose .sha512 does not describe it (found before crossing the gap)', async () => {
    const damaged = join(await tempDir('damaged'), 'cache');
    await cp(source, damaged, { recursive: true });
    await writeFile(join(damaged, 'packages/xunit.core/2.9.3/xunit.core.2.9.3.nupkg.sha512'), 'AAAA');
    await assert.rejects(exportBundle(exportConfig(damaged, join(damaged, '..', 'x.tar')), deps), /xunit\.core\.2\.9\.3\.nupkg\.sha512 does not match the package beside it/);
  });

  it('round-trips through a gzip-compressed bundle (.tar.gz)', async () => {
    const dir = await tempDir('gz');
    const bundle = join(dir, 'cache.tar.gz');
    const e = await exportBundle(exportConfig(source, bundle), deps);
    assert.ok(e.compressed);
    assert.ok(e.bundleBytes < e.bytes, 'metadata compresses');
    const target = join(dir, 'cache');
    await importBundle(importConfig(target), bundle, deps);
    assert.deepEqual(await listing(target), await listing(source));
    // Padding after the end-of-archive marker (tar pads to 10 KiB records), compressed or not.
    const padded = Buffer.concat([await readFile(fullBundle), Buffer.alloc(10240 * 3)]);
    for (const [name, data] of [['padded.tar', padded], ['padded.tar.gz', gzipSync(padded)]] as const) {
      await writeFile(join(dir, name), data);
      const again = await importBundle(importConfig(join(dir, name.replace(/\W/g, '-'))), join(dir, name), deps);
      assert.equal(again.packagesAdded, 11, name);
    }
  });

  it('with a selection: exactly the selected packages and metadata, plus service index, vulnerability data', async () => {
    const dir = await tempDir('selection');
    const bundle = join(dir, 'a.tar');
    const e = await exportBundle(exportConfig(source, bundle, join(work, 'a.selection.json')), deps);
    assert.equal(e.packages, 10);
    const target = join(dir, 'cache');
    await importBundle(importConfig(target), bundle, deps);
    const got = await listing(target);
    assert.ok(got.has('packages/xunit/2.9.3/xunit.2.9.3.nupkg'));
    assert.ok(got.has('packages/contoso.iconreadme/1.0.0/contoso.iconreadme.1.0.0.nupkg'));
    assert.ok(!got.has('packages/contoso.tool/1.0.0/contoso.tool.1.0.0.nupkg'), 'not selected');
    assert.ok(!got.has(metadataPathOfKey('versions:contoso.tool')), 'not selected');
    for (const k of ['svc:index', 'vuln:index', 'versions:xunit', 'reg:semver2:contoso.paged/page/1.0.64/1.0.127.json'])
      assert.ok(got.has(metadataPathOfKey(k)), k);
    const src = await listing(source);
    for (const [rel, sha] of got) assert.equal(src.get(rel), sha, rel);
  });

  it('refuses to export an empty cache', async () => {
    const dir = await tempDir('empty-export');
    await assert.rejects(exportBundle(exportConfig(join(dir, 'none'), join(dir, 'x.tar')), deps), /holds no packages or metadata/);
  });

  it('refuses to export a selection the cache does not fully hold', async () => {
    const dir = await tempDir('selection-missing');
    await writeFile(
      join(dir, 'sel.json'),
      JSON.stringify({ format: 'nuget-proxy-selection', version: 1, createdAt: '', packages: [{ lowerId: 'contoso.nothere', lowerVersion: '1.0.0' }], metadataKeys: ['versions:xunit'] }),
    );
    await assert.rejects(exportBundle(exportConfig(source, join(dir, 'x.tar'), join(dir, 'sel.json')), deps), /does not hold everything.*contoso\.nothere 1\.0\.0/);
    assert.deepEqual(await readdir(dir), ['sel.json'], 'no bundle and no partial file left behind');
  });
});

describe('import into a cache that already has entries', () => {
  let target: string;
  let r: ImportResult;
  const xunitNupkg = 'packages/xunit/2.9.3/xunit.2.9.3.nupkg';
  const ownPackage = 'packages/contoso.local/1.0.0/contoso.local.1.0.0.nupkg';

  before(async () => {
    target = join(await tempDir('merge'), 'cache');
    const src = await listing(source);
    // Same bytes as the bundle: unchanged.
    for (const rel of ['packages/xunit.core/2.9.3/xunit.core.2.9.3.nupkg', 'packages/xunit.core/2.9.3/xunit.core.2.9.3.nupkg.sha512']) {
      await mkdir(dirname(join(target, rel)), { recursive: true });
      await cp(join(source, rel), join(target, rel));
      assert.ok(src.has(rel));
    }
    // Different bytes for a package the bundle also has: the cached one must stay.
    await mkdir(dirname(join(target, xunitNupkg)), { recursive: true });
    await writeFile(join(target, xunitNupkg), 'the cache has its own bytes for this');
    // Only in the cache.
    await mkdir(dirname(join(target, ownPackage)), { recursive: true });
    await writeFile(join(target, ownPackage), 'local package');
    // Metadata: one newer than the bundle's (kept), one older (replaced).
    for (const [key, fetchedAt] of [['versions:xunit', Date.now() + 3_600_000], ['versions:xunit.assert', 1]] as const) {
      const rel = metadataPathOfKey(key);
      await mkdir(dirname(join(target, rel)), { recursive: true });
      await writeFile(join(target, rel), `${JSON.stringify(key)}\n${JSON.stringify({ value: { status: 200, etag: null, lastModified: null, fetchedAt } })}\n{"versions":["0.0.1"]}`);
    }
    r = await importBundle(importConfig(target), fullBundle, deps);
  });

  it('never replaces a package file: a different one is kept and reported as a conflict', async () => {
    assert.equal(await readFile(join(target, xunitNupkg), 'utf8'), 'the cache has its own bytes for this');
    assert.deepEqual(r.conflicts.map((c) => c.path), [xunitNupkg]);
    // The conflicting version's other files are not mixed in either.
    assert.ok(!(await stat(join(target, 'packages/xunit/2.9.3/xunit.2.9.3.nupkg.sha512')).catch(() => null)));
  });

  it('keeps entries the bundle does not have and counts identical files as unchanged', async () => {
    assert.equal(await readFile(join(target, ownPackage), 'utf8'), 'local package');
    assert.equal(r.packageFilesUnchanged, 2);
    assert.equal(r.packagesAdded, 9);
    assert.ok(await stat(join(target, 'packages/xunit.assert/2.9.3/xunit.assert.2.9.3.nupkg')).then((s) => s.isFile()));
  });

  it('replaces a metadata entry only with a newer one', async () => {
    const kept = await readFile(join(target, metadataPathOfKey('versions:xunit')), 'utf8');
    assert.match(kept, /"0\.0\.1"/);
    const replaced = await readMetadataHead(join(target, metadataPathOfKey('versions:xunit.assert')));
    assert.ok((replaced?.fetchedAt ?? 0) > 1);
    assert.equal(r.metadataKept, 1);
    assert.equal(r.metadataReplaced, 1);
    assert.ok(r.metadataAdded > 10);
  });

  it('adds nothing on a second import of the same bundle', async () => {
    const before = await listing(target);
    const again = await importBundle(importConfig(target), fullBundle, deps);
    assert.equal(again.packagesAdded, 0);
    assert.equal(again.metadataAdded + again.metadataReplaced, 0);
    assert.deepEqual(await listing(target), before);
  });
});

describe('refused bundles leave the cache unchanged', () => {
  let target: string;
  let snapshot: Map<string, string>;
  let full: Buffer;

  before(async () => {
    target = join(await tempDir('refuse'), 'cache');
    // A cache with something in it already.
    await writeFile(join(work, 'c.txt'), 'Contoso.FourPart@1.2.3.4\n');
    const c = parseConfig('prefetch', [], { NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_CACHE_DIR: target }).config;
    await prefetch(c, [join(work, 'c.txt')], deps);
    snapshot = await listing(target);
    assert.ok(snapshot.size > 5);
    full = await readFile(fullBundle);
  });

  async function assertRefused(bundle: Buffer, name: string, message: RegExp): Promise<void> {
    const path = join(dirname(target), name);
    await writeFile(path, bundle);
    await assert.rejects(importBundle(importConfig(target), path, deps), (err: unknown) => {
      assert.ok(err instanceof ToolError, String(err));
      assert.match(err.message, /^bundle refused: /);
      assert.match(err.message, /the cache was not changed$/);
      assert.match(err.message, message);
      return true;
    });
    assert.deepEqual(await listing(target), snapshot, 'cache unchanged');
    assert.deepEqual(await everything(join(target, 'tmp')), [], 'staging directory removed');
  }

  it('one flipped byte inside a package file', async () => {
    const name = 'packages/xunit.assert/2.9.3/xunit.assert.2.9.3.nupkg';
    const header = full.indexOf(Buffer.from(`${name}\0`));
    assert.ok(header > 0 && header % 512 === 0, 'entry header found');
    const bad = Buffer.from(full);
    const at = header + 512 + 40_000;
    bad[at] = (bad[at] ?? 0) ^ 0x01;
    await assertRefused(bad, 'flipped.tar', /xunit\.assert\.2\.9\.3\.nupkg does not match its SHA-512 checksum/);
  });

  it('truncated (cut in a package, and cut just before the manifest checksum)', async () => {
    await assertRefused(full.subarray(0, Math.floor(full.length / 2)), 'half.tar', /truncated/);
    const manifestSha = full.indexOf(Buffer.from(`${MANIFEST_SHA512_PATH}\0`));
    await assertRefused(full.subarray(0, manifestSha), 'no-checksum.tar', /truncated/);
  });

  it('truncated gzip', async () => {
    const gz = gzipSync(full);
    await assertRefused(gz.subarray(0, gz.length - 100), 'cut.tar.gz', /gzip|truncated/);
  });

  it('a manifest that does not match its checksum', async () => {
    const manifest = full.indexOf(Buffer.from(`${MANIFEST_PATH}\0`));
    const bad = Buffer.from(full);
    const at = manifest + 512 + 20;
    bad[at] = (bad[at] ?? 0) ^ 0x01;
    await assertRefused(bad, 'manifest.tar', /manifest/);
  });

  async function craft(entries: ReadonlyArray<{ path: string; data: Buffer }>, withManifest = true): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const w = new TarWriter({ write: async (c) => void chunks.push(Buffer.from(c)) });
    const header = Buffer.from(JSON.stringify(makeHeader(false, 'test')));
    await w.addBuffer(HEADER_PATH, header);
    for (const e of entries) await w.addBuffer(e.path, e.data);
    if (withManifest) {
      const m = Buffer.from(
        JSON.stringify(makeManifest([{ path: HEADER_PATH, size: header.length, sha512: sha512Hex(header) }, ...entries.map((e) => ({ path: e.path, size: e.data.length, sha512: sha512Hex(e.data) }))])),
      );
      await w.addBuffer(MANIFEST_PATH, m);
      await w.addBuffer(MANIFEST_SHA512_PATH, Buffer.from(sha512Hex(m)));
    }
    await w.finish();
    return Buffer.concat(chunks);
  }

  it('an entry that would escape the cache directory, even with a valid manifest', async () => {
    const evil = await craft([{ path: '../evil', data: Buffer.from('pwned') }]);
    await assertRefused(evil, 'evil.tar', /'\.\.\/evil' is not a cache file path/);
    assert.ok(!(await stat(join(dirname(target), 'evil')).catch(() => null)));
    const nested = await craft([{ path: 'packages/../../evil2/1.0.0/evil2.1.0.0.nupkg', data: Buffer.from('x') }]);
    await assertRefused(nested, 'evil2.tar', /not a cache file path/);
    const absolute = await craft([{ path: '/tmp/evil3', data: Buffer.from('x') }]);
    await assertRefused(absolute, 'evil3.tar', /not a cache file path/);
  });

  it('a metadata entry stored under another key hash, and a .sha512 that does not describe its package', async () => {
    const wrongKey = await craft([{ path: metadataPathOfKey('versions:a'), data: Buffer.from(`"versions:b"\n{"value":{"status":200,"fetchedAt":1}}\n{}`) }]);
    await assertRefused(wrongKey, 'wrong-key.tar', /stored elsewhere/);
    const lie = await craft([
      { path: 'packages/a/1.0.0/a.1.0.0.nupkg', data: Buffer.from('zip') },
      { path: 'packages/a/1.0.0/a.1.0.0.nupkg.sha512', data: Buffer.from('AAAA') },
    ]);
    await assertRefused(lie, 'lie.tar', /does not describe the package/);
  });

  it('something that is not a bundle', async () => {
    await assertRefused(Buffer.from('just some text, not a tar file at all'), 'text.tar', /truncated|not a/);
    const tarWithoutHeader = await craft([], false);
    await assertRefused(tarWithoutHeader.subarray(0, 0), 'empty.tar', /truncated|not a/);
  });
});

describe('an offline proxy serves what was imported', () => {
  it('picks up an import made while it runs (generation stamp), then serves packages, versions, registration and audit data', async () => {
    const cacheDir = join(await tempDir('offline'), 'cache');
    await mkdir(cacheDir, { recursive: true });
    const proxy = await startProxy({ NUGET_PROXY_OFFLINE: 'true', NUGET_PROXY_LOG_LEVEL: 'silent' }, { cacheDir });
    try {
      const nupkgUrl = `${proxy.url}/v3/flatcontainer/xunit.core/2.9.3/xunit.core.2.9.3.nupkg`;
      assert.equal((await fetch(`${proxy.url}/v3/flatcontainer/xunit.core/index.json`)).status, 404);
      await importBundle(importConfig(cacheDir), fullBundle, deps);
      await sleep(1100);
      const versions = await fetch(`${proxy.url}/v3/flatcontainer/xunit.core/index.json`);
      assert.equal(versions.status, 200);
      assert.deepEqual(((await versions.json()) as { versions: string[] }).versions, ['2.9.3']);
      const nupkg = Buffer.from(await (await fetch(nupkgUrl)).arrayBuffer());
      assert.ok(nupkg.equals(await readFile('/opt/nuget/packages/xunit.core/2.9.3/xunit.core.2.9.3.nupkg')));
      const reg = await fetch(`${proxy.url}/v3/registration/semver2/contoso.paged/index.json`);
      assert.equal(reg.status, 200);
      const vuln = await fetch(`${proxy.url}/v3/vulnerabilities/index.json`);
      assert.equal(vuln.status, 200);
      const index = (await (await fetch(`${proxy.url}/v3/index.json`)).json()) as { resources: Array<{ '@type': string }> };
      assert.ok(index.resources.some((r) => r['@type'].startsWith('VulnerabilityInfo')));
    } finally {
      await proxy.stop();
    }
  });
});


describe('the export and import command lines', () => {
  it('export and import exit 0 with a summary; a damaged bundle exits 1 with the reason; no bundle exits 2', async () => {
    const dir = await tempDir('cli');
    const bundle = join(dir, 'b.tar');
    const exported = await runCli(['export', '--cache-dir', source, '--output', bundle, '--selection', join(work, 'a.selection.json')], { NUGET_PROXY_LOG_LEVEL: 'warn' });
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /^export summary$/m);
    assert.match(exported.stdout, /contents: {4}10 packages/);
    assert.match(exported.stderr, /^export: \d+ files/m);

    const imported = await runCli(['import', '--cache-dir', join(dir, 'cache'), bundle], { NUGET_PROXY_LOG_LEVEL: 'warn' });
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /packages: {4}10 added/);

    const data = await readFile(bundle);
    await writeFile(bundle, data.subarray(0, data.length - 2000));
    const refusedRun = await runCli(['import', '--cache-dir', join(dir, 'cache2'), bundle], { NUGET_PROXY_LOG_LEVEL: 'warn' });
    assert.equal(refusedRun.code, 1);
    assert.match(refusedRun.stderr, /^nuget-proxy import: bundle refused: .*truncated.*; the cache was not changed$/m);
    assert.equal(refusedRun.stdout, '');

    const usage = await runCli(['import', '--cache-dir', join(dir, 'cache2')], { NUGET_PROXY_LOG_LEVEL: 'warn' });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /exactly one bundle file/);
  });
});
