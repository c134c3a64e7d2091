// The blob store compliance suite, written once and run against every implementation (disk, S3, the
// in-memory double): the rules in src/storage/blob-store.ts's header, each as a test that a backend
// breaking it would fail.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StorageError, UnsafeKeyError, readBlob, writeBlob, type BlobStore } from '../../src/storage/blob-store.ts';

export interface StoreHarness {
  readonly store: BlobStore;
  /** What uncommitted writes left behind (temp files, multipart uploads, pending buffers): empty when clean. */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

export interface ComplianceTarget {
  readonly name: string;
  open(): Promise<StoreHarness>;
  /** Bytes a write may hold before they reach storage (S3: one part). Writes in the suite span several. */
  readonly partBytes: number;
  /** Memory stays flat with object size (not so for the in-memory double: it holds objects in memory). */
  readonly flatMemory: boolean;
  /** ifAbsent is decided by the storage in one step (disk: link), not by a look before commit (S3). */
  readonly atomicIfAbsent: boolean;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function readAll(store: BlobStore, key: string, range?: { start: number; end?: number }): Promise<Buffer | null> {
  const s = await store.openRead(key, range);
  if (!s) return null;
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function hashStream(stream: AsyncIterable<unknown>): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { hash: h.digest('hex'), bytes };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Writes `data` in `chunkBytes` pieces, yielding to the event loop between them (readers get turns). */
async function writeInChunks(store: BlobStore, key: string, data: Buffer, options: { ifAbsent?: boolean } = {}, chunkBytes = 256 * 1024) {
  const w = await store.beginWrite(key, options);
  for (let off = 0; off < data.length; off += chunkBytes) {
    await w.write(data.subarray(off, off + chunkBytes));
    await new Promise((r) => setImmediate(r));
  }
  return w;
}

/** A real garbage collection, so that memory samples count what is held, not what is waiting to be freed. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const UNSAFE_KEYS = [
  '',
  '/abs/key',
  '..',
  'a/../b',
  '../escape',
  'a/./b',
  '.',
  'a//b',
  'a/',
  'a\\b',
  '..\\..\\x',
  'a\0b',
  'a b',
  'a?b',
  'a#b',
  'a%2fb',
  'a:b',
  'a*b',
  'a\nb',
  'x'.repeat(1025),
];
const UNSAFE_PREFIXES = ['a', '/a/', '../', 'a/../', 'a//', '\\/', 'a b/'];

export function runBlobStoreCompliance(target: ComplianceTarget): void {
  describe(`BlobStore compliance: ${target.name}`, () => {
    let h: StoreHarness;
    let store: BlobStore;
    before(async () => {
      h = await target.open();
      store = h.store;
    });
    after(async () => {
      await h?.close();
    });

    it('round-trips an object: stat gives size, an ETag and a modification time; list shows it', async () => {
      const data = randomBytes(1000);
      const before = Date.now();
      const { created, stat } = await writeBlob(store, 'basic/a/obj.bin', data);
      assert.equal(created, true);
      assert.equal(stat.size, 1000);
      const s = await store.stat('basic/a/obj.bin');
      assert.ok(s);
      assert.equal(s.size, 1000);
      assert.equal(s.etag, stat.etag, 'commit and stat agree on the ETag');
      assert.ok(s.etag.length > 2);
      assert.ok(Math.abs(s.lastModifiedMs - before) < 60_000, `lastModified ${s.lastModifiedMs} vs ${before}`);
      assert.ok((await readAll(store, 'basic/a/obj.bin'))?.equals(data));
      assert.deepEqual(
        (await collect(store.list('basic/'))).map((l) => [l.key, l.size, l.etag]),
        [['basic/a/obj.bin', 1000, s.etag]],
      );
      assert.deepEqual(await h.leftovers(), []);
    });

    it('answers null / false for an object that does not exist', async () => {
      assert.equal(await store.stat('missing/nothing.bin'), null);
      assert.equal(await store.openRead('missing/nothing.bin'), null);
      assert.equal(await store.openRead('missing/nothing.bin', { start: 3, end: 9 }), null);
      assert.equal(await store.delete('missing/nothing.bin'), false);
      assert.deepEqual(await collect(store.list('missing/')), []);
      assert.deepEqual(await collect(store.listChildren('missing/')), []);
    });

    it('stores an empty object', async () => {
      const { stat } = await writeBlob(store, 'empty/zero', Buffer.alloc(0));
      assert.equal(stat.size, 0);
      assert.equal((await store.stat('empty/zero'))?.size, 0);
      assert.equal((await readAll(store, 'empty/zero'))?.length, 0);
      assert.equal((await readAll(store, 'empty/zero', { start: 0, end: 10 }))?.length, 0);
    });

    it('a reader polling during a multi-part write sees nothing, then the whole object — never part of it', async () => {
      const data = randomBytes(target.partBytes * 3 + 12_345);
      const key = 'atomic/new.bin';
      let phase = 'writing' as 'writing' | 'committing' | 'committed';
      const seen = { writing: 0, committing: 0, committed: 0, whole: 0 };
      const deadline = Date.now() + 120_000;
      const reader = (async () => {
        for (let polls = 0; polls < 20_000 && Date.now() < deadline; polls++) {
          await new Promise((r) => setImmediate(r));
          const ph = phase;
          const s = await store.stat(key);
          if (ph === 'writing') assert.equal(s, null, 'visible before commit');
          if (s) assert.equal(s.size, data.length, 'stat of a partial object');
          const r = await store.openRead(key);
          if (ph === 'writing') assert.equal(r, null, 'readable before commit');
          if (r) {
            const got = await hashStream(r);
            assert.equal(got.bytes, data.length, 'read a partial object');
            assert.equal(got.hash, sha(data), 'read other bytes');
            seen.whole++;
          }
          seen[ph]++;
          if (ph === 'committed') return;
        }
        assert.fail('reader ran out of time');
      })();
      const w = await writeInChunks(store, key, data);
      assert.equal(w.bytesWritten, data.length);
      assert.equal(await store.stat(key), null, 'nothing visible before commit');
      phase = 'committing';
      await w.commit();
      phase = 'committed';
      await reader;
      assert.ok(seen.writing > 0, `the reader polled during the write: ${JSON.stringify(seen)}`);
      assert.ok(seen.whole > 0);
      assert.deepEqual(await h.leftovers(), []);
    });

    it('a commit replaces an object atomically: readers see the old bytes or the new, never a mix', async () => {
      const key = 'atomic/replaced.bin';
      const old = randomBytes(target.partBytes + 777);
      const next = randomBytes(target.partBytes * 3 + 4321);
      await writeBlob(store, key, old);
      let done = false;
      let sawOld = 0;
      let sawNew = 0;
      const deadline = Date.now() + 120_000;
      const reader = (async () => {
        for (let polls = 0; polls < 20_000 && Date.now() < deadline; polls++) {
          await new Promise((r) => setImmediate(r));
          const finished = done;
          const r = await store.openRead(key);
          assert.ok(r, 'the object vanished during a replacement');
          const got = await hashStream(r);
          if (got.hash === sha(old)) sawOld++;
          else if (got.hash === sha(next)) sawNew++;
          else assert.fail(`read ${got.bytes} bytes that are neither the old object nor the new one`);
          const s = await store.stat(key);
          assert.ok(s && (s.size === old.length || s.size === next.length), `stat size ${s?.size}`);
          if (finished) return;
        }
        assert.fail('reader ran out of time');
      })();
      const w = await writeInChunks(store, key, next);
      const { created } = await w.commit();
      done = true;
      await reader;
      assert.equal(created, true);
      assert.ok(sawOld > 0 && sawNew > 0, `old ${sawOld}, new ${sawNew}`);
      assert.ok((await readAll(store, key))?.equals(next));
    });

    it('abort leaves nothing behind: no object, no upload, no temp file; the write is closed', async () => {
      const key = 'abort/gone.bin';
      const w = await writeInChunks(store, key, randomBytes(target.partBytes * 2 + 99));
      await w.abort();
      assert.equal(await store.stat(key), null);
      assert.equal(await store.openRead(key), null);
      assert.deepEqual(await collect(store.list('abort/')), []);
      assert.deepEqual(await h.leftovers(), []);
      await assert.rejects(w.write(Buffer.from('more')), (e: unknown) => e instanceof StorageError && e.code === 'CLOSED');
      await assert.rejects(w.commit(), (e: unknown) => e instanceof StorageError && e.code === 'CLOSED');
      await w.abort();

      // A small write (still buffered) aborts just as cleanly; an existing object under the key stays.
      await writeBlob(store, 'abort/kept.bin', 'kept');
      const small = await store.beginWrite('abort/kept.bin');
      await small.write(Buffer.from('replacement'));
      await small.abort();
      assert.equal(String(await readAll(store, 'abort/kept.bin')), 'kept');
      assert.deepEqual(await h.leftovers(), []);
    });

    it('a committed write is closed: no second commit or write, and a late abort keeps the object', async () => {
      const w = await store.beginWrite('closed/obj');
      await w.write(Buffer.from('bytes'));
      await w.commit();
      await assert.rejects(w.commit(), (e: unknown) => e instanceof StorageError && e.code === 'CLOSED');
      await assert.rejects(w.write(Buffer.from('x')), (e: unknown) => e instanceof StorageError && e.code === 'CLOSED');
      await w.abort();
      assert.equal(String(await readAll(store, 'closed/obj')), 'bytes');
      assert.deepEqual(await h.leftovers(), []);
    });

    it('overwrite rules: a commit replaces; ifAbsent keeps the existing object and says so', async () => {
      const key = 'overwrite/obj';
      assert.equal((await writeBlob(store, key, 'first', { ifAbsent: true })).created, true, 'ifAbsent creates a missing object');
      const second = await writeBlob(store, key, 'second');
      assert.equal(second.created, true);
      assert.equal(String(await readAll(store, key)), 'second');
      const kept = await writeBlob(store, key, 'third, ignored', { ifAbsent: true });
      assert.equal(kept.created, false);
      assert.equal(kept.stat.size, 'second'.length, 'the stat is the existing object');
      assert.equal(kept.stat.etag, (await store.stat(key))?.etag);
      assert.equal(String(await readAll(store, key)), 'second');

      // A large ifAbsent write over an existing object discards everything it sent.
      const big = await writeInChunks(store, key, randomBytes(target.partBytes * 2 + 1), { ifAbsent: true });
      assert.equal((await big.commit()).created, false);
      assert.equal(String(await readAll(store, key)), 'second');
      assert.deepEqual(await h.leftovers(), []);
    });

    it('adoptFile (where a store has it): the file becomes the object without a copy and stays for its readers; it replaces, and ifAbsent keeps', async (t) => {
      if (!store.adoptFile) {
        assert.notEqual(target.name, 'disk', 'the disk store adopts files');
        t.diagnostic(`${target.name} has no adoptFile: fills copy into a write`);
        return;
      }
      const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-adopt-'));
      try {
        const first = join(dir, 'first.bin');
        const data = randomBytes(100_000);
        await writeFile(first, data);
        const adopted = await store.adoptFile('adopt/a/obj.nupkg', first);
        if (adopted === null) {
          assert.notEqual(target.name, 'disk', 'the disk store under the system temp directory adopts files from it');
          t.diagnostic('the file is on another filesystem than the store: the caller copies');
          return;
        }
        assert.equal(adopted.created, true);
        assert.equal(adopted.stat.size, data.length);
        assert.ok((await readAll(store, 'adopt/a/obj.nupkg'))?.equals(data));
        assert.ok((await readFile(first)).equals(data), 'the file stays where it was');
        const second = join(dir, 'second.bin');
        await writeFile(second, 'replacement');
        assert.equal((await store.adoptFile('adopt/a/obj.nupkg', second))?.created, true, 'a plain adopt replaces');
        assert.equal(String(await readAll(store, 'adopt/a/obj.nupkg')), 'replacement');
        const third = join(dir, 'third.bin');
        await writeFile(third, 'ignored');
        assert.equal((await store.adoptFile('adopt/a/obj.nupkg', third, { ifAbsent: true }))?.created, false, 'ifAbsent keeps the object');
        assert.equal(String(await readAll(store, 'adopt/a/obj.nupkg')), 'replacement');
        await rm(first);
        assert.ok((await readAll(store, 'adopt/a/obj.nupkg'))?.length, 'removing the original file leaves the object');
        await assert.rejects(store.adoptFile('adopt/../escape', second), UnsafeKeyError);
        assert.deepEqual(await h.leftovers(), []);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('concurrent ifAbsent writers of the same bytes: the object is whole, at least one created it', async () => {
      const data = randomBytes(target.partBytes + 5000);
      const results = await Promise.all(
        [0, 1, 2].map(async () => {
          const w = await writeInChunks(store, 'overwrite/race.bin', data, { ifAbsent: true });
          return (await w.commit()).created;
        }),
      );
      const created = results.filter(Boolean).length;
      if (target.atomicIfAbsent) assert.equal(created, 1, `created ${results}`);
      else assert.ok(created >= 1, `created ${results}`);
      assert.ok((await readAll(store, 'overwrite/race.bin'))?.equals(data));
      assert.deepEqual(await h.leftovers(), []);
    });

    it('lists by prefix in key order, and the children one level down', async () => {
      for (const k of ['list/b/2', 'list/a/1', 'list/a/sub/3', 'list/c', 'lister/x', 'list-x/y']) await writeBlob(store, k, k);
      assert.deepEqual((await collect(store.list('list/'))).map((l) => l.key), ['list/a/1', 'list/a/sub/3', 'list/b/2', 'list/c']);
      assert.deepEqual((await collect(store.list('list/a/'))).map((l) => l.key), ['list/a/1', 'list/a/sub/3']);
      const listing = await collect(store.list('list/a/'));
      assert.deepEqual(listing.map((l) => l.size), [8, 12]);
      assert.deepEqual([...(await collect(store.listChildren('list/')))].sort(), ['a', 'b', 'c']);
      assert.deepEqual([...(await collect(store.listChildren('list/a/')))].sort(), ['1', 'sub']);
      const everything = (await collect(store.list(''))).map((l) => l.key);
      assert.ok(everything.includes('list/c') && everything.includes('lister/x') && everything.includes('list-x/y'));
      assert.deepEqual(everything, [...everything].sort(), 'list("") is in key order');
      const top = await collect(store.listChildren(''));
      assert.ok(top.includes('list') && top.includes('lister') && top.includes('list-x'), top.join(','));
    });

    it('lists past 1000 keys (paging)', async () => {
      const n = 1005;
      const keys = Array.from({ length: n }, (_, i) => `paging/k${String(i).padStart(4, '0')}`);
      for (let i = 0; i < keys.length; i += 16) {
        await Promise.all(keys.slice(i, i + 16).map((k) => writeBlob(store, k, k, { durable: false })));
      }
      await writeBlob(store, 'paging/sub/deeper', 'x', { durable: false });
      const listed = (await collect(store.list('paging/'))).map((l) => l.key);
      assert.equal(listed.length, n + 1);
      assert.deepEqual(listed, [...keys, 'paging/sub/deeper'].sort());
      const children = await collect(store.listChildren('paging/'));
      assert.equal(children.length, n + 1);
      assert.deepEqual([...children].sort(), [...keys.map((k) => k.slice('paging/'.length)), 'sub'].sort());
    });

    it('deletion while being read: a read already open completes with the right bytes', async () => {
      const key = 'delete/while-read.bin';
      const data = randomBytes(target.partBytes * 2 + 3);
      await writeBlob(store, key, data);
      const stream = await store.openRead(key);
      assert.ok(stream);
      const it = stream[Symbol.asyncIterator]();
      const first = (await it.next()) as IteratorResult<Buffer>;
      assert.equal(first.done, false);
      assert.equal(await store.delete(key), true);
      assert.equal(await store.stat(key), null);
      assert.equal(await store.openRead(key), null);
      const chunks = [first.value];
      for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value as Buffer);
      assert.ok(Buffer.concat(chunks).equals(data), 'the open read was cut short or changed');
      assert.equal(await store.delete(key), false);
    });

    it('replacement while being read: a read already open completes with the old bytes', async () => {
      const key = 'delete/replaced-while-read.bin';
      const old = randomBytes(target.partBytes * 2 + 3);
      await writeBlob(store, key, old);
      const stream = await store.openRead(key);
      assert.ok(stream);
      const it = stream[Symbol.asyncIterator]();
      const first = (await it.next()) as IteratorResult<Buffer>;
      await writeBlob(store, key, randomBytes(old.length));
      const chunks = [first.value];
      for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value as Buffer);
      assert.ok(Buffer.concat(chunks).equals(old), 'the open read did not complete with the old bytes');
    });

    it('refuses unsafe keys and prefixes with UnsafeKeyError, for every operation', async () => {
      const unsafe = (e: unknown) => e instanceof UnsafeKeyError;
      for (const key of UNSAFE_KEYS) {
        const label = JSON.stringify(key.slice(0, 20));
        await assert.rejects(store.stat(key), unsafe, `stat ${label}`);
        await assert.rejects(store.openRead(key), unsafe, `openRead ${label}`);
        await assert.rejects(store.beginWrite(key), unsafe, `beginWrite ${label}`);
        await assert.rejects(store.delete(key), unsafe, `delete ${label}`);
      }
      for (const prefix of UNSAFE_PREFIXES) {
        await assert.rejects(collect(store.list(prefix)), unsafe, `list ${prefix}`);
        await assert.rejects(collect(store.listChildren(prefix)), unsafe, `listChildren ${prefix}`);
      }
      assert.deepEqual(await h.leftovers(), []);
    });

    it('accepts keys with letters of any script, as NuGet package ids have them', async () => {
      for (const key of ['packages/café.lib/1.0.0/café.lib.1.0.0.nupkg', 'packages/пакет/1.0.0/x', 'packages/包/2.0.0-β/y']) {
        await writeBlob(store, key, key);
        assert.equal((await readBlob(store, key))?.toString(), key);
        assert.ok(await store.delete(key));
      }
    });

    it('reads ranges: [start, end) clamped to the object; empty past the end', async () => {
      const data = randomBytes(1000);
      await writeBlob(store, 'range/obj', data);
      const cases: Array<[{ start: number; end?: number }, Buffer]> = [
        [{ start: 0 }, data],
        [{ start: 10, end: 20 }, data.subarray(10, 20)],
        [{ start: 990 }, data.subarray(990)],
        [{ start: 0, end: 1000 }, data],
        [{ start: 995, end: 5000 }, data.subarray(995)],
        [{ start: 999, end: 1000 }, data.subarray(999)],
        [{ start: 5, end: 5 }, Buffer.alloc(0)],
        [{ start: 1000 }, Buffer.alloc(0)],
        [{ start: 2000, end: 3000 }, Buffer.alloc(0)],
      ];
      for (const [range, want] of cases) {
        const got = await readAll(store, 'range/obj', range);
        assert.ok(got?.equals(want), `range ${JSON.stringify(range)}: ${got?.length} bytes`);
      }
    });

    it(`writes and reads a large object (48 MiB) in chunks${target.flatMemory ? ' with memory flat in its size' : ''}`, async (t) => {
      const size = 48 * 1024 * 1024;
      const chunkBytes = 64 * 1024;
      const gc = exposeGc();
      const held = () => {
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      gc();
      const baseline = held();
      // Peaks per phase: the first and second half of the write, and the read.
      const peaks = [0, 0, 0];
      let phase = 0;
      const sample = () => {
        gc();
        peaks[phase] = Math.max(peaks[phase] ?? 0, held() - baseline);
      };
      const writeHash = createHash('sha256');
      const w = await store.beginWrite('large/obj.bin');
      const chunk = Buffer.alloc(chunkBytes);
      for (let i = 0; i < size / chunkBytes; i++) {
        chunk.fill(i % 251);
        chunk.writeUInt32BE(i, 0);
        writeHash.update(chunk);
        await w.write(chunk);
        if (i % 16 === 0) sample();
        if (i === size / chunkBytes / 2) phase = 1;
      }
      const { stat } = await w.commit();
      sample();
      phase = 2;
      assert.equal(stat.size, size);
      assert.equal((await store.stat('large/obj.bin'))?.size, size);
      const stream = await store.openRead('large/obj.bin');
      assert.ok(stream);
      const readHash = createHash('sha256');
      let read = 0;
      for await (const c of stream) {
        readHash.update(c as Buffer);
        read += (c as Buffer).length;
        if (read % (1024 * 1024) < (c as Buffer).length) sample();
      }
      assert.equal(read, size);
      assert.equal(readHash.digest('hex'), writeHash.digest('hex'));
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      const [firstHalf = 0, secondHalf = 0, reading = 0] = peaks;
      t.diagnostic(`${target.name}: memory held (MiB) writing 0-24 MiB ${mib(firstHalf)}, 24-48 MiB ${mib(secondHalf)}, reading ${mib(reading)}`);
      if (target.flatMemory) {
        // Whole-object buffering would hold ≥ 48 MiB, and more in the second half than in the first. A
        // store may hold about three parts — one filling, one being sent, the last one sent until the
        // HTTP client lets go of it — plus a constant overhead.
        const bound = 3 * target.partBytes + 8 * 1024 * 1024;
        for (const [name, peak] of [['writing', Math.max(firstHalf, secondHalf)], ['reading', reading]] as const)
          assert.ok(peak < bound, `${name} 48 MiB held ${mib(peak)} MiB (bound ${mib(bound)} MiB)`);
        assert.ok(secondHalf <= firstHalf + target.partBytes + 1024 * 1024, `memory grew with the object: ${mib(firstHalf)} → ${mib(secondHalf)} MiB`);
      }
      assert.equal(await store.delete('large/obj.bin'), true);
      assert.deepEqual(await h.leftovers(), []);
    });
  });
}
