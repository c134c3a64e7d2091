// `nuget-proxy export` and `import` on a cache filled by prefetch from the real fake upstream: identical
// round trips (tar and tar.gz), selections, pins written on import, merging into a cache that already has
// entries, refusal of corrupted, truncated and path-escaping bundles with the target cache unchanged, and an
// offline proxy serving what was imported (including one already running when the import happens). The
// caches are read and changed through the BlobStore (DiskBlobStore over a temp directory).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { parseConfig } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { exportBundle } from '../../src/bundles/export.ts';
import { importBundle, type ImportResult } from '../../src/bundles/import.ts';
import { HEADER_PATH, MANIFEST_PATH, MANIFEST_SHA512_PATH, makeHeader, makeManifest, sha512Hex } from '../../src/bundles/bundle-format.ts';
import { TarWriter } from '../../src/bundles/tar.ts';
import { ToolError } from '../../src/cli/tool.ts';
import { prefetch } from '../../src/prefetch/prefetch.ts';
import { readBlob, writeBlob, writeBlobFrom, type BlobStore } from '../../src/storage/blob-store.ts';
import { readStoredMetadataHead } from '../../src/storage/blob-keyv-store.ts';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { GENERATION_KEY, STATE_PREFIX, classifyKey, metadataKey, packageKey } from '../../src/storage/layout.ts';
import { LocalTemp } from '../../src/storage/local-temp.ts';
import { readPin } from '../../src/storage/pins.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { MemoryBlobStore } from '../helpers/memory-blob-store.ts';
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

function disk(cacheDir: string): DiskBlobStore {
  return new DiskBlobStore(cacheDir);
}

function isPinKey(key: string): boolean {
  const k = classifyKey(key);
  return k?.kind === 'package' && k.file === 'pinned';
}

/**
 * Every object of a store with its SHA-512. `cache`: what a bundle carries (pins and the generation stamp
 * left out); `all`: everything, to show a refused import changed nothing at all.
 */
async function listing(blobs: BlobStore, which: 'cache' | 'all' = 'cache'): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const o of blobs.list('')) {
    // state/ (generation stamp, access records) is the proxy's bookkeeping, not cache content.
    if (which === 'cache' && (o.key.startsWith(STATE_PREFIX) || isPinKey(o.key))) continue;
    out.set(o.key, createHash('sha512').update((await readBlob(blobs, o.key)) ?? Buffer.alloc(0)).digest('hex'));
  }
  return out;
}

/** The local temp area of a cache directory (a finished or refused import leaves no staging directory). */
async function tempLeft(cacheDir: string): Promise<string[]> {
  const entries = await readdir(new LocalTemp(cacheDir).dir, { recursive: true, withFileTypes: true }).catch(() => []);
  // Process directories (tmp/p-{host}-{pid}) may stay; files and staging directories must not.
  return entries.filter((e) => e.isFile() || e.name.startsWith('import-')).map((e) => e.name).sort();
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
  it('recreates the cache object for object into an empty directory, and pins every imported package', async () => {
    const target = join(await tempDir('import-empty'), 'cache');
    const r = await importBundle(importConfig(target), fullBundle, deps);
    const want = await listing(disk(source));
    assert.deepEqual(await listing(disk(target)), want);
    assert.equal(r.files, want.size);
    assert.equal(r.packagesAdded, 11);
    assert.equal(r.packagesPinned, 11);
    assert.equal(r.conflicts.length, 0);
    assert.deepEqual(await tempLeft(target), [], 'staging removed');
    assert.ok(await disk(target).stat(GENERATION_KEY), 'generation bumped');
    const nupkgs = [...want.keys()].map((k) => classifyKey(k)).filter((k) => k?.kind === 'package' && k.file === 'nupkg');
    assert.equal(nupkgs.length, 11);
    for (const k of nupkgs) {
      if (k?.kind !== 'package') continue;
      const pin = await readPin(disk(target), k.lowerId, k.lowerVersion);
      assert.equal(pin?.reason, 'import', `${k.lowerId} ${k.lowerVersion} pinned`);
      assert.ok(Math.abs(Date.now() - (pin?.at ?? 0)) < 600_000);
    }
  });

  it('leaves temp files, pins and the generation stamp out of the bundle', async () => {
    const dirty = join(await tempDir('dirty'), 'cache');
    await cp(source, dirty, { recursive: true });
    await mkdir(join(dirty, 'tmp'), { recursive: true });
    await writeFile(join(dirty, 'tmp', 'abc-partial.nupkg'), 'partial');
    // A leftover of an earlier version's metadata writes (temp files beside the entry).
    const shard = dirname(join(dirty, metadataKey('versions:xunit')));
    await writeFile(join(shard, `${'0'.repeat(64)}.json.1a2b3c.tmp`), 'half-written');
    // A well-named metadata object that is not an entry for the key its name hashes: import would refuse it.
    const junk = `${'ab'.padEnd(64, 'c')}.json`;
    await writeBlob(disk(dirty), `metadata/ab/${junk}`, '"some:key"\n{"value":{"status":200,"fetchedAt":1}}\n{}');
    await writeBlob(disk(dirty), packageKey('xunit', '2.9.3', 'pinned'), '{"reason":"prefetch","at":1}');
    const bundle = join(dirty, '..', 'dirty.tar');
    const r = await exportBundle(exportConfig(dirty, bundle), deps);
    assert.equal(r.skipped.length, 2, r.skipped.join(', '));
    const text = (await readFile(bundle)).toString('latin1');
    assert.ok(!text.includes('abc-partial') && !text.includes('half-written') && !text.includes(junk), 'nothing but cache entries');
    assert.ok(!text.includes('/pinned\0') && !text.includes('state/generation'), 'no pin, no generation stamp');
    await importBundle(importConfig(join(dirty, '..', 'imported')), bundle, deps);
  });

  it('refuses to export a package whose .sha512 does not describe it (found before crossing the gap)', async () => {
    const damaged = join(await tempDir('damaged'), 'cache');
    await cp(source, damaged, { recursive: true });
    await writeBlob(disk(damaged), packageKey('xunit.core', '2.9.3', 'sha512'), 'AAAA');
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
    assert.deepEqual(await listing(disk(target)), await listing(disk(source)));
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
    const got = await listing(disk(target));
    assert.ok(got.has(packageKey('xunit', '2.9.3', 'nupkg')));
    assert.ok(got.has(packageKey('contoso.iconreadme', '1.0.0', 'nupkg')));
    assert.ok(!got.has(packageKey('contoso.tool', '1.0.0', 'nupkg')), 'not selected');
    assert.ok(!got.has(metadataKey('versions:contoso.tool')), 'not selected');
    for (const k of ['svc:index', 'vuln:index', 'versions:xunit', 'reg:semver2:contoso.paged/page/1.0.64/1.0.127.json'])
      assert.ok(got.has(metadataKey(k)), k);
    const src = await listing(disk(source));
    for (const [key, sha] of got) assert.equal(src.get(key), sha, key);
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
  let target: DiskBlobStore;
  let r: ImportResult;
  const xunitNupkg = packageKey('xunit', '2.9.3', 'nupkg');
  const ownPackage = packageKey('contoso.local', '1.0.0', 'nupkg');

  before(async () => {
    const dir = join(await tempDir('merge'), 'cache');
    target = disk(dir);
    const src = disk(source);
    // Same bytes as the bundle: unchanged.
    for (const key of [packageKey('xunit.core', '2.9.3', 'nupkg'), packageKey('xunit.core', '2.9.3', 'sha512')]) {
      const data = await readBlob(src, key);
      assert.ok(data, key);
      await writeBlob(target, key, data);
    }
    // Different bytes for a package the bundle also has: the cached one must stay.
    await writeBlob(target, xunitNupkg, 'the cache has its own bytes for this');
    // Only in the cache.
    await writeBlob(target, ownPackage, 'local package');
    // Metadata: one newer than the bundle's (kept), one older (replaced).
    for (const [key, fetchedAt] of [['versions:xunit', Date.now() + 3_600_000], ['versions:xunit.assert', 1]] as const)
      await writeBlob(target, metadataKey(key), `${JSON.stringify(key)}\n${JSON.stringify({ value: { status: 200, etag: null, lastModified: null, fetchedAt } })}\n{"versions":["0.0.1"]}`);
    r = await importBundle(importConfig(dir), fullBundle, deps);
  });

  it('never replaces a package file: a different one is kept, reported as a conflict, and not pinned', async () => {
    assert.equal((await readBlob(target, xunitNupkg))?.toString(), 'the cache has its own bytes for this');
    assert.deepEqual(r.conflicts.map((c) => c.path), [xunitNupkg]);
    // The conflicting version's other files are not mixed in either.
    assert.equal(await target.stat(packageKey('xunit', '2.9.3', 'sha512')), null);
    assert.equal(await readPin(target, 'xunit', '2.9.3'), null);
  });

  it('keeps entries the bundle does not have and counts identical files as unchanged; pins what it brought', async () => {
    assert.equal((await readBlob(target, ownPackage))?.toString(), 'local package');
    assert.equal(await readPin(target, 'contoso.local', '1.0.0'), null, 'not from the bundle');
    assert.equal(r.packageFilesUnchanged, 2);
    assert.equal(r.packagesAdded, 9);
    assert.equal(r.packagesPinned, 10, 'the 9 added and xunit.core, held with the same bytes');
    assert.equal((await readPin(target, 'xunit.core', '2.9.3'))?.reason, 'import');
    assert.ok(await target.stat(packageKey('xunit.assert', '2.9.3', 'nupkg')));
  });

  it('replaces a metadata entry only with a newer one', async () => {
    const kept = (await readBlob(target, metadataKey('versions:xunit')))?.toString() ?? '';
    assert.match(kept, /"0\.0\.1"/);
    const replaced = await readStoredMetadataHead(target, metadataKey('versions:xunit.assert'));
    assert.ok((replaced?.fetchedAt ?? 0) > 1);
    assert.equal(r.metadataKept, 1);
    assert.equal(r.metadataReplaced, 1);
    assert.ok(r.metadataAdded > 10);
  });

  it('adds nothing on a second import of the same bundle (pins keep their first date)', async () => {
    const before = await listing(target, 'all');
    before.delete(GENERATION_KEY);
    const again = await importBundle(importConfig(target.root), fullBundle, deps);
    assert.equal(again.packagesAdded, 0);
    assert.equal(again.metadataAdded + again.metadataReplaced, 0);
    const after = await listing(target, 'all');
    after.delete(GENERATION_KEY);
    assert.deepEqual(after, before);
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
    snapshot = await listing(disk(target), 'all');
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
    assert.deepEqual(await listing(disk(target), 'all'), snapshot, 'cache unchanged, generation included');
    assert.deepEqual(await tempLeft(target), [], 'staging directory removed');
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
    const wrongKey = await craft([{ path: metadataKey('versions:a'), data: Buffer.from(`"versions:b"\n{"value":{"status":200,"fetchedAt":1}}\n{}`) }]);
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

describe('through a BlobStore other than disk (the in-memory test double)', () => {
  async function copyStore(from: BlobStore, to: BlobStore): Promise<void> {
    for await (const o of from.list('')) {
      const stream = await from.openRead(o.key);
      assert.ok(stream, o.key);
      await writeBlobFrom(to, o.key, stream);
    }
  }

  it('export from a memory store → import into a disk store is byte-identical, and disk → memory too', async () => {
    const want = await listing(disk(source));
    const mem = new MemoryBlobStore('source');
    await copyStore(disk(source), mem);
    assert.deepEqual(await listing(mem), want);
    const dir = await tempDir('memory');
    const bundle = join(dir, 'from-memory.tar.gz');
    const e = await exportBundle(exportConfig(join(dir, 'not-used'), bundle), { log: silent, blobs: mem });
    assert.equal(e.packages, 11);
    assert.equal(e.files, want.size);
    assert.equal(await stat(join(dir, 'not-used')).catch(() => null), null, 'export touched no cache directory');
    const onDisk = join(dir, 'disk');
    await importBundle(importConfig(onDisk), bundle, deps);
    assert.deepEqual(await listing(disk(onDisk)), want);

    const intoMemory = new MemoryBlobStore('target');
    const scratch = join(dir, 'scratch');
    const r = await importBundle(importConfig(scratch), fullBundle, { log: silent, blobs: intoMemory });
    assert.equal(r.packagesAdded, 11);
    assert.deepEqual(await listing(intoMemory), want);
    assert.ok(await intoMemory.stat(GENERATION_KEY), 'generation bumped in the store');
    assert.equal(intoMemory.openWrites, 0, 'every write committed or aborted');
    assert.deepEqual(await tempLeft(scratch), [], 'staging (local scratch) removed');
    for (const key of want.keys()) {
      const k = classifyKey(key);
      if (k?.kind === 'package' && k.file === 'nupkg') assert.equal((await readPin(intoMemory, k.lowerId, k.lowerVersion))?.reason, 'import', key);
    }
    const again = await importBundle(importConfig(scratch), fullBundle, { log: silent, blobs: intoMemory });
    assert.equal(again.packagesAdded + again.metadataAdded + again.metadataReplaced, 0, 'ifAbsent and fetchedAt through the interface');
    assert.equal(again.packageFilesUnchanged, [...want.keys()].filter((k) => classifyKey(k)?.kind === 'package').length);
  });

  it("a damaged bundle leaves the store's listing unchanged: nothing committed, nothing left open", async () => {
    const mem = new MemoryBlobStore();
    await copyStore(disk(source), mem);
    await mem.delete(packageKey('xunit.assert', '2.9.3', 'nupkg'));
    const snapshot = await listing(mem, 'all');
    const commits = mem.commits;
    const dir = await tempDir('memory-refused');
    const full = await readFile(fullBundle);
    const name = packageKey('xunit.assert', '2.9.3', 'nupkg');
    const flipped = Buffer.from(full);
    const at = full.indexOf(Buffer.from(`${name}\0`)) + 512 + 40_000;
    flipped[at] = (flipped[at] ?? 0) ^ 0x01;
    for (const [file, data, reason] of [
      ['flipped.tar', flipped, /does not match its SHA-512/],
      ['cut.tar', full.subarray(0, full.length - 3000), /truncated/],
    ] as const) {
      await writeFile(join(dir, file), data);
      await assert.rejects(importBundle(importConfig(join(dir, 'scratch')), join(dir, file), { log: silent, blobs: mem }), reason);
      assert.deepEqual(await listing(mem, 'all'), snapshot, file);
      assert.equal(mem.commits, commits, `${file}: nothing committed`);
      assert.equal(mem.openWrites, 0);
      assert.deepEqual(await tempLeft(join(dir, 'scratch')), []);
    }
  });

  it('a bundle written by nuget-proxy 0.1.0 (before the BlobStore) imports into memory and disk alike', async () => {
    // test/fixtures/bundle-0.1.0.tar.gz: `prefetch Contoso.Dependent@1.0.0 Contoso.IconReadme@1.0.0` against the
    // standard fake upstream, then `export`, with the code of commit e850923.
    const fixture = new URL('../fixtures/bundle-0.1.0.tar.gz', import.meta.url).pathname;
    const dir = await tempDir('old-bundle');
    const mem = new MemoryBlobStore();
    const r = await importBundle(importConfig(join(dir, 'scratch')), fixture, { log: silent, blobs: mem });
    assert.equal(r.files, 25);
    assert.equal(r.packagesAdded, 3);
    assert.equal(r.packagesPinned, 3);
    assert.equal(r.metadataAdded, 16);
    assert.deepEqual(r.conflicts, []);
    const cacheDir = join(dir, 'cache');
    await importBundle(importConfig(cacheDir), fixture, deps);
    assert.deepEqual(await listing(disk(cacheDir)), await listing(mem));
    const proxy = await startProxy({ NUGET_PROXY_OFFLINE: 'true', NUGET_PROXY_LOG_LEVEL: 'silent' }, { cacheDir });
    try {
      const versions = await fetch(`${proxy.url}/v3/flatcontainer/contoso.dependent/index.json`);
      assert.deepEqual(((await versions.json()) as { versions: string[] }).versions, ['1.0.0']);
      const nupkg = Buffer.from(await (await fetch(`${proxy.url}/v3/flatcontainer/contoso.iconreadme/1.0.0/contoso.iconreadme.1.0.0.nupkg`)).arrayBuffer());
      assert.ok(nupkg.equals((await readBlob(mem, packageKey('contoso.iconreadme', '1.0.0', 'nupkg'))) ?? Buffer.alloc(0)));
    } finally {
      await proxy.stop();
    }
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
