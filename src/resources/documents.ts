// Metadata documents: cache ↔ upstream orchestration shared by every JSON resource. Fresh entries are
// served from cache; expired ones are revalidated (If-None-Match / If-Modified-Since) under single-flight;
// when upstream fails, is slow or its breaker is open, the stale copy is served with a warning.

import type { CircuitBreaker } from '../breaker.ts';
import type { MetaEntry, MetadataStore } from '../storage/metadata-store.ts';
import { SingleFlight } from '../cache/single-flight.ts';
import { ProxyError, UpstreamInvalid, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { CacheResult, Metrics, Resource } from '../metrics.ts';
import type { UpstreamTransport } from '../upstream.ts';

/** What X-Cache says of an answer made of several upstreams' documents: the least "cached" part decides. */
const CACHE_RANK: Record<CacheResult, number> = { hit: 0, negative: 0, coalesced: 1, miss: 2, stale: 3, local: 4 };

export function combinedCacheResult(parts: Iterable<CacheResult>): CacheResult {
  let out: CacheResult = 'hit';
  for (const p of parts) if (CACHE_RANK[p] > CACHE_RANK[out]) out = p;
  return out;
}

export interface DocumentSpec {
  readonly key: string;
  readonly resource: Resource;
  /** Age below which a 200 entry is served without asking upstream. */
  readonly freshMs: number;
  /** Age below which a remembered upstream 404 is served without asking upstream. */
  readonly notFoundFreshMs: number;
  /** false: memory/Redis only (search results). */
  readonly persist?: boolean;
  readonly sharedTtlMs?: number;
  /**
   * The upstream URL, or several equivalent ones tried in order (nuget.org lists two search hosts);
   * may throw (e.g. the service index is unavailable).
   */
  readonly upstreamUrl: () => Promise<string | readonly string[]>;
  /**
   * Validates the upstream body and turns it into the stored text (rewritten, base-independent), with
   * optional extra data stored beside it.
   */
  readonly transform: (body: Buffer) => Promise<string | { body: string; extra: Record<string, string> }>;
  /** Runs after a fill stored a new 200 entry (e.g. fetch registration pages). Failures are logged only. */
  readonly afterFill?: (entry: MetaEntry) => Promise<void>;
}

export interface DocumentResult {
  readonly entry: MetaEntry;
  readonly cache: CacheResult;
  readonly warning?: string;
  /** For a fresh document: until when (ms since epoch) it may be served without asking again. */
  readonly freshUntilMs?: number;
}

export interface DocumentDeps {
  readonly store: MetadataStore;
  readonly upstream: UpstreamTransport | null;
  readonly breaker: CircuitBreaker;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly staleWaitMs: number;
}

function describeAge(fetchedAt: number): string {
  return new Date(fetchedAt).toISOString();
}

export class DocumentCache {
  private readonly flights = new SingleFlight<MetaEntry>();

  constructor(private readonly deps: DocumentDeps) {}

  /** Everything the local tiers hold for `key`, whatever its age (offline reads). */
  async peek(key: string): Promise<MetaEntry | undefined> {
    return this.deps.store.getLocal(key);
  }

  /**
   * A remembered upstream 404 of a package file: such markers live in memory alone (never on disk: see
   * persistable in metadata-store.ts), so this reads no storage.
   */
  peekNotFound(key: string): MetaEntry | undefined {
    const entry = this.deps.store.getInMemory(key);
    return entry?.status === 404 ? entry : undefined;
  }

  /** Stores an entry directly (negative markers for blobs, mirrored copies from prefetch or import). */
  async remember(key: string, entry: MetaEntry, options: { persist?: boolean } = {}): Promise<void> {
    await this.deps.store.set(key, entry, options);
  }

  private async fetchFirst(spec: DocumentSpec, urls: readonly string[], cached: MetaEntry | undefined) {
    const upstream = this.deps.upstream;
    if (!upstream) throw new Error('no upstream in offline mode');
    const validators = cached?.status === 200 ? { etag: cached.etag, lastModified: cached.lastModified } : {};
    // Equivalent URLs share one deadline: failing over must not double the client's wait.
    const deadlineAt = upstream.newDeadline();
    let lastError: unknown;
    for (const url of urls) {
      try {
        return await upstream.fetchDocument(url, { resource: spec.resource, deadlineAt, ...validators });
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private async fill(spec: DocumentSpec, urls: readonly string[], cached: MetaEntry | undefined): Promise<MetaEntry> {
    const result = await this.fetchFirst(spec, urls, cached);
    const now = Date.now();
    let entry: MetaEntry;
    if (result.kind === 'not_modified' && cached) {
      entry = { ...cached, fetchedAt: now };
    } else if (result.kind === 'not_found' || result.kind === 'not_modified') {
      entry = { status: 404, body: '', etag: null, lastModified: null, fetchedAt: now };
    } else {
      let out: string | { body: string; extra: Record<string, string> };
      try {
        out = await spec.transform(result.body);
      } catch (err) {
        if (err instanceof ProxyError) throw err;
        throw new UpstreamInvalid(`upstream ${spec.resource} document is invalid: ${errorMessage(err)}`, { cause: err });
      }
      const body = typeof out === 'string' ? out : out.body;
      const extra = typeof out === 'string' ? undefined : out.extra;
      entry = { status: 200, body, etag: result.etag, lastModified: result.lastModified, fetchedAt: now, ...(extra ? { extra } : {}) };
    }
    await this.deps.store.set(spec.key, entry, { persist: spec.persist ?? true, ...(spec.sharedTtlMs ? { sharedTtlMs: spec.sharedTtlMs } : {}) });
    if (entry.status === 200 && result.kind === 'ok' && spec.afterFill) {
      await spec.afterFill(entry).catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err), key: spec.key }, 'after-fill step failed'));
    }
    return entry;
  }

  private fresh(spec: DocumentSpec, e: MetaEntry): boolean {
    const age = Date.now() - e.fetchedAt;
    return age < (e.status === 200 ? spec.freshMs : spec.notFoundFreshMs);
  }

  private freshness(spec: DocumentSpec, e: MetaEntry): { freshUntilMs?: number } {
    return e.status === 200 && spec.freshMs > 0 ? { freshUntilMs: e.fetchedAt + spec.freshMs } : {};
  }

  private stale(spec: DocumentSpec, cached: MetaEntry, reason: string, detail: string): DocumentResult {
    this.deps.metrics.staleServed.inc({ resource: spec.resource, reason });
    this.deps.metrics.cacheLookups.inc({ resource: spec.resource, result: 'stale' });
    return {
      entry: cached,
      cache: 'stale',
      warning: `nuget-proxy: ${detail}; served the copy cached at ${describeAge(cached.fetchedAt)}`,
    };
  }

  /** Returns the document for `spec`, from cache or upstream. Throws ProxyError when neither can answer. */
  async get(spec: DocumentSpec): Promise<DocumentResult> {
    const { store, metrics, breaker } = this.deps;
    const cached = await store.get(spec.key, Math.max(spec.freshMs, spec.notFoundFreshMs), { persist: spec.persist ?? true });
    if (cached && this.fresh(spec, cached)) {
      metrics.cacheLookups.inc({ resource: spec.resource, result: cached.status === 200 ? 'hit' : 'negative' });
      return { entry: cached, cache: cached.status === 200 ? 'hit' : 'negative', ...this.freshness(spec, cached) };
    }
    let urls: readonly string[];
    try {
      const u = await spec.upstreamUrl();
      urls = typeof u === 'string' ? [u] : u;
    } catch (err) {
      if (cached) return this.stale(spec, cached, 'error', `upstream unavailable (${errorMessage(err)})`);
      throw err;
    }
    const first = urls[0];
    if (first === undefined) throw new UpstreamInvalid(`upstream has no ${spec.resource} resource`);
    const host = new URL(first).host;
    const { promise, shared } = this.flights.run(spec.key, () => this.fill(spec, urls, cached));
    if (!cached) {
      const entry = await promise;
      const result: CacheResult = shared ? 'coalesced' : 'miss';
      metrics.cacheLookups.inc({ resource: spec.resource, result });
      return { entry, cache: result, ...this.freshness(spec, entry) };
    }
    // A stale copy exists: never make the client wait long for upstream.
    promise.catch((err: unknown) => this.deps.log.debug({ key: spec.key, err: errorMessage(err) }, 'background revalidation failed'));
    if (breaker.isDegraded(host)) return this.stale(spec, cached, 'breaker', `upstream ${host} is unavailable`);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), this.deps.staleWaitMs);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([promise, deadline]);
      if (outcome === 'deadline') {
        breaker.recordSlow(host);
        return this.stale(spec, cached, 'slow', `upstream ${host} did not answer within ${this.deps.staleWaitMs} ms`);
      }
      metrics.cacheLookups.inc({ resource: spec.resource, result: shared ? 'coalesced' : 'miss' });
      return { entry: outcome, cache: shared ? 'coalesced' : 'miss', ...this.freshness(spec, outcome) };
    } catch (err) {
      return this.stale(spec, cached, 'error', `upstream failed (${errorMessage(err)})`);
    } finally {
      clearTimeout(timer);
    }
  }

  drain(): Promise<void> {
    return this.flights.drain();
  }
}
