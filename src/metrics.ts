// Every Prometheus metric the proxy exports, in one place. Labels are bounded: route templates, resource
// types, results, configured upstream names, upstream host names from the service index, policy rules —
// never a package id or version. Under --workers /metrics aggregates every worker's registry: counters,
// histograms and most gauges are summed (requests in flight, lease waits, memory); gauges that describe
// shared state say how instead.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Resource =
  | 'service_index'
  | 'versions'
  | 'nupkg'
  | 'nuspec'
  | 'icon'
  | 'readme'
  | 'registration'
  | 'search'
  | 'autocomplete'
  | 'vulnerability'
  | 'signatures'
  | 'web';

export type CacheResult = 'hit' | 'miss' | 'stale' | 'negative' | 'coalesced' | 'local';

/** Which coordinator decided a fill: a Redis lease, or a lock file in the cache directory. */
export type LeaseBackendName = 'redis' | 'file';
/**
 * acquired: this process took the lease and fills; waited: another holder was filling, so this process
 * waited for the object; stolen_stale: took over a lease whose holder stopped renewing it (crashed);
 * lost: a holder found its lease gone while still filling; degraded: the backend failed, so the fill was
 * coordinated by the local fallback instead.
 */
export type LeaseOutcome = 'acquired' | 'waited' | 'stolen_stale' | 'lost' | 'degraded';

export type UpstreamOutcome =
  | 'ok'
  | 'not_modified'
  | 'not_found'
  | 'http_error'
  | 'network_error'
  | 'timeout'
  | 'invalid'
  | 'circuit_open';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route' | 'method'>;
  readonly httpInFlight: Gauge;
  readonly cacheLookups: Counter<'resource' | 'result'>;
  readonly staleServed: Counter<'resource' | 'reason'>;
  readonly upstreamRequests: Counter<'upstream' | 'resource' | 'outcome'>;
  readonly upstreamDuration: Histogram<'upstream' | 'resource'>;
  readonly upstreamRetries: Counter<'upstream' | 'resource'>;
  readonly servedBytes: Counter<'resource' | 'source'>;
  readonly upstreamBytes: Counter<'upstream' | 'resource'>;
  readonly blobFills: Counter<'resource' | 'result'>;
  readonly blobsOnDisk: Gauge;
  readonly blobBytesOnDisk: Gauge;
  readonly breakerState: Gauge<'upstream' | 'host'>;
  readonly breakerTransitions: Counter<'upstream' | 'host' | 'to'>;
  readonly policyDecisions: Counter<'rule' | 'action'>;
  readonly metadataStoreErrors: Counter<'store'>;
  readonly redisUp: Gauge;
  readonly storageUsedBytes: Gauge;
  readonly storageQuotaBytes: Gauge;
  readonly evictions: Counter<'reason'>;
  readonly evictedBytes: Counter;
  readonly retentionSweeps: Counter<'result'>;
  readonly retentionSweepDuration: Histogram;
  readonly storageErrors: Counter<'operation' | 'code'>;
  readonly metadataPruned: Counter<'reason'>;
  readonly metadataEntries: Gauge;
  readonly fillLeases: Counter<'backend' | 'outcome'>;
  readonly fillLeaseWaits: Gauge<'backend'>;
  readonly fillLeaseWaitDuration: Histogram<'backend'>;
  readonly rewriteDuration: Histogram<'mode'>;
  readonly memoryTierBytes: Gauge;
  readonly packageStreams: Gauge;
  readonly packageStreamQueue: Gauge;
  readonly packageStreamsRejected: Counter;
  readonly stalledClients: Counter;
}

export const METRIC_PREFIX = 'nuget_proxy_';

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    // prom-client names these gauges like counters (`_total`), which Prometheus' lint rejects.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      registry.removeSingleMetric(METRIC_PREFIX + name);
    }
  }
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'nuget_proxy_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'nuget_proxy_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (until the response is finished).',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    httpInFlight: new Gauge({
      name: 'nuget_proxy_http_requests_in_flight',
      help: 'HTTP requests being answered right now.',
      registers,
    }),
    cacheLookups: new Counter({
      name: 'nuget_proxy_cache_lookups_total',
      help: 'Cache lookups by resource type and result (hit, miss, stale, negative, coalesced, local).',
      labelNames: ['resource', 'result'],
      registers,
    }),
    staleServed: new Counter({
      name: 'nuget_proxy_stale_served_total',
      help: 'Responses served from an expired cache entry because upstream failed, was slow or the breaker was open.',
      labelNames: ['resource', 'reason'],
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'nuget_proxy_upstream_requests_total',
      help: 'Upstream request attempts by upstream name, resource type and outcome.',
      labelNames: ['upstream', 'resource', 'outcome'],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'nuget_proxy_upstream_request_duration_seconds',
      help: 'Upstream request attempt duration (until the body is fully received), by upstream name and resource type.',
      labelNames: ['upstream', 'resource'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    upstreamRetries: new Counter({
      name: 'nuget_proxy_upstream_retries_total',
      help: 'Upstream request retries by upstream name and resource type.',
      labelNames: ['upstream', 'resource'],
      registers,
    }),
    servedBytes: new Counter({
      name: 'nuget_proxy_served_bytes_total',
      help: 'Response body bytes sent to clients, by resource type and whether they came from the cache or a fill.',
      labelNames: ['resource', 'source'],
      registers,
    }),
    upstreamBytes: new Counter({
      name: 'nuget_proxy_upstream_bytes_total',
      help: 'Body bytes received from upstream, by upstream name and resource type.',
      labelNames: ['upstream', 'resource'],
      registers,
    }),
    blobFills: new Counter({
      name: 'nuget_proxy_blob_fills_total',
      help: 'Package file downloads into the cache, by resource type and result (ok, not_found, invalid, error).',
      labelNames: ['resource', 'result'],
      registers,
    }),
    blobsOnDisk: new Gauge({
      name: 'nuget_proxy_cache_blobs',
      help: 'Package files (.nupkg) held in the blob store.',
      // Kept by one worker (the keeper); the others report 0: never multiplied by the worker count.
      aggregator: 'max',
      registers,
    }),
    blobBytesOnDisk: new Gauge({
      name: 'nuget_proxy_cache_blob_bytes',
      help: 'Bytes of package files held in the blob store.',
      // As nuget_proxy_cache_blobs.
      aggregator: 'max',
      registers,
    }),
    breakerState: new Gauge({
      name: 'nuget_proxy_upstream_breaker_state',
      help: 'Circuit breaker per upstream (configured name) and host: 0 closed, 1 open, 2 half-open (probing).',
      labelNames: ['upstream', 'host'],
      // Each worker has its own breaker: open (or probing) in any worker shows.
      aggregator: 'max',
      registers,
    }),
    breakerTransitions: new Counter({
      name: 'nuget_proxy_upstream_breaker_transitions_total',
      help: 'Circuit breaker state changes per upstream (configured name) and host, by new state.',
      labelNames: ['upstream', 'host', 'to'],
      registers,
    }),
    policyDecisions: new Counter({
      name: 'nuget_proxy_policy_decisions_total',
      help: 'Package versions the policy hid from a document or refused to download, by rule (deny, allow, min_release_age, vulnerability) and action (hide, refuse).',
      labelNames: ['rule', 'action'],
      registers,
    }),
    metadataStoreErrors: new Counter({
      name: 'nuget_proxy_metadata_store_errors_total',
      help: 'Failed metadata store operations (the proxy falls back to its local store).',
      labelNames: ['store'],
      registers,
    }),
    redisUp: new Gauge({
      name: 'nuget_proxy_redis_up',
      help: '1 when Redis answers, 0 when the proxy runs degraded on its local metadata store and local fill coordination.',
      // 0 when any worker has lost Redis.
      aggregator: 'min',
      registers,
    }),
    fillLeases: new Counter({
      name: 'nuget_proxy_fill_leases_total',
      help: 'Fill coordination between processes and replicas, by backend (redis, file) and outcome (acquired, waited, stolen_stale, lost, degraded).',
      labelNames: ['backend', 'outcome'],
      registers,
    }),
    fillLeaseWaits: new Gauge({
      name: 'nuget_proxy_fill_lease_waits',
      help: 'Fills this process is waiting on right now because another process or replica holds the lease.',
      labelNames: ['backend'],
      registers,
    }),
    fillLeaseWaitDuration: new Histogram({
      name: 'nuget_proxy_fill_lease_wait_seconds',
      help: 'Time spent waiting for another process or replica to fill an object (until it appeared or the lease was taken over).',
      labelNames: ['backend'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    storageUsedBytes: new Gauge({
      name: 'nuget_proxy_storage_used_bytes',
      help: 'Bytes the blob store holds (packages and metadata), as of the last retention sweep.',
      // Set by the keeper's sweeps only.
      aggregator: 'max',
      registers,
    }),
    storageQuotaBytes: new Gauge({
      name: 'nuget_proxy_storage_quota_bytes',
      help: 'The configured --max-cache-size in bytes; 0 when there is no quota.',
      // The same configured value in every worker.
      aggregator: 'max',
      registers,
    }),
    evictions: new Counter({
      name: 'nuget_proxy_evictions_total',
      help: 'Package versions evicted by retention, by reason (quota, unused).',
      labelNames: ['reason'],
      registers,
    }),
    evictedBytes: new Counter({
      name: 'nuget_proxy_evicted_bytes_total',
      help: 'Bytes of package files evicted by retention.',
      registers,
    }),
    retentionSweeps: new Counter({
      name: 'nuget_proxy_retention_sweeps_total',
      help: 'Retention sweeps by result (ok, over_quota: everything left is pinned or in use, error).',
      labelNames: ['result'],
      registers,
    }),
    retentionSweepDuration: new Histogram({
      name: 'nuget_proxy_retention_sweep_duration_seconds',
      help: 'Time a retention sweep took (inventory, eviction, access index).',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    }),
    storageErrors: new Counter({
      name: 'nuget_proxy_storage_errors_total',
      help: "Failures of the proxy's own storage (disk or object store), by operation (fill, metadata, read, readiness) and code (ENOSPC, EROFS, EIO, S3_QUOTA_EXCEEDED, …).",
      labelNames: ['operation', 'code'],
      registers,
    }),
    metadataPruned: new Counter({
      name: 'nuget_proxy_metadata_pruned_total',
      help: 'Metadata documents deleted from the cache by retention, by reason (unused: not refreshed for --metadata-unused-days; cap: past --max-metadata-entries).',
      labelNames: ['reason'],
      registers,
    }),
    metadataEntries: new Gauge({
      name: 'nuget_proxy_metadata_entries',
      help: 'Metadata documents held in the cache, as of the last retention sweep.',
      registers,
    }),
    rewriteDuration: new Histogram({
      name: 'nuget_proxy_rewrite_duration_seconds',
      help: 'Time to validate and rewrite an upstream JSON document, inline or in the worker pool.',
      labelNames: ['mode'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    memoryTierBytes: new Gauge({
      name: 'nuget_proxy_memory_tier_bytes',
      help: 'Bytes held by the memory tier (hot package files, metadata documents, rendered responses); at most --memory-cache-mb.',
      registers,
    }),
    packageStreams: new Gauge({
      name: 'nuget_proxy_package_streams',
      help: 'Package downloads being streamed from storage right now (at most --max-package-streams).',
      registers,
    }),
    packageStreamQueue: new Gauge({
      name: 'nuget_proxy_package_stream_queue',
      help: 'Package downloads waiting for a stream (at most --package-stream-queue).',
      registers,
    }),
    packageStreamsRejected: new Counter({
      name: 'nuget_proxy_package_streams_rejected_total',
      help: 'Package downloads answered 503 (Retry-After) because every stream was busy and the queue was full or the wait too long.',
      registers,
    }),
    stalledClients: new Counter({
      name: 'nuget_proxy_stalled_clients_total',
      help: 'Responses abandoned because the client read nothing for --client-stall-timeout-seconds.',
      registers,
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Per-request counting

/**
 * prom-client hashes and validates the labels on every inc() and observe(), even through a child from
 * labels(): about 1 µs for a request's four updates, a tenth of the hit path's own work then. The
 * children below count in plain numbers instead, and their metric takes the numbers in when it is read
 * (its collect hook, which runs on every /metrics scrape and every worker's read under --workers), so
 * what is exported is the same.
 */
export interface HotCounter {
  inc(n?: number): void;
}

export interface HotHistogram {
  observe(value: number): void;
}

type Flush = () => void;
type Collected = Counter<string> | Gauge<string> | Histogram<string>;

const flushes = new WeakMap<Collected, Flush[]>();

/** Runs `flush` before `metric` is read, after whatever it already ran then. */
function onCollect(metric: Collected, flush: Flush): void {
  let list = flushes.get(metric);
  if (!list) {
    const pending: Flush[] = [];
    list = pending;
    flushes.set(metric, pending);
    const own = (metric as { collect?: () => unknown }).collect;
    (metric as { collect?: () => unknown }).collect = function (this: unknown) {
      for (const f of pending) f();
      return own?.call(this);
    };
  }
  list.push(flush);
}

/** A child of `counter` for one label set. */
export function hotCounter<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>): HotCounter {
  let pending = 0;
  onCollect(counter as Counter<string>, () => {
    if (pending === 0) return;
    counter.inc(labels, pending);
    pending = 0;
  });
  // Listed at zero from the start, as a prom-client child is once made.
  counter.inc(labels, 0);
  return {
    inc(n = 1) {
      pending += n;
    },
  };
}

const gauges = new WeakMap<Gauge, { inc(): void; dec(): void }>();

/**
 * The value of an unlabelled gauge, kept here (requests in flight go up and down on every request). One
 * per gauge: whoever asks for it again shares the same value.
 */
export function hotGauge(gauge: Gauge): { inc(): void; dec(): void } {
  let hot = gauges.get(gauge);
  if (!hot) {
    let value = 0;
    onCollect(gauge as Gauge<string>, () => gauge.set(value));
    hot = {
      inc() {
        value++;
      },
      dec() {
        value--;
      },
    };
    gauges.set(gauge, hot);
  }
  return hot;
}

interface HistogramEntry {
  readonly labels: Record<string, string | number>;
  readonly bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * A child of `histogram` for one label set. Its counts are added to prom-client's own entry for the label
 * set when the histogram is read (the one place that knows that entry's shape: prom-client 15).
 */
export function hotHistogram<T extends string>(histogram: Histogram<T>, labels: Partial<Record<T, string>>): HotHistogram {
  const bounds = (histogram as unknown as { upperBounds: readonly number[] }).upperBounds;
  const counts = new Array<number>(bounds.length).fill(0);
  let sum = 0;
  let count = 0;
  const entry = (): HistogramEntry | undefined =>
    Object.values((histogram as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap).find((e) =>
      Object.entries(labels).every(([k, v]) => String(e.labels[k]) === v),
    );
  // Listed at zero from the start (zero() would wipe counts already there).
  if (!entry()) histogram.zero(labels);
  onCollect(histogram as Histogram<string>, () => {
    if (count === 0) return;
    let e = entry();
    if (!e) {
      histogram.zero(labels);
      e = entry() as HistogramEntry;
    }
    for (let i = 0; i < bounds.length; i++) {
      if (counts[i] === 0) continue;
      e.bucketValues[bounds[i] as number] = (e.bucketValues[bounds[i] as number] ?? 0) + (counts[i] as number);
      counts[i] = 0;
    }
    e.sum += sum;
    e.count += count;
    sum = 0;
    count = 0;
  });
  return {
    observe(value) {
      // prom-client's buckets hold the count of their own range (first bound ≥ value); the exported
      // cumulative counts and +Inf are derived from them and the total count when read.
      for (let i = 0; i < bounds.length; i++) {
        if (value <= (bounds[i] as number)) {
          counts[i] = (counts[i] as number) + 1;
          break;
        }
      }
      sum += value;
      count++;
    },
  };
}
