// Three replicas as real processes (the CLI, each on its own port) sharing one store, 100 concurrent cold
// requests for one 40 MB package spread across them: one upstream download, 100 identical bodies — with
// Redis leases, and (30 requests) with lock files only; with the filling replica killed -9 mid-fill: right bytes or a
// clean failure, at most two downloads, the package blocked for no longer than the lease, no lease left.
// Then a real 3-master Redis Cluster (leases and metadata), and a Redis outage during fills.
//
// The store is a parameter: STORES is a table; every row runs the same tests.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { fillLeaseRedisKey } from '../../src/coordination/redis-leases.ts';
import { localLocksDir, packageKey } from '../../src/storage/layout.ts';
import { startFakeUpstream, startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes, writePackages } from '../helpers/packages.ts';
import { makeTempDir, startProxy } from '../helpers/proxy.ts';
import { startRedis, startRedisCluster, type TestRedis, type TestRedisCluster } from '../helpers/redis.ts';
import { metricValue, startReplicas, type Replica } from '../helpers/replicas.ts';
import { S3RVER_CREDENTIALS, startS3 } from '../helpers/s3.ts';

const execFileAsync = promisify(execFile);

const REPLICAS = 3;
const REQUESTS = 100;
/** Lock files show the same with fewer clients (the 100-client rows run on Redis leases; CI time). */
const LOCK_FILE_REQUESTS = 30;
const BIG_BYTES = 40 * 1024 * 1024;
const LEASE_SECONDS = 3;
/** The first download of a fill that gets killed: slow enough to kill the filler in the middle of it. */
const DRIP_BYTES_PER_SECOND = 16 * 1024 * 1024;
/** The outage and cluster tests need a fill under way, not volume: a smaller package, dripped. */
const SMALL_BYTES = 8 * 1024 * 1024;
const SMALL_DRIP_BYTES_PER_SECOND = 4 * 1024 * 1024;

interface StoreSetup {
  /** Settings of replica `i` (where its blobs live). */
  envFor(i: number): Record<string, string>;
  /** Every cache directory in use: none may keep a lock file once all is done. */
  readonly cacheDirs: readonly string[];
  dispose(): Promise<void>;
}

interface StoreRow {
  readonly name: string;
  /** The replicas share one cache directory, so lock files alone can coordinate them (no Redis). */
  readonly sharedDirectory: boolean;
  create(): Promise<StoreSetup>;
}

/** The stores replicas share: one directory (a ReadWriteMany volume), or S3 with a scratch directory per replica. */
const STORES: readonly StoreRow[] = [
  {
    name: 'shared directory',
    sharedDirectory: true,
    async create() {
      const dir = await makeTempDir('replicas');
      return {
        envFor: () => ({ NUGET_PROXY_CACHE_DIR: dir }),
        cacheDirs: [dir],
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'S3 (s3rver), a scratch directory per replica',
    sharedDirectory: false,
    async create() {
      const s3 = await startS3();
      const dirs = await Promise.all(Array.from({ length: REPLICAS }, (_, i) => makeTempDir(`replica-scratch-${i}`)));
      const prefix = `replicas-${Date.now()}`;
      return {
        envFor: (i) => ({ ...s3.proxyEnv(prefix), ...S3_CREDENTIALS_ENV, NUGET_PROXY_CACHE_DIR: dirs[i] as string }),
        cacheDirs: dirs,
        async dispose() {
          assert.deepEqual(await s3.incompleteUploads(), [], 'no multipart upload left open');
          await s3.stop();
          for (const d of dirs) await rm(d, { recursive: true, force: true });
        },
      };
    },
  },
];

/** Replicas are separate processes: they get s3rver's account the way a pod gets its AWS_* variables. */
const S3_CREDENTIALS_ENV = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

// ---- the big package and the clients ----

const PAYLOAD = pseudoRandomBytes(BIG_BYTES, 0x5eed);
let packagesDir: string;
let upstream: FakeUpstream;
let nextVersion = 0;

interface BigPackage {
  readonly proxyPath: string;
  readonly upstreamPath: string;
  readonly blobKey: string;
  readonly sha512: string;
  readonly size: number;
}

/** A new version upstream (40 MB unless told), so every test starts cold. */
async function publishBigPackage(bytes = BIG_BYTES): Promise<BigPackage> {
  const version = `1.0.${nextVersion++}`;
  const spec = { id: 'Contoso.Big', version, extraFiles: { 'content/big.bin': PAYLOAD.subarray(0, bytes) }, storeExtraFiles: true };
  const [path] = await writePackages(packagesDir, [spec]);
  await upstream.addPackage(path as string);
  const nupkg = buildPackage(spec);
  return {
    proxyPath: `/v3/flatcontainer/contoso.big/${version}/contoso.big.${version}.nupkg`,
    upstreamPath: `/v3-flatcontainer/contoso.big/${version}/contoso.big.${version}.nupkg`,
    blobKey: packageKey('contoso.big', version, 'nupkg'),
    sha512: createHash('sha512').update(nupkg).digest('hex'),
    size: nupkg.length,
  };
}

interface Outcome {
  readonly replica: number;
  readonly status: number;
  readonly bytes: number;
  /** The whole body arrived (as long as Content-Length said). */
  readonly complete: boolean;
  readonly sha512: string | null;
  readonly error: string | null;
}

/** One GET on its own connection, the body hashed as it streams (100 × 40 MB must not sit in memory). */
function download(url: string, replica: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      const hash = createHash('sha512');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('error', () => undefined);
      res.on('close', () => {
        const complete = res.complete && String(bytes) === (res.headers['content-length'] ?? String(bytes));
        resolve({ replica, status: res.statusCode ?? 0, bytes, complete, sha512: complete ? hash.digest('hex') : null, error: complete ? null : 'incomplete body' });
      });
    });
    req.setTimeout(120_000, () => req.destroy(new Error('client timeout')));
    req.on('error', (err) => resolve({ replica, status: 0, bytes: 0, complete: false, sha512: null, error: err.message }));
  });
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Lock files still in the cache directories. A replica killed -9 leaves its lock in its own scratch
 * directory when nobody shares it (a dead pod's emptyDir): that one is not "left behind" for anyone, so
 * with `deadHoldersToo: false` locks whose holder process is gone are not counted.
 */
async function locksLeft(cacheDirs: readonly string[], options: { deadHoldersToo?: boolean } = {}): Promise<string[]> {
  const left: string[] = [];
  for (const dir of cacheDirs) {
    for (const name of await readdir(localLocksDir(dir)).catch(() => [] as string[])) {
      if (options.deadHoldersToo === false) {
        const holder = JSON.parse((await readFile(join(localLocksDir(dir), name), 'utf8').catch(() => '{}')) || '{}') as { pid?: number };
        if (typeof holder.pid === 'number' && !isAlive(holder.pid)) continue;
      }
      left.push(`${name} (${await holderOf(join(localLocksDir(dir), name))})`);
    }
  }
  return left;
}

/** Who holds a lock file, for the failure message: its pid and whether that process still runs. */
async function holderOf(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  let pid: unknown;
  try {
    pid = (JSON.parse(text) as { pid?: unknown }).pid;
  } catch {
    pid = undefined;
  }
  return typeof pid === 'number' ? `held by pid ${pid}, ${isAlive(pid) ? 'running' : 'gone'}` : `unreadable: ${JSON.stringify(text.slice(0, 80))}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function redisLeasesLeft(redis: { port: number }): Promise<string> {
  const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--scan', '--pattern', fillLeaseRedisKey('*')], { timeout: 5000 });
  return stdout.trim();
}

function upstreamGets(pkg: BigPackage) {
  return upstream.requests().filter((r) => r.method === 'GET' && r.path === pkg.upstreamPath);
}

async function sumMetric(replicas: readonly Replica[], name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const r of replicas) if (!r.exited) sum += metricValue(await r.metrics(), name, labels);
  return sum;
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

before(async () => {
  packagesDir = await makeTempDir('big-packages');
  upstream = await startFakeUpstream({ packages: [] });
});

after(async () => {
  await upstream?.stop();
  await rm(packagesDir, { recursive: true, force: true });
});

// ---- the table ----

for (const row of STORES) {
  describe(`3 replicas on one store: ${row.name}`, () => {
    let store: StoreSetup;
    let redis: TestRedis;

    before(async () => {
      store = await row.create();
      redis = await startRedis();
    });
    after(async () => {
      await redis?.stop();
      await store?.dispose();
    });

    const coordinations = [
      { name: 'Redis leases', backend: 'redis', redis: true, requests: REQUESTS },
      ...(row.sharedDirectory ? [{ name: 'lock files (no Redis)', backend: 'file', redis: false, requests: LOCK_FILE_REQUESTS }] : []),
    ] as const;

    for (const coordination of coordinations) {
      const start = () =>
        startReplicas(REPLICAS, (i) => ({
          ...store.envFor(i),
          NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
          NUGET_PROXY_FILL_LEASE_SECONDS: String(LEASE_SECONDS),
          NUGET_PROXY_REWRITE_WORKERS: '0',
          ...(coordination.redis ? { NUGET_PROXY_REDIS_URL: redis.url } : {}),
        }));

      // A filler releases its lease just after its clients got their last byte (the release is not on their
      // path), so the check gives it a moment: half the lease, after which a Redis lease would be lapsing by
      // itself (lock files never vanish by themselves: a leaked one stays).
      const noLeaseLeft = async () => {
        const deadline = Date.now() + (LEASE_SECONDS * 1000) / 2;
        let locks: string[];
        let leases = '';
        for (;;) {
          locks = await locksLeft(store.cacheDirs, { deadHoldersToo: row.sharedDirectory });
          leases = coordination.redis ? await redisLeasesLeft(redis) : '';
          if ((locks.length === 0 && leases === '') || Date.now() > deadline) break;
          await sleep(50);
        }
        assert.deepEqual(locks, [], 'no lock file left');
        assert.equal(leases, '', 'no Redis lease left');
      };

      test(`${coordination.name}: ${coordination.requests} concurrent cold requests for a 40 MB package → 1 upstream download, ${coordination.requests} identical bodies`, async () => {
        const pkg = await publishBigPackage();
        const replicas = await start();
        try {
          const t0 = performance.now();
          const outcomes = await Promise.all(Array.from({ length: coordination.requests }, (_, i) => download(replicas[i % REPLICAS]!.url + pkg.proxyPath, i % REPLICAS)));
          const elapsedMs = performance.now() - t0;
          const downloads = upstreamGets(pkg).length;
          console.log(`# [${row.name} / ${coordination.name}] ${coordination.requests} requests in ${fmt(elapsedMs)}; upstream downloads: ${downloads}`);
          for (const o of outcomes) {
            assert.equal(o.status, 200, `replica ${o.replica}: ${o.error ?? ''}`);
            assert.ok(o.complete, `replica ${o.replica}: ${o.error ?? ''}`);
            assert.equal(o.sha512, pkg.sha512, `replica ${o.replica} sent other bytes`);
          }
          assert.equal(downloads, 1, 'exactly one upstream download');
          assert.equal(await sumMetric(replicas, 'nuget_proxy_fill_leases_total', { backend: coordination.backend, outcome: 'acquired' }), 1);
          assert.equal(await sumMetric(replicas, 'nuget_proxy_fill_leases_total', { outcome: 'degraded' }), 0);
          assert.equal(await sumMetric(replicas, 'nuget_proxy_cache_lookups_total', { resource: 'nupkg', result: 'miss' }), 1);
          await noLeaseLeft();
        } finally {
          await Promise.all(replicas.map((r) => r.stop()));
        }
      });

      test(`${coordination.name}: the filling replica killed -9 mid-fill → right bytes or a clean failure, ≤ 2 downloads, blocked ≤ the lease, no lease left`, async () => {
        const pkg = await publishBigPackage();
        const replicas = await start();
        try {
          upstream.addFault({ match: pkg.upstreamPath, kind: 'throttle', bytesPerSecond: DRIP_BYTES_PER_SECOND, times: 1 });
          const t0 = performance.now();
          const requests = Promise.all(Array.from({ length: coordination.requests }, (_, i) => download(replicas[i % REPLICAS]!.url + pkg.proxyPath, i % REPLICAS)));
          const filler = await Promise.any(
            replicas.map((r) =>
              r.waitForLog((l) => l['msg'] === 'fill lease acquired' && l['backend'] === coordination.backend && l['key'] === pkg.blobKey, 30_000).then(() => r),
            ),
          );
          await waitUntil('the first upstream download', () => upstreamGets(pkg).length >= 1, 10_000);
          await sleep(700);
          const killedAt = Date.now();
          await filler.kill();
          const outcomes = await requests;
          const elapsedMs = performance.now() - t0;
          const gets = upstreamGets(pkg);
          const retake = gets[1];
          const blockedMs = retake ? retake.time - killedAt : Number.NaN;
          const survivors = outcomes.filter((o) => o.replica !== filler.index);
          const right = outcomes.filter((o) => o.status === 200 && o.complete && o.sha512 === pkg.sha512).length;
          console.log(
            `# [${row.name} / ${coordination.name}, filler killed] ${coordination.requests} requests in ${fmt(elapsedMs)}; upstream downloads: ${gets.length}; ` +
              `package blocked ${fmt(blockedMs)} after the kill (lease ${LEASE_SECONDS} s); right bodies: ${right}, failed: ${coordination.requests - right} (all on the killed replica)`,
          );
          for (const o of outcomes) {
            // Never wrong bytes: a complete 200 is the package, anything else is a clean failure.
            if (o.status === 200 && o.complete) assert.equal(o.sha512, pkg.sha512, `replica ${o.replica} sent other bytes`);
            else assert.ok(o.status === 0 || o.status >= 500 || !o.complete, `unexpected ${o.status}`);
          }
          for (const o of survivors) {
            assert.equal(o.status, 200, `a client of surviving replica ${o.replica}: ${o.error ?? ''}`);
            assert.equal(o.sha512, pkg.sha512);
          }
          assert.ok(gets.length >= 1 && gets.length <= 2, `${gets.length} upstream downloads`);
          assert.ok(blockedMs <= LEASE_SECONDS * 1000 + 1500, `blocked for ${blockedMs} ms`);
          const survivorsList = replicas.filter((r) => r !== filler);
          assert.equal(await sumMetric(survivorsList, 'nuget_proxy_fill_leases_total', { backend: coordination.backend, outcome: 'stolen_stale' }), 1);
          await noLeaseLeft();
        } finally {
          await Promise.all(replicas.map((r) => r.stop()));
        }
      });
    }

    test('Redis killed during a fill: every client still gets the package, coordination falls back to local', async () => {
      const pkg = await publishBigPackage(SMALL_BYTES);
      const own = await startRedis();
      const replicas = await startReplicas(REPLICAS, (i) => ({
        ...store.envFor(i),
        NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
        NUGET_PROXY_FILL_LEASE_SECONDS: String(LEASE_SECONDS),
        NUGET_PROXY_REWRITE_WORKERS: '0',
        NUGET_PROXY_REDIS_URL: own.url,
      }));
      try {
        upstream.addFault({ match: pkg.upstreamPath, kind: 'throttle', bytesPerSecond: SMALL_DRIP_BYTES_PER_SECOND, times: 1 });
        const count = 30;
        const requests = Promise.all(Array.from({ length: count }, (_, i) => download(replicas[i % REPLICAS]!.url + pkg.proxyPath, i % REPLICAS)));
        await waitUntil('the first upstream download', () => upstreamGets(pkg).length >= 1, 30_000);
        await sleep(300);
        await own.kill();
        const outcomes = await requests;
        for (const o of outcomes) {
          assert.equal(o.status, 200, `replica ${o.replica}: ${o.error ?? ''}`);
          assert.equal(o.sha512, pkg.sha512);
        }
        // On a shared directory the lock file beneath the Redis lease keeps the others waiting.
        const downloads = upstreamGets(pkg).length;
        assert.ok(downloads <= (row.sharedDirectory ? 1 : REPLICAS), `${downloads} upstream downloads`);
        // And the next cold package, with Redis gone, is coordinated locally from the start.
        const next = await publishBigPackage(SMALL_BYTES);
        const again = await Promise.all(Array.from({ length: count }, (_, i) => download(replicas[i % REPLICAS]!.url + next.proxyPath, i % REPLICAS)));
        for (const o of again) assert.equal(o.sha512, next.sha512, `replica ${o.replica}: ${o.error ?? ''}`);
        const nextDownloads = upstreamGets(next).length;
        console.log(`# [${row.name} / Redis outage] upstream downloads: ${downloads} for the fill under way, ${nextDownloads} for the next package`);
        assert.ok(nextDownloads <= (row.sharedDirectory ? 1 : REPLICAS), `${nextDownloads} upstream downloads`);
        assert.ok((await sumMetric(replicas, 'nuget_proxy_fill_leases_total', { backend: 'redis', outcome: 'degraded' })) >= 1);
        assert.equal(await sumMetric(replicas, 'nuget_proxy_redis_up', {}), 0);
        const ready = (await (await fetch(`${replicas[0]!.url}/readyz`)).json()) as { redis: string };
        assert.equal(ready.redis, 'down');
        assert.deepEqual(await locksLeft(store.cacheDirs, { deadHoldersToo: row.sharedDirectory }), []);
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
        await own.stop();
      }
    });
  });
}

describe('Redis Cluster (3 masters)', () => {
  let cluster: TestRedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('metadata one replica fetched is served by another from the cluster, keys spread over the masters', async () => {
    const feed = await startStandardFakeUpstream({ includeRealPackages: false });
    const env = { NUGET_PROXY_UPSTREAM: feed.serviceIndexUrl, NUGET_PROXY_REDIS_URL: cluster.url, NUGET_PROXY_REDIS_CLUSTER: 'true' };
    // Separate cache directories: only Redis can carry the documents from one to the other.
    const a = await startProxy(env);
    const b = await startProxy(env);
    try {
      const ids = ['contoso.mixedcase.lib', 'contoso.fourpart', 'contoso.prerelease', 'contoso.buildmetadata', 'contoso.dependent', 'contoso.semver2dep', 'contoso.paged', 'contoso.twopages', 'contoso.vulnerable', 'contoso.iconreadme', 'contoso.unlisted', 'contoso.tool'];
      const paths = ids.map((id) => `/v3/flatcontainer/${id}/index.json`);
      const fromA: string[] = [];
      for (const p of paths) {
        const res = await fetch(a.url + p);
        assert.equal(res.status, 200, p);
        fromA.push(await res.text());
      }
      const before = feed.requests().length;
      for (const [i, p] of paths.entries()) {
        const res = await fetch(b.url + p);
        assert.equal(res.status, 200, p);
        assert.equal(res.headers.get('x-cache'), 'HIT', p);
        assert.equal(await res.text(), fromA[i], p);
      }
      assert.equal(feed.requests().length, before, 'B asked upstream nothing');
      const sizes = await Promise.all(
        cluster.nodes.map(async (n) => Number((await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(n.port), 'dbsize'])).stdout.trim())),
      );
      assert.ok(sizes.filter((s) => s > 0).length >= 2, `keys per master: ${sizes.join(', ')}`);
      const ready = (await (await fetch(`${b.url}/readyz`)).json()) as { redis: string };
      assert.equal(ready.redis, 'up');
    } finally {
      await a.dispose();
      await b.dispose();
      await feed.stop();
      // Metadata keys do not name the upstream: the next test's feed must not find this one's service index.
      await cluster.flushAll();
    }
  });

  test('fill leases live in the cluster: one upstream download for 3 replicas, the lease visible while it runs and gone after', async () => {
    const pkg = await publishBigPackage(SMALL_BYTES);
    const dir = await makeTempDir('cluster-replicas');
    const replicas = await startReplicas(REPLICAS, () => ({
      NUGET_PROXY_CACHE_DIR: dir,
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_REDIS_URL: cluster.url,
      NUGET_PROXY_REDIS_CLUSTER: 'true',
      NUGET_PROXY_FILL_LEASE_SECONDS: String(LEASE_SECONDS),
      NUGET_PROXY_REWRITE_WORKERS: '0',
    }));
    try {
      upstream.addFault({ match: pkg.upstreamPath, kind: 'throttle', bytesPerSecond: SMALL_DRIP_BYTES_PER_SECOND, times: 1 });
      const count = 30;
      const requests = Promise.all(Array.from({ length: count }, (_, i) => download(replicas[i % REPLICAS]!.url + pkg.proxyPath, i % REPLICAS)));
      await waitUntil('the first upstream download', () => upstreamGets(pkg).length >= 1, 30_000);
      const holder = await cluster.cli(['GET', fillLeaseRedisKey(pkg.blobKey)]);
      // Log lines are written in batches (at least every 250 ms): wait for the filler's.
      const filler = await Promise.any(
        replicas.map((r) => r.waitForLog((l) => l['msg'] === 'fill lease acquired' && l['backend'] === 'redis' && l['key'] === pkg.blobKey, 10_000).then(() => r)),
      ).catch(() => undefined);
      assert.ok(filler, 'one replica took the Redis lease');
      assert.match(holder, new RegExp(`:${filler.pid}:`), 'the lease in the cluster names the filling process');
      const outcomes = await requests;
      for (const o of outcomes) assert.equal(o.sha512, pkg.sha512, `replica ${o.replica}: ${o.error ?? ''}`);
      assert.equal(upstreamGets(pkg).length, 1);
      assert.equal(await sumMetric(replicas, 'nuget_proxy_fill_leases_total', { backend: 'redis', outcome: 'acquired' }), 1);
      assert.equal(await sumMetric(replicas, 'nuget_proxy_fill_leases_total', { backend: 'redis', outcome: 'waited' }), REPLICAS - 1);
      assert.equal(await sumMetric(replicas, 'nuget_proxy_fill_leases_total', { outcome: 'degraded' }), 0);
      assert.equal(await cluster.cli(['EXISTS', fillLeaseRedisKey(pkg.blobKey)]), '0');
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
