// The `dotnet restore` scenario with packages in S3-compatible object storage (s3rver on 127.0.0.1):
// cold, warm, upstream stopped — and the packages are in the bucket, byte-identical to upstream's, not in
// the cache directory (which only holds local scratch). Then a new replica with an empty cache directory
// and the upstream still stopped restores from the bucket alone.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { packageKey } from '../../src/storage/layout.ts';
import { sha512File } from '../helpers/clients.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { runRestoreScenario, upstreamFile } from './restore-scenario.ts';

const PREFIX = 'e2e/';
let s3: TestS3;
let bucket: BlobStore;
// Node 20 runs a file's top-level before() hooks concurrently, so the scenario's hook (which starts the
// proxy) cannot rely on another hook having started s3rver: the server starts on first use instead.
let s3Started: Promise<TestS3> | undefined;
const s3Env = async (): Promise<Record<string, string>> => {
  s3Started ??= startS3().then((started) => {
    s3 = started;
    bucket = started.createStore(PREFIX);
    return started;
  });
  return (await s3Started).proxyEnv(PREFIX);
};

const scenario = runRestoreScenario({
  store: 's3',
  startProxy: async (upstream) => startProxy({ NUGET_PROXY_UPSTREAM: upstream, ...(await s3Env()) }),
  async checkStored(proxy, restored) {
    for (const key of restored.keys()) {
      const [lowerId, lowerVersion] = key.split('/') as [string, string];
      const stream = await bucket.openRead(packageKey(lowerId, lowerVersion, 'nupkg'));
      assert.ok(stream, `${key} is not in the bucket`);
      const h = createHash('sha512');
      for await (const c of stream) h.update(c as Buffer);
      assert.equal(h.digest('hex'), await sha512File(upstreamFile(key)), `${key} in the bucket differs from upstream`);
    }
    const local = await readdir(proxy.cacheDir);
    assert.ok(!local.includes('packages') && !local.includes('metadata'), `the cache dir holds only scratch: ${local.join(', ')}`);
    const ready = (await (await fetch(`${proxy.url}/readyz`)).json()) as { storage: string; storageState: string };
    assert.equal(ready.storage, `s3://${s3.bucket}/${PREFIX} at ${s3.endpoint}`);
    assert.equal(ready.storageState, 'writable');
    assert.deepEqual(await s3.incompleteUploads(), [], 'no multipart upload left open');
  },
});

const replicas: TestProxy[] = [];
after(async () => {
  for (const p of replicas) await p.dispose();
  await bucket?.close();
  await s3?.stop();
});

test('[s3] a new replica with an empty cache dir restores from the bucket alone (upstream stopped)', async (t) => {
  const upstream = scenario.upstream();
  await upstream.stop();
  try {
    const replica = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, ...s3.proxyEnv(PREFIX) });
    replicas.push(replica);
    const r = await scenario.restoreThrough(`${replica.url}/v3/index.json`, 'new-replica');
    assert.equal(r.code, 0, r.output);
    assert.ok(r.hashes.has('xunit/2.9.3') && r.hashes.size >= 10, `restored ${r.hashes.size}`);
    for (const [key, hash] of r.hashes) assert.equal(hash, await sha512File(upstreamFile(key)), `${key} differs from upstream`);
    t.diagnostic(`restore ms (s3, new replica, upstream stopped): ${Math.round(r.durationMs)}`);
  } finally {
    await upstream.start();
  }
});
