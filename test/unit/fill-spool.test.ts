// Tests for src/storage/fill-spool.ts: readers follow a download as it is written, never get the last byte
// before release, carry on in a retry that announces the same body, are aborted when it announces another
// or the fill is rejected; late followers start from the first byte; closing removes the files.

import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FillSpool } from '../../src/storage/fill-spool.ts';
import { LocalTemp } from '../../src/storage/local-temp.ts';
import { makeTempDir } from '../helpers/proxy.ts';

let dir: string;
let temp: LocalTemp;

before(async () => {
  dir = await makeTempDir('fill-spool');
  temp = new LocalTemp(dir);
  await temp.init();
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = (w: Writable, data: Buffer) => new Promise<void>((resolve, reject) => w.write(data, (err) => (err ? reject(err) : resolve())));
const end = (w: Writable) => new Promise<void>((resolve) => w.end(() => resolve()));
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

/** Collects what a reader delivers, and how it ended. */
function collect(r: Readable): { bytes: () => Buffer; done: Promise<{ ended: boolean; error: Error | null }> } {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<{ ended: boolean; error: Error | null }>((resolve) => {
    r.once('end', () => resolve({ ended: true, error: null }));
    r.once('error', (error) => resolve({ ended: false, error }));
  });
  return { bytes: () => Buffer.concat(chunks), done };
}

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

describe('FillSpool', () => {
  it('streams bytes as they are written, withholds the last one until release, then ends', async () => {
    const spool = new FillSpool(temp, 'a.1.0.0.nupkg');
    const following = spool.follow();
    const sink = await spool.begin({ declaredBytes: 3000, sha512: null });
    const followed = await following;
    assert.ok(followed, 'a follower joins the attempt that begins');
    assert.equal(followed.declaredBytes, 3000);
    const got = collect(followed.stream);
    const data = bytes(3000, 1);
    await write(sink, data.subarray(0, 1000));
    await tick();
    assert.equal(got.bytes().length, 999, 'what is on disk, less the last byte');
    await write(sink, data.subarray(1000));
    await end(sink);
    await tick();
    assert.equal(got.bytes().length, 2999, 'the whole body but its last byte before release');
    spool.release();
    assert.deepEqual(await got.done, { ended: true, error: null });
    assert.ok(got.bytes().equals(data));
    await spool.close();
  });

  it('a follower arriving late starts from the first byte; one arriving after release gets it all', async () => {
    const spool = new FillSpool(temp, 'b.1.0.0.nupkg');
    const sink = await spool.begin({ declaredBytes: null, sha512: null });
    const data = bytes(600_000, 2);
    await write(sink, data.subarray(0, 400_000));
    const late = collect((await spool.follow())?.stream ?? assert.fail('no attempt to follow'));
    await write(sink, data.subarray(400_000));
    await end(sink);
    spool.release();
    const later = collect((await spool.follow())?.stream ?? assert.fail('no attempt to follow'));
    for (const r of [late, later]) {
      assert.deepEqual(await r.done, { ended: true, error: null });
      assert.ok(r.bytes().equals(data));
    }
    await spool.close();
  });

  it('a failed attempt: its readers carry on in a retry announcing the same body, from where they were', async () => {
    const spool = new FillSpool(temp, 'c.1.0.0.nupkg');
    const data = bytes(2000, 3);
    const first = await spool.begin({ declaredBytes: 2000, sha512: 'abc' });
    const early = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    await write(first, data.subarray(0, 1000));
    await tick();
    // As pipeline() does when the upstream body breaks off.
    first.on('error', () => undefined).destroy(new Error('connection reset'));
    await tick();
    assert.equal(early.bytes().length, 999, 'all but the last byte written, then it waits for a retry');
    // Between attempts a new follower waits for the next one.
    const waiting = spool.follow();
    const second = await spool.begin({ declaredBytes: 2000, sha512: 'abc' });
    const next = collect((await waiting)?.stream ?? assert.fail('no attempt'));
    await write(second, data);
    await end(second);
    spool.release();
    assert.deepEqual(await early.done, { ended: true, error: null });
    assert.ok(early.bytes().equals(data), 'the first reader: its 999 bytes, then the rest from the retry');
    assert.deepEqual(await next.done, { ended: true, error: null });
    assert.ok(next.bytes().equals(data), 'the new follower: the retry from its first byte');
    await spool.close();
  });

  it('a failed attempt whose retry announces another body, or none, aborts its readers', async () => {
    const spool = new FillSpool(temp, 'c2.1.0.0.nupkg');
    const first = await spool.begin({ declaredBytes: 2000, sha512: null });
    const r1 = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    await write(first, bytes(1000, 3));
    first.on('error', () => undefined).destroy(new Error('connection reset'));
    const second = await spool.begin({ declaredBytes: 1999, sha512: null });
    const outcome = await r1.done;
    assert.equal(outcome.ended, false);
    assert.match(outcome.error?.message ?? '', /connection reset/);
    const r2 = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    await write(second, bytes(500, 4));
    second.on('error', () => undefined).destroy(new Error('connection reset again'));
    // No retry comes: the fill ends, and the reader waiting for one is aborted.
    await spool.close();
    const last = await r2.done;
    assert.equal(last.ended, false);
    assert.ok(r2.bytes().length < 1999, 'never the complete body');
  });

  it('a rejected fill aborts followers that hold everything but the last byte', async () => {
    const spool = new FillSpool(temp, 'd.1.0.0.nupkg');
    const sink = await spool.begin({ declaredBytes: 500, sha512: null });
    const r = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    await write(sink, bytes(500, 5));
    await end(sink);
    await tick();
    spool.fail(new Error('the nuspec names another package'));
    const outcome = await r.done;
    assert.equal(outcome.ended, false);
    assert.equal(r.bytes().length, 499, 'never the complete body');
    await spool.close();
  });

  it('closing without an attempt resolves waiting followers with null; closing removes every attempt file', async () => {
    const spool = new FillSpool(temp, 'e.1.0.0.nupkg');
    const waiting = spool.follow();
    await spool.close();
    assert.equal(await waiting, null);
    assert.equal(await spool.follow(), null);

    const used = new FillSpool(temp, 'f.1.0.0.nupkg');
    const a = await used.begin({ declaredBytes: null, sha512: null });
    a.on('error', () => undefined).destroy(new Error('reset'));
    const b = await used.begin({ declaredBytes: null, sha512: null });
    const reader = collect((await used.follow())?.stream ?? assert.fail('no attempt'));
    await write(b, bytes(100_000, 6));
    await end(b);
    used.release();
    await used.close();
    assert.deepEqual(await readdir(temp.ownDir), [], 'both attempt files are gone');
    // A reader of the released attempt still reads through its open handle.
    assert.deepEqual(await reader.done, { ended: true, error: null });
    assert.equal(reader.bytes().length, 100_000);
  });

  it('a reader going away does not disturb the attempt or the other readers', async () => {
    const spool = new FillSpool(temp, 'g.1.0.0.nupkg');
    const sink = await spool.begin({ declaredBytes: null, sha512: null });
    const leaving = (await spool.follow())?.stream ?? assert.fail('no attempt');
    const staying = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    const data = bytes(50_000, 7);
    await write(sink, data.subarray(0, 10_000));
    leaving.destroy();
    await write(sink, data.subarray(10_000));
    await end(sink);
    spool.release();
    assert.deepEqual(await staying.done, { ended: true, error: null });
    assert.ok(staying.bytes().equals(data));
    await spool.close();
  });

  it("a reader keeping up takes each write's bytes from memory; one that fell behind reads them back from the file", async () => {
    const spool = new FillSpool(temp, 'h.1.0.0.nupkg');
    const sink = await spool.begin({ declaredBytes: null, sha512: null });
    const handle = spool.handle ?? assert.fail('no spool file');
    let fileReads = 0;
    const read = handle.read.bind(handle) as (...args: unknown[]) => Promise<unknown>;
    (handle as { read: unknown }).read = (...args: unknown[]) => {
      fileReads++;
      return read(...args);
    };
    const keepingUp = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    const data = bytes(300_000, 8);
    for (let at = 0; at < 200_000; at += 20_000) {
      await write(sink, data.subarray(at, at + 20_000));
      await tick(5);
    }
    assert.equal(keepingUp.bytes().length, 199_999, 'everything written but the last byte');
    assert.equal(fileReads, 0, 'nothing read back from the file');
    const behind = collect((await spool.follow())?.stream ?? assert.fail('no attempt'));
    await write(sink, data.subarray(200_000));
    await end(sink);
    spool.release();
    for (const r of [keepingUp, behind]) {
      assert.deepEqual(await r.done, { ended: true, error: null });
      assert.ok(r.bytes().equals(data));
    }
    assert.ok(fileReads > 0, 'the late reader read what the last write no longer holds from the file');
    await spool.close();
  });
});
