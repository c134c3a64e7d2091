// One fill per object across processes and replicas: a filler first takes a lease on the object's key —
// in Redis when --redis-url is set, else a lock file in the cache directory — and renews it while it
// fills; the others wait until the object appears in the blob store, or until the lease lapses (its
// holder crashed) and one of them takes it over. So a crashed filler blocks an object for at most one
// lease length (--fill-lease-seconds) plus one poll.
//
// Correctness never depends on the lease: commits to the blob store are atomic and a duplicate fill
// writes the same verified bytes. The lease only saves duplicate upstream downloads, so every failure
// here (Redis down, lock directory unwritable, a lease lost while filling) degrades to a less coordinated
// fill — Redis → lock files → in-process only — and never fails a request.
//
// In-process single-flight stays in front of this (flat-container.ts): one process has at most one
// waiter per object, however many of its clients ask.

import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { RedisConnection } from '../redis.ts';
import { FileLeases } from '../storage/file-leases.ts';
import type { HeldLease, LeaseBackend } from './lease.ts';
import { RedisLeases } from './redis-leases.ts';

export interface FillJob {
  /** Downloads, verifies and commits the object. Called only right after done() answered false. */
  fill(): Promise<void>;
  /** Whether the object is in the blob store now (asked right before filling, and while waiting). */
  done(): Promise<boolean>;
}

/** filled: this call ran the fill; found: the object was there, or appeared while waiting (another filler). */
export type FillResult = 'filled' | 'found';

export interface FillCoordinator {
  run(key: string, job: FillJob): Promise<FillResult>;
}

/** No coordination beyond this process (in-process single-flight is in front): the last fallback. */
export const uncoordinated: FillCoordinator = {
  async run(_key, job) {
    if (await job.done()) return 'found';
    await job.fill();
    return 'filled';
  },
};

export interface LeasedFillsOptions {
  readonly leaseMs: number;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Waiters look for the object (and try the lease) every pollMinMs..pollMaxMs, jittered so replicas spread out. */
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Coordinates fills through one lease backend. `local` is the coordinator beneath it: used when this
 * backend cannot answer, and by the lease holder to run the fill — so processes that fell back to `local`
 * during an outage still see the holder's fill.
 */
export class LeasedFills implements FillCoordinator {
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;

  constructor(
    private readonly backend: LeaseBackend,
    private readonly local: FillCoordinator,
    private readonly options: LeasedFillsOptions,
  ) {
    this.pollMinMs = options.pollMinMs ?? 100;
    this.pollMaxMs = Math.max(this.pollMinMs, options.pollMaxMs ?? 250);
  }

  async run(key: string, job: FillJob): Promise<FillResult> {
    // No look before the lease: the caller has just found the object missing, and the holder looks again
    // (local.run) right before it fills — an object that appeared meanwhile is found there.
    const { metrics, log } = this.options;
    const backend = this.backend.name;
    let waitStarted: number | null = null;
    let lastExpiresAt: number | null = null;
    try {
      for (;;) {
        let attempt;
        try {
          attempt = await this.backend.tryAcquire(key, lastExpiresAt);
        } catch (err) {
          metrics.fillLeases.inc({ backend, outcome: 'degraded' });
          log.debug({ key, backend, err: String(err) }, 'fill lease backend unavailable; coordinating this fill locally');
          return await this.local.run(key, job);
        }
        if (attempt.kind === 'acquired') {
          const waitedMs = waitStarted === null ? 0 : Date.now() - waitStarted;
          metrics.fillLeases.inc({ backend, outcome: attempt.tookOver ? 'stolen_stale' : 'acquired' });
          if (attempt.tookOver) log.warn({ key, backend, waitedMs }, 'fill lease taken over from a holder that stopped renewing it');
          else log.debug({ key, backend, waitedMs }, 'fill lease acquired');
          return await this.hold(key, attempt.lease, job);
        }
        lastExpiresAt = attempt.expiresAt;
        if (waitStarted === null) {
          waitStarted = Date.now();
          metrics.fillLeases.inc({ backend, outcome: 'waited' });
          metrics.fillLeaseWaits.inc({ backend });
          log.debug({ key, backend }, 'another process is filling; waiting for it');
        }
        await sleep(this.pollMinMs + Math.random() * (this.pollMaxMs - this.pollMinMs));
        if (await job.done()) return 'found';
      }
    } finally {
      if (waitStarted !== null) {
        metrics.fillLeaseWaits.dec({ backend });
        metrics.fillLeaseWaitDuration.observe({ backend }, (Date.now() - waitStarted) / 1000);
      }
    }
  }

  /** Runs the fill under the lease, renewing it every third of its length, and releases it afterwards. */
  private async hold(key: string, lease: HeldLease, job: FillJob): Promise<FillResult> {
    const { metrics, log, leaseMs } = this.options;
    const backend = this.backend.name;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let renewing: Promise<void> | null = null;
    const renew = async (): Promise<void> => {
      let keep = true;
      try {
        const ours = await lease.renew();
        if (!ours && !finished) {
          keep = false;
          metrics.fillLeases.inc({ backend, outcome: 'lost' });
          log.warn({ key, backend }, 'fill lease lost while filling; finishing the fill anyway (a duplicate fill writes the same bytes)');
        }
      } catch (err) {
        // The backend may come back before the lease runs out; keep trying.
        if (!finished) log.warn({ key, backend, err: String(err) }, 'fill lease renewal failed');
      }
      if (keep && !finished) schedule();
    };
    const schedule = (): void => {
      timer = setTimeout(() => {
        renewing = renew();
      }, leaseMs / 3);
    };
    schedule();
    try {
      return await this.local.run(key, job);
    } finally {
      finished = true;
      clearTimeout(timer);
      // A renewal racing the release would find the lease gone and report it lost.
      await renewing;
      await lease.release().catch((err: unknown) => log.warn({ key, backend, err: String(err) }, 'could not release fill lease; it lapses by itself'));
    }
  }
}

export interface FillCoordinatorOptions {
  /** Lock files go under this cache directory (replicas sharing it coordinate through them). */
  readonly cacheDir: string;
  readonly redis: RedisConnection | null;
  readonly leaseMs: number;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
}

/** Redis leases over lock files over nothing, as configured. */
export function createFillCoordinator(options: FillCoordinatorOptions): FillCoordinator {
  const { cacheDir, redis, ...timing } = options;
  const files = new LeasedFills(new FileLeases(cacheDir, options.leaseMs), uncoordinated, timing);
  return redis ? new LeasedFills(new RedisLeases(redis, options.leaseMs), files, timing) : files;
}

/**
 * Runs periodic work that one process at a time should do (a retention sweep): under the same leases as
 * fills — Redis over lock files, as configured — but a busy lease means "another process is at it", so the
 * work is skipped (null) instead of waited for. The lease is renewed while the work runs.
 */
export function createExclusiveRunner(options: Pick<FillCoordinatorOptions, 'cacheDir' | 'redis' | 'leaseMs' | 'log'>): <T>(key: string, work: () => Promise<T>) => Promise<T | null> {
  const backends: LeaseBackend[] = [
    ...(options.redis ? [new RedisLeases(options.redis, options.leaseMs)] : []),
    new FileLeases(options.cacheDir, options.leaseMs),
  ];
  return async (key, work) => {
    for (const backend of backends) {
      let attempt;
      try {
        attempt = await backend.tryAcquire(key, null);
      } catch (err) {
        options.log.debug({ key, backend: backend.name, err: String(err) }, 'lease backend unavailable; trying the next');
        continue;
      }
      if (attempt.kind === 'busy') return null;
      const lease = attempt.lease;
      const timer = setInterval(() => void lease.renew().catch(() => undefined), options.leaseMs / 3);
      try {
        return await work();
      } finally {
        clearInterval(timer);
        await lease.release().catch(() => undefined);
      }
    }
    return work();
  };
}
