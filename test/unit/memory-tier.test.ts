// Tests for the memory tier (src/cache/memory-tier.ts): one byte budget shared by its spaces, recency across
// spaces, spaces that never see each other's keys, and selective deletion (evicted package versions).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTier } from '../../src/cache/memory-tier.ts';

describe('MemoryTier', () => {
  it('keeps every space together under one budget, evicting the least recently used of any space', () => {
    const tier = new MemoryTier(100);
    const docs = tier.space<string>('metadata', (s) => s.length);
    const files = tier.space<Buffer>('response', (b) => b.length);
    docs.set('a', 'x'.repeat(40));
    files.set('f', Buffer.alloc(40));
    assert.equal(tier.stats.bytes, 80);
    docs.get('a'); // a is now more recent than f
    files.set('g', Buffer.alloc(40));
    assert.equal(files.get('f'), undefined, 'the least recently used entry went, though it was in another space');
    assert.equal(docs.get('a')?.length, 40);
    assert.equal(files.get('g')?.length, 40);
    assert.ok(tier.stats.bytes <= 100);
  });

  it('gives each space its own keys', () => {
    const tier = new MemoryTier(1000);
    const a = tier.space<string>('metadata', (s) => s.length);
    const b = tier.space<number>('render', () => 8);
    a.set('k', 'text');
    b.set('k', 42);
    assert.equal(a.get('k'), 'text');
    assert.equal(b.get('k'), 42);
    a.delete('k');
    assert.equal(a.get('k'), undefined);
    assert.equal(b.get('k'), 42);
  });

  it('refuses a value larger than the whole budget (and keeps the rest)', () => {
    const tier = new MemoryTier(100);
    const s = tier.space<Buffer>('response', (b) => b.length);
    s.set('small', Buffer.alloc(10));
    s.set('huge', Buffer.alloc(101));
    assert.equal(s.get('huge'), undefined);
    assert.equal(s.get('small')?.length, 10);
    assert.equal(tier.stats.bytes, 10);
  });

  it('deletes what a predicate selects within one space, and clears one space or all', () => {
    const tier = new MemoryTier(1000);
    const files = tier.space<{ id: string; n: number }>('response', () => 10);
    const docs = tier.space<{ id: string; n: number }>('metadata', () => 10);
    files.set('1', { id: 'a', n: 1 });
    files.set('2', { id: 'b', n: 2 });
    files.set('3', { id: 'a', n: 3 });
    docs.set('1', { id: 'a', n: 4 });
    assert.equal(files.deleteWhere((v) => v.id === 'a'), 2);
    assert.equal(files.get('1'), undefined);
    assert.equal(files.get('2')?.n, 2);
    assert.equal(docs.get('1')?.n, 4, 'another space is untouched');
    assert.equal(tier.stats.bytes, 20);
    files.clear();
    assert.equal(docs.get('1')?.n, 4);
    assert.equal(tier.stats.bytes, 10);
    tier.clear();
    assert.deepEqual(tier.stats, { bytes: 0, entries: 0, maxBytes: 1000 });
  });
});
