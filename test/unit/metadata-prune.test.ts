// Tests for the metadata pruning of the retention sweeper (src/retention/sweeper.ts) on the in-memory blob
// store: the entry cap with hysteresis, oldest first; an early sweep after many writes (at most once a
// minute); nothing pruned without a metadata policy (offline).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { Sweeper, type MetadataPolicy } from '../../src/retention/sweeper.ts';
import { writeBlob } from '../../src/storage/blob-store.ts';
import { METADATA_PREFIX, metadataKey } from '../../src/storage/layout.ts';
import { MemoryBlobStore } from '../helpers/memory-blob-store.ts';

const log = createLogger({ level: 'silent', format: 'json' });

function sweeper(blobs: MemoryBlobStore, metadata?: MetadataPolicy): Sweeper {
  return new Sweeper({
    blobs,
    log,
    metrics: createMetrics({ defaultMetrics: false }),
    policy: { maxBytes: null, evictUnusedMs: null, graceMs: 0 },
    ...(metadata ? { metadata } : {}),
  });
}

async function keys(blobs: MemoryBlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const o of blobs.list(METADATA_PREFIX)) out.push(o.key);
  return out;
}

/** Writes `n` metadata objects a few milliseconds apart (so they have an order by age); their keys, oldest first. */
async function writeEntries(blobs: MemoryBlobStore, n: number, prefix: string): Promise<string[]> {
  const written: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = metadataKey(`versions:${prefix}${i}`);
    await writeBlob(blobs, key, `"versions:${prefix}${i}"\n{"value":{"status":200,"fetchedAt":1}}\n{}`);
    written.push(key);
    await sleep(2);
  }
  return written;
}

describe('Sweeper.pruneMetadata', () => {
  it('past the cap, deletes the least recently written down to 90% of it', async () => {
    const blobs = new MemoryBlobStore();
    const written = await writeEntries(blobs, 30, 'a');
    const result = await sweeper(blobs, { unusedMs: 86_400_000, maxEntries: 20 }).pruneMetadata();
    assert.deepEqual(result, { entries: 18, unused: 0, overCap: 12 });
    assert.deepEqual((await keys(blobs)).sort(), written.slice(12).sort(), 'the 12 oldest went');
  });

  it('at or under the cap, and young, nothing goes', async () => {
    const blobs = new MemoryBlobStore();
    await writeEntries(blobs, 20, 'b');
    assert.deepEqual(await sweeper(blobs, { unusedMs: 86_400_000, maxEntries: 20 }).pruneMetadata(), { entries: 20, unused: 0, overCap: 0 });
  });

  it('without a metadata policy (offline) it does nothing', async () => {
    const blobs = new MemoryBlobStore();
    await writeEntries(blobs, 30, 'c');
    assert.equal(await sweeper(blobs).pruneMetadata(), null);
    assert.equal((await keys(blobs)).length, 30);
  });

  it('many writes between sweeps start one early, at most once a minute', async () => {
    const blobs = new MemoryBlobStore();
    const s = sweeper(blobs, { unusedMs: 86_400_000, maxEntries: 20 });
    try {
      await writeEntries(blobs, 30, 'd');
      // A tenth of the cap, but never fewer than 10 writes.
      for (let i = 0; i < 9; i++) s.noteMetadataWritten();
      await sleep(400);
      assert.equal((await keys(blobs)).length, 30, 'below the threshold: no sweep');
      s.noteMetadataWritten();
      for (let i = 0; i < 40 && (await keys(blobs)).length > 18; i++) await sleep(50);
      assert.equal((await keys(blobs)).length, 18, 'the early sweep pruned');
      await writeEntries(blobs, 10, 'e');
      for (let i = 0; i < 10; i++) s.noteMetadataWritten();
      await sleep(400);
      assert.equal((await keys(blobs)).length, 28, 'no second early sweep within a minute');
    } finally {
      await s.close();
    }
  });
});
