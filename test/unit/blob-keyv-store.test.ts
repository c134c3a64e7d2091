// Tests for stored metadata entries (src/storage/blob-keyv-store.ts): the MetadataStore writes each entry as one
// object under metadataKey(key), and the head readers export and import use find the key, status and age in
// exactly what it wrote — on disk and in the in-memory store, so a change of format breaks this test, not an
// import across an air gap.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { readBlob, utf8Slices, writeBlob, type BlobStore } from '../../src/storage/blob-store.ts';
import { parseMetadataHead, readMetadataHead, readStoredMetadataHead } from '../../src/storage/blob-keyv-store.ts';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { classifyKey, metadataKey } from '../../src/storage/layout.ts';
import { MetadataStore, serializeEntry, type MetaEntry } from '../../src/storage/metadata-store.ts';
import { MemoryBlobStore } from '../helpers/memory-blob-store.ts';
import { makeTempDir } from '../helpers/proxy.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const stores: Array<[string, () => Promise<BlobStore>]> = [
  [
    'disk',
    async () => {
      const dir = await makeTempDir('meta');
      dirs.push(dir);
      return new DiskBlobStore(dir);
    },
  ],
  ['memory', async () => new MemoryBlobStore()],
];

for (const [name, open] of stores) {
  describe(`metadata entries (${name} store)`, () => {
    it('are read back, key, status and age, exactly where the MetadataStore writes them (documents only)', async () => {
      const blobs = await open();
      const store = new MetadataStore({ blobs, memoryBytes: 1024, redis: null, metrics: createMetrics({ defaultMetrics: false }), log: createLogger({ level: 'silent', format: 'json' }) });
      const body = `{"items":[${'"x",'.repeat(50_000)}"y"]}\nwith a newline`;
      await store.set('reg:semver2:xunit/index.json', { status: 200, body, etag: '"e"', lastModified: null, fetchedAt: 1_700_000_000_123, extra: { separatePages: '[]' } });
      await store.set('versions:nosuch', { status: 404, body: '', etag: null, lastModified: null, fetchedAt: 42 });
      await store.close();
      const key = metadataKey('reg:semver2:xunit/index.json');
      assert.ok(await blobs.stat(key), key);
      assert.equal(classifyKey(key)?.kind, 'metadata');
      assert.deepEqual(await readStoredMetadataHead(blobs, key), { key: 'reg:semver2:xunit/index.json', status: 200, fetchedAt: 1_700_000_000_123 });
      assert.deepEqual(parseMetadataHead((await readBlob(blobs, key)) ?? Buffer.alloc(0)), { key: 'reg:semver2:xunit/index.json', status: 200, fetchedAt: 1_700_000_000_123 });
      // An upstream 404 stays in memory (and Redis): made-up ids must not grow the blob store.
      assert.equal(await readStoredMetadataHead(blobs, metadataKey('versions:nosuch')), null);
      assert.equal((await store.getLocal('versions:nosuch'))?.status, 404);
      assert.equal(await readStoredMetadataHead(blobs, metadataKey('versions:missing')), null);
      await writeBlob(blobs, metadataKey('junk'), 'no newline at all');
      assert.equal(await readStoredMetadataHead(blobs, metadataKey('junk')), null);
      await writeBlob(blobs, metadataKey('junk'), '"junk"\n{"value":{"status":"200"}}\n');
      assert.equal(await readStoredMetadataHead(blobs, metadataKey('junk')), null, 'no fetchedAt');
    });

    it('writes a large document part by part, byte for byte what keyv writes, and reads it back', async () => {
      const blobs = await open();
      const options = { blobs, memoryBytes: 1024, redis: null, metrics: createMetrics({ defaultMetrics: false }), log: createLogger({ level: 'silent', format: 'json' }) };
      const store = new MetadataStore(options);
      // Longer than one encoding slice, with characters of two, three and four UTF-8 bytes throughout.
      const body = JSON.stringify({ items: Array.from({ length: 40_000 }, (_, i) => `Café ✓ 😀 ${i}`) });
      const entry: MetaEntry = { status: 200, body, etag: '"big"', lastModified: 'Wed, 02 Dec 2026 10:00:00 GMT', fetchedAt: 1_700_000_000_456 };
      await store.set('reg:semver2:big/index.json', entry);
      await store.close();
      const stored = await readBlob(blobs, metadataKey('reg:semver2:big/index.json'));
      assert.ok(stored);
      assert.ok(stored.equals(Buffer.from(`${JSON.stringify('reg:semver2:big/index.json')}\n${serializeEntry({ value: entry })}`)), 'the bytes keyv would write');
      const reopened = new MetadataStore(options);
      assert.deepEqual(await reopened.getLocal('reg:semver2:big/index.json'), entry);
      await reopened.close();
    });
  });
}

describe('readMetadataHead', () => {
  it('stops after the two head lines, in whatever chunks they come', async () => {
    const entry = Buffer.from('"k"\n{"value":{"status":200,"fetchedAt":7}}\nBODY');
    const chunks = [...entry].map((b) => Buffer.from([b]));
    let pulled = 0;
    const source = (async function* () {
      for (const c of chunks) {
        pulled++;
        yield c;
      }
    })();
    assert.deepEqual(await readMetadataHead(source), { key: 'k', status: 200, fetchedAt: 7 });
    assert.equal(pulled, entry.indexOf('BODY'), 'the body is never read');
    // An entry with an empty body and no final newline still has a head.
    assert.deepEqual(await readMetadataHead(Readable.from([Buffer.from('"k"\n{"value":{"status":404,"fetchedAt":1}}')])), { key: 'k', status: 404, fetchedAt: 1 });
  });
});

describe('utf8Slices', () => {
  it('encodes text in slices that join to its UTF-8 bytes, never splitting a surrogate pair', () => {
    const parts = ['{"a":"😀😀😀', 'é✓😀'.repeat(7), '', 'plain ascii', '😀'];
    const whole = Buffer.from(parts.join(''), 'utf8');
    for (const size of [1, 2, 3, 5, 8, 64]) {
      const slices = [...utf8Slices(parts, size)];
      assert.ok(Buffer.concat(slices).equals(whole), `slices of ${size} characters`);
      assert.ok(slices.every((b) => !b.includes(Buffer.from('\uFFFD', 'utf8'))), `no replacement character with slices of ${size}`);
      if (size >= 2) assert.ok(slices.every((b) => b.length <= size * 3), `at most ${size} characters a slice`);
    }
    assert.deepEqual([...utf8Slices(['', ''])], []);
  });
});
