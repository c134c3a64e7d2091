// Builds the proxy's object graph from a configuration: stores; each upstream (a V3 feed or a folder) with
// its transport, breaker, document cache and layout, and the routing between them; the policy; and every
// resource. Shared by `serve` and the offline tools (prefetch, export, import) so they fill one cache the
// same way.

import { createActivity, type Activity } from './activity.ts';
import { CircuitBreaker } from './breaker.ts';
import { soloLink, type ClusterLink } from './cluster/link.ts';
import type { Config } from './config.ts';
import { createExclusiveRunner, createFillCoordinator } from './coordination/fill-coordinator.ts';
import { MemoryTier } from './cache/memory-tier.ts';
import { FolderUpstream } from './folder-upstream.ts';
import { flushLogs, type Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { Policy } from './policy/rules.ts';
import { RedisConnection } from './redis.ts';
import { RewritePool } from './rewrite-pool.ts';
import { DocumentCache } from './resources/documents.ts';
import { Feeds, type Feed } from './resources/feeds.ts';
import { FlatContainerResource } from './resources/flat-container.ts';
import { PackageCatalog } from './resources/catalog.ts';
import { LocalPackages } from './resources/local-packages.ts';
import { Mirror } from './resources/mirror.ts';
import { PolicyGate } from './resources/policy.ts';
import { RegistrationDocs } from './resources/registration-docs.ts';
import { RegistrationResource } from './resources/registration.ts';
import { SearchResource } from './resources/search.ts';
import { ServiceIndexResource } from './resources/service-index.ts';
import { SignaturesResource } from './resources/signatures.ts';
import { FeedIndex, FolderIndex } from './resources/upstream-index.ts';
import { VulnerabilityResource } from './resources/vulnerability.ts';
import { WebPageResource } from './resources/web-page.ts';
import { feedFacts } from './resources/web-facts.ts';
import { AccessLog } from './retention/access-log.ts';
import { Sweeper } from './retention/sweeper.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { createBlobStore } from './storage/create.ts';
import { GenerationWatch } from './storage/generation.ts';
import { LocalTemp } from './storage/local-temp.ts';
import { MetadataStore, metaEntrySize } from './storage/metadata-store.ts';
import { UpstreamClient } from './upstream.ts';

export interface Proxy {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly blobs: BlobStore;
  readonly temp: LocalTemp;
  readonly store: MetadataStore;
  /** The one memory budget (--memory-cache-mb) for metadata, renderings and held responses. */
  readonly memory: MemoryTier;
  /** Worker threads for big JSON documents (rewrite at fill time, templates and renders at serve time). */
  readonly rewriter: RewritePool;
  /** The upstreams, each with its transport, breaker, documents and layout, and the routing between them. */
  readonly feeds: Feeds;
  /** Reads and writes metadata entries by key, whatever upstream they belong to (tools, prefetch, import). */
  readonly docs: DocumentCache;
  readonly local: LocalPackages;
  readonly serviceIndex: ServiceIndexResource;
  readonly flat: FlatContainerResource;
  readonly registrationDocs: RegistrationDocs;
  readonly registration: RegistrationResource;
  readonly search: SearchResource;
  readonly vulnerability: VulnerabilityResource;
  readonly signatures: SignaturesResource;
  /** null: no policy configured. */
  readonly policy: PolicyGate | null;
  /** What prefetch fetches for offline use, and the metadata keys that hold it. */
  readonly mirror: Mirror;
  readonly access: AccessLog;
  readonly retention: Sweeper;
  /** The web page's view of the cache and of this process's recent activity. */
  readonly web: WebPageResource;
  readonly activity: Activity;
  /** Records that a package version was served (retention's access times, the web page's last served). */
  noteServed(lowerId: string, lowerVersion: string): void;
  /** Drops in-memory views of the cache directory when a tool (import, prefetch) changed it. */
  checkGeneration(): Promise<void>;
  /** Waits for fills in flight, then releases sockets, workers and Redis, and writes buffered log lines. */
  close(): Promise<void>;
}

/** Access times reach the blob store in batches this often (never a write per hit). */
const ACCESS_FLUSH_MS = 15_000;

const BREAKER_STATE_VALUE = { closed: 0, open: 1, half_open: 2 } as const;
const REDIS_START_WAIT_MS = 1500;
const RETENTION_SWEEP_LEASE = 'retention-sweep';

export interface ProxyOptions {
  /** This process's place among --workers (default: alone, so it keeps the storage gauges itself). */
  readonly cluster?: ClusterLink;
}

export async function createProxy(config: Config, log: Logger, metrics: Metrics, options: ProxyOptions = {}): Promise<Proxy> {
  const link = options.cluster ?? soloLink();
  const temp = new LocalTemp(config.cacheDir);
  await temp.init();
  const blobs = await createBlobStore(config, log);
  const memory = new MemoryTier(config.memoryCacheMb * 1024 * 1024);
  // One Redis connection (server or cluster) for the metadata store and the fill leases.
  const redis = config.redisUrl ? new RedisConnection({ url: config.redisUrl, cluster: config.redisCluster, metrics, log }) : null;
  // A healthy Redis is used from the first request; an unreachable one does not hold up start-up.
  if (redis && !(await redis.ready(REDIS_START_WAIT_MS))) log.warn('redis not reachable at start; running on local metadata and fill coordination until it is');
  // The sweeper is built below; documents written before that cannot pass the cap.
  let retentionRef: Sweeper | null = null;
  const store = new MetadataStore({
    blobs,
    memory: memory.space('metadata', metaEntrySize),
    redis,
    metrics,
    log,
    // Upstreams may remember 404s for different times: Redis keeps them for the longest.
    notFoundRetentionMs: Math.max(config.notFoundTtlSeconds, ...config.upstreams.map((u) => u.notFoundTtlSeconds)) * 1000,
    onPersisted: () => retentionRef?.noteMetadataWritten(),
  });
  const fillCoordinator = createFillCoordinator({ cacheDir: config.cacheDir, redis, leaseMs: config.fillLeaseSeconds * 1000, metrics, log });
  const exclusive = createExclusiveRunner({ cacheDir: config.cacheDir, redis, leaseMs: config.fillLeaseSeconds * 1000, log });
  // Without Redis there is nothing to report: an absent series, not a 0 that would read as "Redis down".
  if (!redis) metrics.registry.removeSingleMetric('nuget_proxy_redis_up');
  const feedList: Feed[] = config.upstreams.map((spec) => {
    const breaker = new CircuitBreaker({
      failureThreshold: config.breakerFailures,
      backoffMs: config.breakerBackoffMs,
      maxBackoffMs: config.breakerMaxBackoffMs,
      onChange: (host, state) => {
        metrics.breakerState.set({ upstream: spec.name, host }, BREAKER_STATE_VALUE[state]);
        metrics.breakerTransitions.inc({ upstream: spec.name, host, to: state });
        log.warn({ upstream: spec.name, host, state }, 'upstream circuit breaker changed state');
      },
    });
    let transport: Feed['transport'] = null;
    if (!config.offline) {
      transport =
        spec.kind === 'feed'
          ? new UpstreamClient({ config: { ...spec, requestDeadlineMs: config.requestDeadlineMs }, metrics, log, breaker })
          : new FolderUpstream({ name: spec.name, folder: spec.folder, metrics, log });
      if (spec.kind === 'feed') metrics.breakerState.set({ upstream: spec.name, host: new URL(spec.url).host }, 0);
    }
    const docs = new DocumentCache({ store, upstream: transport, breaker, metrics, log, staleWaitMs: config.staleWaitMs });
    const index =
      spec.kind === 'feed'
        ? new FeedIndex({ name: spec.name, url: spec.url, offline: config.offline, serviceIndexTtlSeconds: spec.serviceIndexTtlSeconds, notFoundTtlSeconds: spec.notFoundTtlSeconds, docs })
        : new FolderIndex(spec.name);
    return { name: spec.name, spec, transport, breaker, docs, index };
  });
  const feeds = new Feeds(feedList, config.packageSourceMapping);
  const docs = new DocumentCache({ store, upstream: null, breaker: feeds.first.breaker, metrics, log, staleWaitMs: config.staleWaitMs });
  const rewriter = new RewritePool(metrics, config.rewriteWorkers);
  const local = new LocalPackages(blobs, log);
  const vulnerability = new VulnerabilityResource({ offline: config.offline, feeds, log });
  const signatures = new SignaturesResource({ offline: config.offline, feeds });
  const serviceIndex = new ServiceIndexResource({
    offline: config.offline,
    feeds,
    hasVulnerabilityData: () => vulnerability.hasMirroredData(),
    cachedSignatureVersions: (versions) => signatures.cachedVersions(versions),
  });
  const registrationDocs = new RegistrationDocs({ rewriter, offline: config.offline });
  const policy = config.policy
    ? new PolicyGate({ policy: new Policy(config.policy), feeds, registration: registrationDocs, advisories: vulnerability, metrics, log })
    : null;
  const access = new AccessLog(blobs, log, ACCESS_FLUSH_MS);
  const retention = new Sweeper({
    blobs,
    log,
    metrics,
    policy: {
      maxBytes: config.maxCacheSize,
      evictUnusedMs: config.evictUnusedDays === null ? null : config.evictUnusedDays * 86_400_000,
      graceMs: config.evictionGraceSeconds * 1000,
    },
    // Offline, metadata cannot be fetched again: it is never pruned.
    ...(config.offline ? {} : { metadata: { unusedMs: config.metadataUnusedDays * 86_400_000, maxEntries: config.maxMetadataEntries } }),
    onEvicted: (lowerId, lowerVersion) => local.noteRemoved(lowerId, lowerVersion),
    // One sweeper at a time across processes and replicas sharing the store; the others skip their turn.
    exclusive: (run) => exclusive(RETENTION_SWEEP_LEASE, run),
  });
  retentionRef = retention;
  const activity = createActivity();
  // The web page's catalog follows fills, evictions and generation changes through LocalPackages, and
  // hits through the access log's touch.
  const catalog = new PackageCatalog({ blobs, log });
  local.watch((change) => {
    catalog.noteChange(change);
    if (change.kind === 'invalidated') return;
    // The storage gauges are kept by one process per host (the keeper), so /metrics summed over workers
    // does not count the cache once per worker; so is retention's "quota passed, sweep soon".
    if (link.keeper && change.kind === 'filled' && change.bytes !== undefined) {
      metrics.blobsOnDisk.inc();
      metrics.blobBytesOnDisk.inc(change.bytes);
      retention.noteAdded(change.bytes);
    }
    if (!change.remote) link.publish(change);
  });
  link.onChange((change) => {
    if (change.kind === 'filled') local.noteFilled(change.lowerId, change.lowerVersion, { remote: true, ...(change.bytes !== undefined ? { bytes: change.bytes } : {}) });
    else local.noteRemoved(change.lowerId, change.lowerVersion, { remote: true });
  });
  const touch = {
    touch: (lowerId: string, lowerVersion: string) => {
      access.touch(lowerId, lowerVersion);
      catalog.noteServed(lowerId, lowerVersion);
    },
  };
  const flat = new FlatContainerResource({
    config, feeds, blobs, temp, local, policy, fillCoordinator, metrics, log, access: touch, fillFailures: activity.failures,
  });
  const web = new WebPageResource({
    config, catalog, local, blobs, store, retention, activity, log, facts: feedFacts({ offline: config.offline, feeds, local, policy }),
  });
  const registration = new RegistrationResource({ config, feeds, docs: registrationDocs, local, policy });
  const search = new SearchResource({ config, feeds, local, rewriter, policy });
  const mirror = new Mirror({ feeds, registration: registrationDocs, vulnerability, signatures });

  // Disk gauges: one scan in the background at start, then kept current by fills (the keeper's only).
  if (link.keeper) void local.totals().then(
    (t) => {
      metrics.blobsOnDisk.inc(t.count);
      metrics.blobBytesOnDisk.inc(t.bytes);
    },
    (err: unknown) => log.warn({ err }, 'could not scan the cache directory'),
  );

  const generation = new GenerationWatch(blobs, () => {
    log.info('cache changed by another process; dropping in-memory views');
    memory.clear();
    local.invalidate();
  });
  await generation.check();

  return {
    config,
    log,
    metrics,
    blobs,
    temp,
    store,
    memory,
    rewriter,
    feeds,
    docs,
    local,
    serviceIndex,
    flat,
    registrationDocs,
    registration,
    search,
    vulnerability,
    signatures,
    policy,
    mirror,
    access,
    retention,
    web,
    activity,
    noteServed: touch.touch,
    checkGeneration: () => generation.check(),
    async close() {
      await Promise.allSettled([flat.drain(), docs.drain(), ...feeds.all.map((f) => f.docs.drain())]);
      await retention.close();
      await access.close();
      feeds.close();
      await rewriter.close();
      await store.close();
      await redis?.close();
      await blobs.close();
      await flushLogs(log);
    },
  };
}
