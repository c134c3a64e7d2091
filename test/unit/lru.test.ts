// Tests for the byte-budgeted LRU map (src/cache/lru.ts): eviction order, recency on get, oversize values,
// and exact byte accounting.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LruCache } from '../../src/cache/lru.ts';

function cache(maxBytes: number): LruCache<string> {
  return new LruCache<string>(maxBytes, (v) => v.length);
}

function keysOf(c: LruCache<string>, candidates: readonly string[]): string[] {
  // get() refreshes recency, so probe a copy of the state only at the end of a test.
  return candidates.filter((k) => c.get(k) !== undefined);
}

describe('LruCache', () => {
  it('stores and returns values and counts their bytes', () => {
    const c = cache(100);
    c.set('a', 'xxxx');
    c.set('b', 'yy');
    assert.equal(c.get('a'), 'xxxx');
    assert.equal(c.get('b'), 'yy');
    assert.equal(c.get('missing'), undefined);
    assert.equal(c.size, 2);
    assert.equal(c.totalBytes, 6);
  });

  it('evicts the least recently set entry first when over budget', () => {
    const c = cache(10);
    c.set('a', '1111');
    c.set('b', '2222');
    c.set('c', '3333');
    assert.deepEqual(keysOf(c, ['a', 'b', 'c']), ['b', 'c']);
    assert.equal(c.totalBytes, 8);
  });

  it('treats get as a use: the entry read last survives', () => {
    const c = cache(10);
    c.set('a', '1111');
    c.set('b', '2222');
    assert.equal(c.get('a'), '1111');
    c.set('c', '3333');
    assert.deepEqual(keysOf(c, ['a', 'b', 'c']), ['a', 'c']);
  });

  it('treats set of an existing key as a use and re-counts its size', () => {
    const c = cache(10);
    c.set('a', '1111');
    c.set('b', '2222');
    c.set('a', '11');
    assert.equal(c.totalBytes, 6);
    c.set('c', '33333');
    assert.deepEqual(keysOf(c, ['a', 'b', 'c']), ['a', 'c']);
    assert.equal(c.totalBytes, 7);
  });

  it('evicts as many old entries as needed for a big one', () => {
    const c = cache(10);
    for (const k of ['a', 'b', 'c', 'd', 'e']) c.set(k, '22');
    c.set('big', '123456789');
    assert.deepEqual(keysOf(c, ['a', 'b', 'c', 'd', 'e', 'big']), ['big']);
    assert.equal(c.totalBytes, 9);
  });

  it('keeps a value exactly the size of the budget', () => {
    const c = cache(10);
    c.set('a', '1');
    c.set('full', '0123456789');
    assert.deepEqual(keysOf(c, ['a', 'full']), ['full']);
    assert.equal(c.totalBytes, 10);
  });

  it('never stores a value larger than the budget, and drops the old value of that key', () => {
    const c = cache(10);
    c.set('a', '1111');
    c.set('b', '2222');
    c.set('a', 'x'.repeat(11));
    assert.equal(c.get('a'), undefined);
    assert.equal(c.get('b'), '2222', 'an oversize value does not evict others');
    assert.equal(c.totalBytes, 4);
  });

  it('deletes entries and their bytes; deleting a missing key is a no-op', () => {
    const c = cache(10);
    c.set('a', '1111');
    c.delete('a');
    c.delete('a');
    c.delete('never');
    assert.equal(c.get('a'), undefined);
    assert.equal(c.size, 0);
    assert.equal(c.totalBytes, 0);
  });

  it('stays within budget over a long mixed workload', () => {
    const c = new LruCache<number>(1000, (v) => v);
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 48271) % 2147483647;
      const key = `k${seed % 50}`;
      if (seed % 3 === 0) c.get(key);
      else c.set(key, seed % 300);
      assert.ok(c.totalBytes <= 1000, `over budget at step ${i}: ${c.totalBytes}`);
    }
    let sum = 0;
    for (let k = 0; k < 50; k++) {
      const v = c.get(`k${k}`);
      if (v !== undefined) sum += v;
    }
    assert.equal(sum, c.totalBytes, 'byte count matches the stored values');
  });

  it('keeps exactly what a plain least-recently-used list keeps, over gets, sets, deletes and deleteWhere', () => {
    const budget = 600;
    const c = new LruCache<number>(budget, (v) => v);
    // The reference: an array from oldest to newest.
    let model: Array<[string, number]> = [];
    const use = (key: string): void => {
      const i = model.findIndex(([k]) => k === key);
      if (i >= 0) model.push(...model.splice(i, 1));
    };
    let seed = 11;
    for (let step = 0; step < 20_000; step++) {
      seed = (seed * 48271) % 2147483647;
      const key = `k${seed % 40}`;
      const op = seed % 10;
      if (op < 5) {
        const want = model.find(([k]) => k === key)?.[1];
        assert.equal(c.get(key), want, `get ${key} at step ${step}`);
        use(key);
      } else if (op < 8) {
        const size = (seed >> 4) % 250;
        c.set(key, size);
        model = model.filter(([k]) => k !== key);
        model.push([key, size]);
        let total = model.reduce((a, [, v]) => a + v, 0);
        while (total > budget) total -= (model.shift() as [string, number])[1];
      } else if (op < 9) {
        c.delete(key);
        model = model.filter(([k]) => k !== key);
      } else {
        const odd = (k: string, v: number): boolean => v % 2 === 1 && k !== key;
        assert.equal(c.deleteWhere(odd), model.filter(([k, v]) => odd(k, v)).length);
        model = model.filter(([k, v]) => !odd(k, v));
      }
      assert.equal(c.size, model.length, `size at step ${step}`);
      assert.equal(c.totalBytes, model.reduce((a, [, v]) => a + v, 0), `bytes at step ${step}`);
    }
  });
});
