// Recent activity of THIS process, for the web page: client traffic of the last hour in per-minute
// buckets (a ring buffer) and the last package fills that failed, with their reasons. Both are bounded
// and in memory; replicas each keep their own (Prometheus has the fleet-wide view).

import type { CacheResult } from './metrics.ts';

export interface MinuteTraffic {
  /** Start of the minute (ms since epoch). */
  readonly startMs: number;
  readonly requests: number;
  /** Answered from the cache without asking upstream (hit, stale, local copy, remembered 404). */
  readonly fromCache: number;
  /** Needed upstream (miss, or waited on another request's fill). */
  readonly fromUpstream: number;
  /** 5xx answers. */
  readonly errors: number;
  readonly bytes: number;
}

export interface TrafficSummary {
  /** Oldest first, one per minute of the window, zero-filled. */
  readonly minutes: readonly MinuteTraffic[];
  readonly requests: number;
  readonly fromCache: number;
  readonly fromUpstream: number;
  readonly errors: number;
  readonly bytes: number;
  /** fromCache / (fromCache + fromUpstream); null when no request had a cache outcome. */
  readonly hitRatio: number | null;
}

const MINUTE_MS = 60_000;

interface Bucket {
  minute: number;
  requests: number;
  fromCache: number;
  fromUpstream: number;
  errors: number;
  bytes: number;
}

const FROM_CACHE: ReadonlySet<CacheResult> = new Set(['hit', 'stale', 'local', 'negative']);
const FROM_UPSTREAM: ReadonlySet<CacheResult> = new Set(['miss', 'coalesced']);

/** Per-minute counters for the last `minutes` minutes: O(1) per request, fixed memory. */
export class TrafficWindow {
  private readonly buckets: Bucket[];

  constructor(
    private readonly minutes = 60,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = Array.from({ length: minutes }, () => ({ minute: -1, requests: 0, fromCache: 0, fromUpstream: 0, errors: 0, bytes: 0 }));
  }

  private slot(minute: number): Bucket {
    return this.buckets[((minute % this.minutes) + this.minutes) % this.minutes] as Bucket;
  }

  private bucket(minute: number): Bucket {
    const b = this.slot(minute);
    if (b.minute !== minute) {
      b.minute = minute;
      b.requests = b.fromCache = b.fromUpstream = b.errors = b.bytes = 0;
    }
    return b;
  }

  record(r: { readonly status: number; readonly cache?: CacheResult | undefined; readonly bytes: number }): void {
    const b = this.bucket(Math.floor(this.now() / MINUTE_MS));
    b.requests++;
    if (r.cache && FROM_CACHE.has(r.cache)) b.fromCache++;
    else if (r.cache && FROM_UPSTREAM.has(r.cache)) b.fromUpstream++;
    if (r.status >= 500) b.errors++;
    b.bytes += r.bytes;
  }

  summary(): TrafficSummary {
    const current = Math.floor(this.now() / MINUTE_MS);
    const minutes: MinuteTraffic[] = [];
    for (let m = current - this.minutes + 1; m <= current; m++) {
      const b = this.slot(m);
      const live = b.minute === m;
      minutes.push({
        startMs: m * MINUTE_MS,
        requests: live ? b.requests : 0,
        fromCache: live ? b.fromCache : 0,
        fromUpstream: live ? b.fromUpstream : 0,
        errors: live ? b.errors : 0,
        bytes: live ? b.bytes : 0,
      });
    }
    const sum = (f: (m: MinuteTraffic) => number) => minutes.reduce((n, m) => n + f(m), 0);
    const fromCache = sum((m) => m.fromCache);
    const fromUpstream = sum((m) => m.fromUpstream);
    return {
      minutes,
      requests: sum((m) => m.requests),
      fromCache,
      fromUpstream,
      errors: sum((m) => m.errors),
      bytes: sum((m) => m.bytes),
      hitRatio: fromCache + fromUpstream > 0 ? fromCache / (fromCache + fromUpstream) : null,
    };
  }
}

export interface FillFailure {
  readonly atMs: number;
  readonly lowerId: string;
  readonly lowerVersion: string;
  /** Which file the fill was for (nupkg, nuspec, icon, readme). */
  readonly file: string;
  /** The stable error code (UPSTREAM_TIMEOUT, UPSTREAM_INVALID, …) or 'ERROR'. */
  readonly code: string;
  readonly reason: string;
}

/** The last `capacity` fill failures, newest first. */
export class FillFailures {
  private readonly items: FillFailure[] = [];

  constructor(private readonly capacity = 50) {}

  add(failure: FillFailure): void {
    this.items.unshift({ ...failure, reason: failure.reason.slice(0, 500) });
    if (this.items.length > this.capacity) this.items.length = this.capacity;
  }

  list(): readonly FillFailure[] {
    return [...this.items];
  }
}

/** What the web page shows about this process's recent activity. */
export interface Activity {
  readonly traffic: TrafficWindow;
  readonly failures: FillFailures;
}

export function createActivity(): Activity {
  return { traffic: new TrafficWindow(), failures: new FillFailures() };
}
