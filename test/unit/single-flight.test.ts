// Tests for request coalescing (src/cache/single-flight.ts): one run per key for concurrent callers, shared
// results and errors, and the key freed once the run settles.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SingleFlight } from '../../src/cache/single-flight.ts';

/** A promise whose settlement the test controls. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('runs once for concurrent callers of one key and shares the result', async () => {
    const sf = new SingleFlight<string>();
    const gate = deferred<string>();
    let runs = 0;
    const fn = () => {
      runs++;
      return gate.promise;
    };
    const calls = Array.from({ length: 10 }, () => sf.run('newtonsoft.json/13.0.3', fn));
    assert.deepEqual(calls.map((c) => c.shared), [false, true, true, true, true, true, true, true, true, true]);
    assert.equal(sf.size, 1);
    gate.resolve('filled');
    const results = await Promise.all(calls.map((c) => c.promise));
    assert.deepEqual(results, Array(10).fill('filled'));
    assert.equal(runs, 1);
  });

  it('shares one error with every caller', async () => {
    const sf = new SingleFlight<string>();
    const gate = deferred<string>();
    const a = sf.run('k', () => gate.promise);
    const b = sf.run('k', () => Promise.resolve('never runs'));
    const boom = new Error('upstream unavailable');
    gate.reject(boom);
    const [ra, rb] = await Promise.allSettled([a.promise, b.promise]);
    assert.deepEqual([ra?.status, rb?.status], ['rejected', 'rejected']);
    assert.equal(ra?.status === 'rejected' ? ra.reason : null, boom);
    assert.equal(rb?.status === 'rejected' ? rb.reason : null, boom);
    assert.equal(sf.size, 0);
  });

  it('frees the key after success so the next call runs again', async () => {
    const sf = new SingleFlight<number>();
    let runs = 0;
    const fn = async () => ++runs;
    assert.equal(await sf.run('k', fn).promise, 1);
    assert.equal(sf.size, 0);
    const second = sf.run('k', fn);
    assert.equal(second.shared, false);
    assert.equal(await second.promise, 2);
  });

  it('frees the key after a rejected run', async () => {
    const sf = new SingleFlight<number>();
    const first = sf.run('k', async () => {
      throw new Error('async');
    });
    await assert.rejects(first.promise, /async/);
    assert.equal(sf.size, 0);
    const retry = sf.run('k', async () => 7);
    assert.equal(retry.shared, false);
    assert.equal(await retry.promise, 7);
  });

  it('frees the key when fn throws synchronously (a thrown fill must not poison the key forever)', async () => {
    const sf = new SingleFlight<number>();
    const first = sf.run('k', () => {
      throw new Error('sync');
    });
    await assert.rejects(first.promise, /sync/);
    assert.equal(sf.size, 0);
    const retry = sf.run('k', async () => 7);
    assert.equal(retry.shared, false);
    assert.equal(await retry.promise, 7);
  });

  it('keeps different keys independent', async () => {
    const sf = new SingleFlight<string>();
    const gateA = deferred<string>();
    const a = sf.run('a', () => gateA.promise);
    const b = sf.run('b', async () => 'b');
    assert.equal(b.shared, false);
    assert.equal(await b.promise, 'b');
    assert.equal(sf.size, 1, 'a is still in flight');
    gateA.resolve('a');
    assert.equal(await a.promise, 'a');
    assert.equal(sf.size, 0);
  });

  it('drain waits for everything in flight', async () => {
    const sf = new SingleFlight<string>();
    const gate = deferred<string>();
    const order: string[] = [];
    const run = sf.run('k', () => gate.promise);
    void run.promise.then(() => order.push('run settled'));
    const drained = sf.drain().then(() => order.push('drained'));
    await Promise.resolve();
    assert.deepEqual(order, []);
    gate.resolve('done');
    await drained;
    assert.deepEqual(order, ['run settled', 'drained']);
    assert.equal(sf.size, 0);
  });
});
