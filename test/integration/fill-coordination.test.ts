// The fill coordinator with its real backends: lock files in a temp cache directory (several coordinators
// stand in for processes sharing it) and a real redis-server. One fill per key, waiters find the object,
// crashed holders are taken over after the lease, racing breakers of one stale lock let exactly one in,
// lost and lapsed leases are never deleted by their old holder, and outages degrade instead of failing.

import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createExclusiveRunner, createFillCoordinator, type FillCoordinator, type FillJob } from '../../src/coordination/fill-coordinator.ts';
import { fillLeaseRedisKey, RedisLeases } from '../../src/coordination/redis-leases.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { RedisConnection } from '../../src/redis.ts';
import { FileLeases } from '../../src/storage/file-leases.ts';
import { fillLockPaths, localLocksDir } from '../../src/storage/layout.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const log = createLogger({ level: 'silent', format: 'json' });
const LEASE_MS = 600;
const POLL = { pollMinMs: 10, pollMaxMs: 30 };

/** An object that exists once `fill` has run: the blob store as the coordinator sees it. */
class FakeObject {
  fills = 0;
  present = false;
  constructor(private readonly fillMs = 50) {}
  job(): FillJob {
    return {
      fill: async () => {
        this.fills++;
        await sleep(this.fillMs);
        this.present = true;
      },
      done: async () => this.present,
    };
  }
}

async function counter(metrics: Metrics, backend: string, outcome: string): Promise<number> {
  const m = (await metrics.fillLeases.get()).values.find((v) => v.labels['backend'] === backend && v.labels['outcome'] === outcome);
  return m?.value ?? 0;
}

function fileCoordinator(cacheDir: string, metrics: Metrics, leaseMs = LEASE_MS): FillCoordinator {
  return createFillCoordinator({ cacheDir, redis: null, leaseMs, metrics, log, ...POLL });
}

describe('lock files in a shared cache directory', () => {
  let cacheDir: string;
  before(async () => {
    cacheDir = await makeTempDir('locks');
  });
  after(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('five processes ask at once: one fills, four find the object, no lock file is left', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const object = new FakeObject(300);
    const processes = Array.from({ length: 5 }, () => fileCoordinator(cacheDir, metrics));
    const results = await Promise.all(processes.map((c) => c.run('packages/a/1.0.0/a.1.0.0.nupkg', object.job())));
    assert.equal(object.fills, 1);
    assert.deepEqual(results.sort(), ['filled', 'found', 'found', 'found', 'found']);
    assert.equal(await counter(metrics, 'file', 'acquired'), 1);
    assert.equal(await counter(metrics, 'file', 'waited'), 4);
    assert.deepEqual(await readdir(localLocksDir(cacheDir)), []);
  });

  test('a fill that lasts several leases keeps its lock fresh: nobody takes it over', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const object = new FakeObject(LEASE_MS * 3);
    const [a, b] = [fileCoordinator(cacheDir, metrics), fileCoordinator(cacheDir, metrics)];
    const first = a.run('packages/long/1.0.0/long.1.0.0.nupkg', object.job());
    await sleep(50);
    const second = b.run('packages/long/1.0.0/long.1.0.0.nupkg', object.job());
    assert.deepEqual([await first, await second], ['filled', 'found']);
    assert.equal(object.fills, 1);
    assert.equal(await counter(metrics, 'file', 'stolen_stale'), 0);
  });

  test('a crashed holder’s lock is taken over once it is older than the lease, and removed afterwards', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const key = 'packages/crashed/1.0.0/crashed.1.0.0.nupkg';
    const { lock } = fillLockPaths(cacheDir, key);
    await mkdir(localLocksDir(cacheDir), { recursive: true });
    // What kill -9 leaves: a lock nobody renews.
    await writeFile(lock, '{"token":"dead-process"}\n');
    const object = new FakeObject();
    const started = Date.now();
    const result = await fileCoordinator(cacheDir, metrics).run(key, object.job());
    const blockedMs = Date.now() - started;
    assert.equal(result, 'filled');
    assert.ok(blockedMs >= LEASE_MS - 50, `took over after ${blockedMs} ms, before the lease ran out`);
    assert.ok(blockedMs < LEASE_MS + 500, `took over only after ${blockedMs} ms`);
    assert.equal(await counter(metrics, 'file', 'stolen_stale'), 1);
    await assert.rejects(stat(lock), { code: 'ENOENT' });
  });

  test('eight processes racing to break one stale lock: exactly one gets it, every round', async () => {
    const key = 'packages/race/1.0.0/race.1.0.0.nupkg';
    const { lock, breakGuard } = fillLockPaths(cacheDir, key);
    const old = new Date(Date.now() - 10 * LEASE_MS);
    for (let round = 0; round < 40; round++) {
      await writeFile(lock, '{"token":"dead-process"}\n');
      await utimes(lock, old, old);
      const backends = Array.from({ length: 8 }, () => new FileLeases(cacheDir, LEASE_MS));
      const attempts = await Promise.all(backends.map((b) => b.tryAcquire(key)));
      const winners = attempts.filter((a) => a.kind === 'acquired');
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} holders`);
      await assert.rejects(stat(breakGuard), { code: 'ENOENT' }, 'the break guard is removed');
      for (const w of winners) if (w.kind === 'acquired') await w.lease.release();
      await assert.rejects(stat(lock), { code: 'ENOENT' });
    }
  });

  test('a holder whose lock was broken (it paused past the lease) reports it lost and leaves the new lock alone', async () => {
    const key = 'packages/paused/1.0.0/paused.1.0.0.nupkg';
    const { lock } = fillLockPaths(cacheDir, key);
    const a = await new FileLeases(cacheDir, LEASE_MS).tryAcquire(key);
    assert.equal(a.kind, 'acquired');
    const old = new Date(Date.now() - 2 * LEASE_MS);
    await utimes(lock, old, old);
    const b = await new FileLeases(cacheDir, LEASE_MS).tryAcquire(key);
    assert.equal(b.kind, 'acquired');
    assert.ok(b.kind === 'acquired' && b.tookOver);
    if (a.kind !== 'acquired' || b.kind !== 'acquired') return;
    assert.equal(await a.lease.renew(), false, 'the old holder sees the lease is gone');
    await a.lease.release();
    await stat(lock);
    assert.equal(await b.lease.renew(), true);
    await b.lease.release();
    await assert.rejects(stat(lock), { code: 'ENOENT' });
  });

  test('a failed fill releases the lock at once: a waiter fills instead of waiting out the lease', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const key = 'packages/fails/1.0.0/fails.1.0.0.nupkg';
    const object = new FakeObject();
    const failing: FillJob = {
      fill: async () => {
        await sleep(100);
        throw new Error('upstream said 503');
      },
      done: async () => object.present,
    };
    const a = fileCoordinator(cacheDir, metrics, 60_000);
    const b = fileCoordinator(cacheDir, metrics, 60_000);
    const first = a.run(key, failing);
    await sleep(20);
    const started = Date.now();
    const second = b.run(key, object.job());
    await assert.rejects(first, /503/);
    assert.equal(await second, 'filled');
    assert.ok(Date.now() - started < 2000);
    assert.equal(object.fills, 1);
  });

  test('an unusable lock directory degrades to an uncoordinated fill instead of failing', async () => {
    const dir = await makeTempDir('nolocks');
    try {
      // A file where the locks directory should be: every lock operation fails.
      await writeFile(localLocksDir(dir), 'not a directory');
      const metrics = createMetrics({ defaultMetrics: false });
      const object = new FakeObject();
      assert.equal(await fileCoordinator(dir, metrics).run('packages/x/1.0.0/x.1.0.0.nupkg', object.job()), 'filled');
      assert.equal(object.fills, 1);
      assert.equal(await counter(metrics, 'file', 'degraded'), 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis leases', () => {
  let redis: TestRedis;
  let cacheDir: string;
  const connections: RedisConnection[] = [];
  const connect = async (metrics: Metrics): Promise<RedisConnection> => {
    const c = new RedisConnection({ url: redis.url, cluster: false, metrics, log, retryMs: 300 });
    connections.push(c);
    assert.ok(await c.ready(5000), 'connected to redis');
    return c;
  };
  const coordinator = (connection: RedisConnection, metrics: Metrics, leaseMs = LEASE_MS) =>
    createFillCoordinator({ cacheDir, redis: connection, leaseMs, metrics, log, ...POLL });

  before(async () => {
    redis = await startRedis();
    cacheDir = await makeTempDir('redis-locks');
  });
  after(async () => {
    for (const c of connections) await c.close();
    await redis?.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('three replicas ask at once: one fills under the lease, the others find the object; the key is gone after', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const key = 'packages/r/1.0.0/r.1.0.0.nupkg';
    const object = new FakeObject(LEASE_MS * 2);
    const replicas = await Promise.all([0, 1, 2].map(async () => coordinator(await connect(metrics), metrics)));
    const results = await Promise.all(replicas.map((c) => c.run(key, object.job())));
    assert.deepEqual(results.sort(), ['filled', 'found', 'found']);
    assert.equal(object.fills, 1);
    assert.equal(await counter(metrics, 'redis', 'acquired'), 1);
    assert.equal(await counter(metrics, 'redis', 'waited'), 2);
    assert.equal(await counter(metrics, 'redis', 'stolen_stale'), 0, 'renewals kept the lease alive for two lease lengths');
    const probe = await connect(metrics);
    assert.equal(await probe.client.exists(fillLeaseRedisKey(key)), 0);
  });

  test('a crashed holder’s lease lapses and is taken over after the lease length', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const key = 'packages/crash/1.0.0/crash.1.0.0.nupkg';
    const connection = await connect(metrics);
    // A holder that took the lease and died: nobody renews or releases it.
    assert.equal(await connection.acquireLease(fillLeaseRedisKey(key), 'dead-replica', LEASE_MS), null);
    const object = new FakeObject();
    const started = Date.now();
    assert.equal(await coordinator(connection, metrics).run(key, object.job()), 'filled');
    const blockedMs = Date.now() - started;
    assert.ok(blockedMs >= LEASE_MS - 100 && blockedMs < LEASE_MS + 500, `blocked for ${blockedMs} ms`);
    assert.equal(await counter(metrics, 'redis', 'stolen_stale'), 1);
    assert.equal(await connection.client.exists(fillLeaseRedisKey(key)), 0);
  });

  test('compare-and-delete: an old holder whose lease lapsed and was retaken neither renews nor deletes it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const connection = await connect(metrics);
    const key = 'packages/lapsed/1.0.0/lapsed.1.0.0.nupkg';
    const leases = new RedisLeases(connection, 200);
    const a = await leases.tryAcquire(key, null);
    assert.equal(a.kind, 'acquired');
    await sleep(300);
    const b = await new RedisLeases(connection, 5000).tryAcquire(key, null);
    assert.equal(b.kind, 'acquired');
    if (a.kind !== 'acquired' || b.kind !== 'acquired') return;
    assert.equal(await a.lease.renew(), false);
    await a.lease.release();
    assert.equal(await connection.client.exists(fillLeaseRedisKey(key)), 1, 'the new holder keeps its lease');
    await b.lease.release();
    assert.equal(await connection.client.exists(fillLeaseRedisKey(key)), 0);
  });

  test('a holder that finds its lease gone while filling counts it lost and still finishes', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const connection = await connect(metrics);
    const key = 'packages/lost/1.0.0/lost.1.0.0.nupkg';
    const object = new FakeObject(LEASE_MS);
    const run = coordinator(connection, metrics).run(key, object.job());
    await sleep(50);
    await connection.client.del(fillLeaseRedisKey(key));
    assert.equal(await run, 'filled');
    assert.equal(await counter(metrics, 'redis', 'lost'), 1);
  });

  test('Redis gone: fills degrade to the lock files, which still coordinate a shared directory', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const key = 'packages/outage/1.0.0/outage.1.0.0.nupkg';
    const a = coordinator(await connect(metrics), metrics);
    const b = coordinator(await connect(metrics), metrics);
    const object = new FakeObject(400);
    // A fills under the Redis lease (and, beneath it, the lock file) when Redis dies.
    const first = a.run(key, object.job());
    await sleep(50);
    await redis.kill();
    const second = b.run(key, object.job());
    assert.deepEqual([await first, await second], ['filled', 'found']);
    assert.equal(object.fills, 1, 'the lock file beneath the Redis lease kept the second replica waiting');
    assert.ok((await counter(metrics, 'redis', 'degraded')) >= 1);
    assert.equal(await counter(metrics, 'file', 'waited'), 1);
    assert.deepEqual(await readdir(localLocksDir(cacheDir)), []);
  });
});

describe('createExclusiveRunner (one retention sweep at a time across processes)', () => {
  test('a second process skips while the first holds the lease, and runs once it is free', async () => {
    const cacheDir = await makeTempDir('exclusive');
    try {
      const a = createExclusiveRunner({ cacheDir, redis: null, leaseMs: LEASE_MS, log });
      const b = createExclusiveRunner({ cacheDir, redis: null, leaseMs: LEASE_MS, log });
      let running = 0;
      let maxRunning = 0;
      const work = (ms: number, value: string) => async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(ms);
        running--;
        return value;
      };
      const first = a('retention-sweep', work(400, 'a'));
      await sleep(50);
      const started = Date.now();
      assert.equal(await b('retention-sweep', work(10, 'b')), null, 'b skipped its turn');
      assert.ok(Date.now() - started < 300, 'b did not wait for a to finish');
      assert.equal(await first, 'a');
      assert.equal(await b('retention-sweep', work(10, 'b')), 'b', 'b runs once the lease is free');
      assert.equal(maxRunning, 1);
      assert.deepEqual(await readdir(localLocksDir(cacheDir)).catch(() => []), []);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
