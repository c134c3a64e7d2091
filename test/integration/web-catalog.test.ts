// The web page's package catalog (src/resources/catalog.ts) on a real disk blob store: built from one
// listing, searched, sorted and paged; kept current by fills, evictions and invalidation; last-served
// times from the access index, unfolded deltas and live touches.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { PackageCatalog } from '../../src/resources/catalog.ts';
import { writeBlob } from '../../src/storage/blob-store.ts';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { ACCESS_INDEX_KEY, accessDeltaKey, packageKey } from '../../src/storage/layout.ts';
import { makeTempDir } from '../helpers/proxy.ts';

const log = createLogger({ level: 'silent', format: 'json' });

async function putVersion(blobs: DiskBlobStore, lowerId: string, lowerVersion: string, nupkgBytes = 100, extra: Array<'nuspec' | 'pinned' | 'icon'> = ['nuspec']): Promise<void> {
  for (const f of extra) await writeBlob(blobs, packageKey(lowerId, lowerVersion, f), Buffer.alloc(10), { durable: false });
  await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nupkg'), Buffer.alloc(nupkgBytes), { durable: false });
}

describe('PackageCatalog', () => {
  let dir: string;
  let blobs: DiskBlobStore;

  before(async () => {
    dir = await makeTempDir('catalog');
    blobs = new DiskBlobStore(dir);
    await putVersion(blobs, 'alpha.core', '1.0.0', 100);
    await putVersion(blobs, 'alpha.core', '2.0.0-beta', 200);
    await putVersion(blobs, 'alpha.core', '1.5.0', 300, ['nuspec', 'pinned']);
    await putVersion(blobs, 'beta.tools', '3.0.0', 1000);
    await putVersion(blobs, 'gamma', '0.1.0', 50);
    // A version with no .nupkg (a nuspec fetched alone) is not held.
    await writeBlob(blobs, packageKey('delta', '1.0.0', 'nuspec'), 'x');
    // Junk under packages/ that is not a package key is ignored.
    await writeBlob(blobs, 'packages/alpha.core/readme-notes.txt', 'x');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lists held versions, in NuGet order, with their files, sizes and pinning', async () => {
    const catalog = new PackageCatalog({ blobs, log });
    assert.equal(await catalog.ready(5000), true);
    const alpha = catalog.get('alpha.core');
    assert.deepEqual(alpha?.versions.map((v) => v.lowerVersion), ['1.0.0', '1.5.0', '2.0.0-beta']);
    assert.equal(alpha?.versions[1]?.pinned, true);
    assert.equal(alpha?.versions[1]?.nupkgBytes, 300);
    assert.equal(alpha?.versions[1]?.bytes, 300 + 10 + 10);
    assert.ok(alpha?.versions[0]?.files.has('nuspec'));
    assert.equal(catalog.get('delta'), null);
    const totals = catalog.totals();
    assert.equal(totals.packages, 3);
    assert.equal(totals.versions, 5);
    assert.equal(totals.building, false);
  });

  it('searches ids by every term, sorts and pages', async () => {
    const catalog = new PackageCatalog({ blobs, log });
    await catalog.ready(5000);
    const ids = (q: string, sort: 'id' | 'size' | 'versions' = 'id', page = 1, pageSize = 10) =>
      catalog.query({ q, sort, page, pageSize }).packages.map((p) => p.lowerId);
    assert.deepEqual(ids(''), ['alpha.core', 'beta.tools', 'gamma']);
    assert.deepEqual(ids('A'), ['alpha.core', 'beta.tools', 'gamma']);
    assert.deepEqual(ids('core alpha'), ['alpha.core']);
    assert.deepEqual(ids('alpha nothing'), []);
    assert.deepEqual(ids('', 'size'), ['beta.tools', 'alpha.core', 'gamma']);
    assert.deepEqual(ids('', 'versions'), ['alpha.core', 'beta.tools', 'gamma']);
    assert.deepEqual(ids('', 'id', 2, 2), ['gamma']);
    assert.equal(catalog.query({ q: '', sort: 'id', page: 2, pageSize: 2 }).total, 3);
  });

  it('follows fills and removals one version at a time, and rebuilds after invalidation', async () => {
    const catalog = new PackageCatalog({ blobs, log });
    await catalog.ready(5000);
    await putVersion(blobs, 'epsilon', '1.0.0', 70);
    catalog.noteChange({ kind: 'filled', lowerId: 'epsilon', lowerVersion: '1.0.0' });
    await waitFor(() => catalog.get('epsilon') !== null);
    assert.equal(catalog.get('epsilon')?.versions[0]?.nupkgBytes, 70);

    catalog.noteChange({ kind: 'removed', lowerId: 'gamma', lowerVersion: '0.1.0' });
    assert.equal(catalog.get('gamma'), null, 'removed at once, without a listing');

    // Another process changed the store: the catalog rebuilds from a listing on the next read.
    await putVersion(blobs, 'zeta', '9.0.0');
    catalog.noteChange({ kind: 'invalidated' });
    assert.equal(catalog.get('zeta'), null);
    await catalog.ready(5000);
    await waitFor(() => catalog.get('zeta') !== null && !catalog.totals().building);
    assert.notEqual(catalog.get('gamma'), null, 'the listing is the truth after a rebuild');
  });

  it('knows when versions were last served: the index, unfolded deltas and this process', async () => {
    await writeBlob(blobs, ACCESS_INDEX_KEY, JSON.stringify({ served: { 'alpha.core/1.0.0': 1_000, 'beta.tools/3.0.0': 5_000 } }));
    await writeBlob(blobs, accessDeltaKey(2_000, 'other-replica'), JSON.stringify({ served: { 'alpha.core/1.0.0': 2_000, 'gamma/0.1.0': 3_000 } }));
    const catalog = new PackageCatalog({ blobs, log });
    await catalog.ready(5000);
    assert.equal(catalog.lastServed('alpha.core', '1.0.0'), 2_000);
    assert.equal(catalog.lastServed('beta.tools'), 5_000);
    assert.equal(catalog.lastServed('alpha.core', '1.5.0'), null);
    catalog.noteServed('gamma', '0.1.0');
    assert.ok((catalog.lastServed('gamma') ?? 0) > 1_000_000);
    assert.deepEqual(
      catalog.query({ q: '', sort: 'served', page: 1, pageSize: 10 }).packages.map((p) => p.lowerId).slice(0, 3),
      ['gamma', 'beta.tools', 'alpha.core'],
    );
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
