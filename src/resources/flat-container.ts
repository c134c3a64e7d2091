// PackageBaseAddress (flat container): version lists (metadata, TTL) and package files (immutable, kept
// until retention evicts them). A missing file is filled once — single-flight in this process, and one
// fill across processes and replicas through the fill coordinator — into a local spool file, verified
// and committed to the blob store; a client hanging up does not cancel the fill. The clients of a .nupkg
// fill in this process receive its bytes as they arrive (fill-spool.ts: the last ones only once the
// checks pass); small files, HEAD and waiters on another process's fill are served from the store.
// Protocol digest §5.

import { createReadStream } from 'node:fs';
import type { FillFailures } from '../activity.ts';
import { LruCache } from '../cache/lru.ts';
import { SingleFlight } from '../cache/single-flight.ts';
import type { Config } from '../config.ts';
import type { FillCoordinator, FillResult } from '../coordination/fill-coordinator.ts';
import { CacheUnavailable, NotFound, ProxyError, UpstreamInvalid, UpstreamUnavailable, errorMessage } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { Logger } from '../logger.ts';
import type { CacheResult, Metrics, Resource } from '../metrics.ts';
import { normalizeLowerVersion, parseVersion, toLowerId, toLowerVersion, sortVersionStrings } from '../nuget/identity.ts';
import { firstListing } from '../nuget/merge.ts';
import { parseNuspec } from '../nuget/nuspec.ts';
import type { FlatFile, FlatFileRequest } from '../nuget/paths.ts';
import { NupkgError, readNupkgFile, readNupkgManifest, type ZipSource } from '../nupkg.ts';
import { asStorageError, copyInto, readBlob, readWhole, writeBlob, writeBlobFrom, type BlobStore } from '../storage/blob-store.ts';
import { FillSpool } from '../storage/fill-spool.ts';
import { packageKey, packageKeys } from '../storage/layout.ts';
import type { LocalTemp } from '../storage/local-temp.ts';
import type { UpstreamTransport } from '../upstream.ts';
import { combinedCacheResult } from './documents.ts';
import type { Feed, Feeds } from './feeds.ts';
import { fileNotFoundKey, versionsKey } from './keys.ts';
import type { HeldVersion, LocalPackages } from './local-packages.ts';
import type { PolicyGate } from './policy.ts';
import type { AccessLog } from '../retention/access-log.ts';
import type { RequestContext } from './types.ts';

/** How long after a fill failed on storage new fills are not streamed through (see ensure()). */
const STORAGE_TROUBLE_MS = 60_000;
const RESOURCE_OF: Record<FlatFile, Resource> = { nupkg: 'nupkg', nuspec: 'nuspec', icon: 'icon', readme: 'readme' };

export interface FlatContainerDeps {
  readonly config: Pick<Config, 'offline' | 'maxPackageMb'>;
  readonly feeds: Feeds;
  readonly blobs: BlobStore;
  readonly temp: LocalTemp;
  readonly local: LocalPackages;
  /** null: no policy configured. */
  readonly policy: PolicyGate | null;
  readonly fillCoordinator: FillCoordinator;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Records what was served, for retention (batched). */
  readonly access: Pick<AccessLog, 'touch'>;
  /** Told about every package fill that failed (the web page lists the recent ones). */
  readonly fillFailures?: Pick<FillFailures, 'add'>;
}

/** The versions document: normalized, lower-cased, sorted (docs: package-base-address-resource.md). */
export function versionsDocument(versions: Iterable<string>): string {
  const lowered = new Set<string>();
  for (const v of versions) {
    const n = normalizeLowerVersion(v);
    if (n) lowered.add(n);
  }
  return JSON.stringify({ versions: sortVersionStrings(lowered) });
}

export function sniffImageType(data: Buffer): string {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (data.subarray(0, 4).equals(Buffer.from([0, 0, 1, 0]))) return 'image/x-icon';
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return 'application/octet-stream';
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const CONTENT_TYPES: Record<FlatFile, string> = {
  nupkg: 'application/octet-stream',
  nuspec: 'text/xml; charset=utf-8',
  icon: 'application/octet-stream',
  readme: 'text/markdown; charset=utf-8',
};

export class FlatContainerResource {
  /** Fills in flight in this process, each with the spool a .nupkg download's clients follow. */
  private readonly fills = new SingleFlight<FillResult, FillSpool | null>();
  /** ETags of cached packages (their SHA-512), so a cache hit costs one stat, not a second file read. */
  private readonly etags = new LruCache<string>(4 * 1024 * 1024, (e) => e.length + 96);
  /** When a fill last failed on the proxy's own storage (0: never). */
  private storageFailedAt = 0;

  constructor(private readonly deps: FlatContainerDeps) {}

  private async flatBase(feed: Feed): Promise<string> {
    const layout = await feed.index.requireLayout();
    if (!layout.flat) throw new UpstreamUnavailable(502, 'UPSTREAM_NO_FLAT', `upstream ${feed.name} has no PackageBaseAddress resource`);
    return layout.flat;
  }

  /** One feed's version list document (cached, revalidated); throws UpstreamUnavailable when it cannot be had. */
  private feedVersions(feed: Feed, lowerId: string) {
    const { spec } = feed;
    return feed.docs.get({
      key: versionsKey(feed.name, lowerId),
      resource: 'versions',
      freshMs: spec.versionsTtlSeconds * 1000,
      notFoundFreshMs: spec.notFoundTtlSeconds * 1000,
      upstreamUrl: async () => `${await this.flatBase(feed)}${encodeURIComponent(lowerId)}/index.json`,
      transform: async (body) => {
        const doc: unknown = JSON.parse(body.toString('utf8'));
        const versions = (doc as { versions?: unknown } | null)?.versions;
        if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) throw new Error('no versions array');
        return versionsDocument(versions as string[]);
      },
    });
  }

  /** The versions of a stored versions document. */
  private static listed(stored: string): string[] {
    const versions = (JSON.parse(stored) as { versions?: unknown }).versions;
    return Array.isArray(versions) ? versions.filter((v): v is string => typeof v === 'string') : [];
  }

  /** Held versions `lowerId` may be served from now (their source is a feed it routes to). */
  private held(lowerId: string, from?: readonly Feed[]): Promise<HeldVersion[]> {
    const { feeds, local } = this.deps;
    if (feeds.single) return feeds.route(lowerId).length > 0 ? local.heldVersions(lowerId) : Promise.resolve([]);
    const names = from ? new Set(from.map((f) => f.name)) : null;
    return local.heldVersionsFrom(lowerId, (source) => feeds.mayServe(lowerId, source) && (names === null || (source !== null && names.has(source))));
  }

  private versionsReply(versions: Iterable<string>, cache: CacheResult, warnings: readonly string[]): Reply {
    return {
      status: 200,
      resource: 'versions',
      cache,
      body: { kind: 'json', stored: versionsDocument(versions) },
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  /** `{id}/index.json`: the union of the versions of every upstream the id routes to, less what policy hides. */
  async versions(lowerId: string, rc: RequestContext): Promise<Reply> {
    const { config, policy, metrics } = this.deps;
    const route = this.deps.feeds.requireRoute(lowerId);
    if (config.offline) {
      // Offline, only versions the proxy can deliver are listed, so floating ranges resolve to one it has.
      const held = await this.held(lowerId);
      if (held.length === 0) throw new NotFound(`package '${lowerId}' is not in this offline cache`);
      metrics.cacheLookups.inc({ resource: 'versions', result: 'local' });
      const shown = policy ? await policy.visibleVersions(lowerId, held.map((h) => ({ lowerVersion: h.lowerVersion, version: h.version, feed: null })), rc) : null;
      return this.versionsReply(shown ? shown.versions : held.map((h) => h.lowerVersion), 'local', shown?.warnings ?? []);
    }
    const only = route.length === 1 ? route[0] : undefined;
    if (only && !policy) return this.singleFeedVersions(only, lowerId, rc);

    // Several upstreams (or a policy): ask every routed upstream; the first that lists a version serves it.
    const results = await Promise.all(
      route.map(async (feed) => {
        try {
          const r = await this.feedVersions(feed, lowerId);
          return { feed, r, error: null };
        } catch (err) {
          if (!(err instanceof UpstreamUnavailable)) throw err;
          return { feed, r: null, error: err };
        }
      }),
    );
    const lists: Array<{ source: Feed | null; versions: string[] }> = [];
    const warnings: string[] = [];
    let cache: CacheResult = 'hit';
    for (const { feed, r, error } of results) {
      if (r) {
        if (r.warning) warnings.push(r.warning);
        cache = combinedCacheResult([cache, r.cache]);
        if (r.entry.status === 200) lists.push({ source: feed, versions: FlatContainerResource.listed(r.entry.body) });
      } else if (error) {
        // Upstream gone and no list cached: the versions held from it are better than nothing.
        const held = await this.held(lowerId, [feed]);
        if (held.length === 0) continue;
        cache = 'local';
        warnings.push(`nuget-proxy: upstream ${feed.name} unavailable (${error.message}); listing only the versions this proxy holds from it`);
        rc.log.info({ lowerId, upstream: feed.name }, 'served held versions while upstream is unavailable');
        lists.push({ source: null, versions: held.map((h) => h.lowerVersion) });
      }
    }
    if (lists.length === 0) {
      const failed = results.find((x) => x.error)?.error;
      if (failed) throw failed;
      throw new NotFound(`package '${lowerId}' was not found upstream`);
    }
    const owner = firstListing(lists);
    let versions = [...owner.keys()];
    if (policy) {
      const shown = await policy.visibleVersions(
        lowerId,
        [...owner.entries()].flatMap(([lowerVersion, feed]) => {
          const version = parseVersion(lowerVersion);
          return version ? [{ lowerVersion, version, feed }] : [];
        }),
        rc,
      );
      versions = shown.versions;
      warnings.push(...shown.warnings);
    }
    return this.versionsReply(versions, cache, warnings);
  }

  /** One upstream and no policy: its document as cached, rendered once (the common, hot case). */
  private async singleFeedVersions(feed: Feed, lowerId: string, rc: RequestContext): Promise<Reply> {
    try {
      const result = await this.feedVersions(feed, lowerId);
      if (result.entry.status === 404) throw new NotFound(`package '${lowerId}' was not found upstream`);
      return {
        status: 200,
        resource: 'versions',
        cache: result.cache,
        body: { kind: 'json', stored: result.entry.body, renderKey: `${versionsKey(feed.name, lowerId)}:${result.entry.fetchedAt}` },
        ...(result.warning ? { warnings: [result.warning] } : {}),
        ...(result.freshUntilMs ? { freshUntilMs: result.freshUntilMs } : {}),
      };
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable)) throw err;
      // Upstream gone and no list cached: the versions on disk are better than failing outright.
      const held = await this.held(lowerId);
      if (held.length === 0) throw err;
      rc.log.info({ lowerId }, 'served held versions while upstream is unavailable');
      this.deps.metrics.cacheLookups.inc({ resource: 'versions', result: 'local' });
      return this.versionsReply(held.map((h) => h.lowerVersion), 'local', [
        `nuget-proxy: upstream unavailable (${err.message}); listing only the versions this proxy holds`,
      ]);
    }
  }

  /**
   * The feed a version comes from: the first routed upstream whose version list has it. An upstream that
   * cannot answer is skipped; when none lists it, a 404 — or that upstream's error, when one could not say.
   */
  private async sourceFeed(lowerId: string, lowerVersion: string): Promise<Feed> {
    const route = this.deps.feeds.requireRoute(lowerId);
    if (route.length === 1) return route[0] as Feed;
    // Every routed upstream's list at once (usually cached: the client has just read the merged list), so
    // a black-holed upstream costs the client one request deadline, not one per upstream before it.
    const lists = await Promise.all(
      route.map(async (feed) => {
        try {
          return { feed, r: await this.feedVersions(feed, lowerId), error: null };
        } catch (err) {
          if (!(err instanceof UpstreamUnavailable)) throw err;
          return { feed, r: null, error: err };
        }
      }),
    );
    let failure: UpstreamUnavailable | null = null;
    for (const { feed, r, error } of lists) {
      if (r?.entry.status === 200 && FlatContainerResource.listed(r.entry.body).includes(lowerVersion)) return feed;
      failure ??= error;
    }
    if (failure) throw failure;
    throw new NotFound(`${lowerId} ${lowerVersion} is on none of the upstreams '${lowerId}' routes to (${route.map((f) => f.name).join(', ')})`);
  }

  /** The feed a servable cached .nupkg came from: its other files come from there too. */
  private async heldSource(lowerId: string, lowerVersion: string): Promise<Feed | null> {
    const { feeds, blobs, local } = this.deps;
    if (!(await blobs.stat(packageKey(lowerId, lowerVersion, 'nupkg')))) return null;
    const source = await local.source(lowerId, lowerVersion);
    if (!feeds.mayServe(lowerId, source)) return null;
    return feeds.single ? (feeds.route(lowerId)[0] ?? null) : (feeds.route(lowerId).find((f) => f.name === source) ?? null);
  }

  /** Whether the cached files of a version may be served for its id now (see PackageFile 'source'). */
  private async servable(lowerId: string, lowerVersion: string): Promise<boolean> {
    const { feeds, local } = this.deps;
    // One upstream: every held copy is its own (no marker read on the hit path).
    if (feeds.single) return feeds.mayServe(lowerId, null);
    return feeds.mayServe(lowerId, await local.source(lowerId, lowerVersion));
  }

  /**
   * Marks a version's files as coming from `feed` before a fill writes any. Files cached from another
   * upstream (or unmarked, with several upstreams) are removed first: they must never be served as this
   * upstream's. The .nupkg goes first, so readers stop seeing the version before the rest disappears.
   */
  private async claim(lowerId: string, lowerVersion: string, feed: Feed): Promise<void> {
    const { blobs, local, feeds, log } = this.deps;
    const markerKey = packageKey(lowerId, lowerVersion, 'source');
    const current = (await readBlob(blobs, markerKey, 1024))?.toString('utf8').trim() ?? '';
    if (current === feed.name) return;
    if (!feeds.single) {
      const stale = [...packageKeys(lowerId, lowerVersion)].reverse().filter((k) => k !== packageKey(lowerId, lowerVersion, 'pinned'));
      let removed = 0;
      for (const k of stale) if (await blobs.delete(k)) removed++;
      if (removed > 0) {
        local.noteRemoved(lowerId, lowerVersion);
        this.etags.delete(`${lowerId}/${lowerVersion}`);
        log.warn({ lowerId, lowerVersion, from: current || null, to: feed.name }, 'replacing a cached package version that came from another upstream');
      }
    }
    await writeBlob(blobs, markerKey, feed.name);
    local.noteSource(lowerId, lowerVersion, feed.name);
  }

  /**
   * `{id}/{version}/{file}` for GET and HEAD. `stream`: the caller sends the body (GET), so a .nupkg being
   * filled in this process is streamed through as it arrives instead of after the fill. The policy decides
   * first: a refused download never starts a fill nor sends a byte.
   */
  async file(req: FlatFileRequest, options: { stream?: boolean } = {}): Promise<Reply> {
    const { lowerId, lowerVersion, file } = req;
    const resource = RESOURCE_OF[file];
    const key = packageKey(lowerId, lowerVersion, file);
    this.deps.feeds.requireRoute(lowerId);
    if (file === 'nupkg' && this.deps.policy) await this.deps.policy.checkDownload(lowerId, lowerVersion);
    let cache: CacheResult = 'hit';
    let stat = await this.deps.blobs.stat(key);
    if (stat && !(await this.servable(lowerId, lowerVersion))) stat = null;
    if (!stat) {
      const filled = await this.ensure(req, options.stream === true);
      if (filled.streaming) return filled.streaming;
      cache = filled.cache;
      stat = await this.deps.blobs.stat(key);
      if (!stat || !(await this.servable(lowerId, lowerVersion))) throw new NotFound(`${file} of ${lowerId} ${lowerVersion} is not available`);
    } else {
      this.deps.metrics.cacheLookups.inc({ resource, result: 'hit' });
    }
    const blobs = this.deps.blobs;
    const size = stat.size;
    const gone = () => new NotFound(`${file} of ${lowerId} ${lowerVersion} is no longer in the cache`);
    let contentType = CONTENT_TYPES[file];
    if (file === 'icon') {
      const head = await blobs.openRead(key, { start: 0, end: 16 });
      contentType = sniffImageType(head ? await readAll(head) : Buffer.alloc(0));
    }
    let etag: string | undefined;
    if (file === 'nupkg') {
      this.deps.access.touch(lowerId, lowerVersion);
      const id = `${lowerId}/${lowerVersion}`;
      etag = this.etags.get(id);
      if (!etag) {
        const sha = await readBlob(blobs, packageKey(lowerId, lowerVersion, 'sha512'), 1024);
        if (sha) {
          etag = `"${sha.toString('utf8').trim()}"`;
          this.etags.set(id, etag);
        }
      }
    }
    return {
      status: 200,
      resource,
      cache,
      immutable: true,
      // Held in memory (answered before any check) only while nothing decides per request: a policy may
      // refuse a .nupkg it let through before (a new advisory, a changed rule), so those go the full path.
      ...(file === 'nupkg' && this.deps.policy ? {} : { packageFile: { lowerId, lowerVersion, file } }),
      body: {
        kind: 'file',
        size,
        contentType,
        ...(etag ? { etag } : {}),
        open: async () => {
          if (blobs.openReader) {
            const reader = await blobs.openReader(key);
            if (!reader) throw gone();
            return { kind: 'reader', reader };
          }
          const stream = await blobs.openRead(key);
          if (!stream) throw gone();
          return { kind: 'stream', stream };
        },
        readAll: () => readWhole(blobs, key, size),
      },
    };
  }

  /**
   * Makes the file exist in the blob store, or throws; returns how it got there. With `follow`, a .nupkg
   * this process downloads is returned as a streaming reply as soon as upstream answers instead.
   */
  private async ensure(req: FlatFileRequest, follow: boolean): Promise<{ cache: CacheResult; streaming?: Reply }> {
    const { lowerId, lowerVersion, file } = req;
    const key = packageKey(lowerId, lowerVersion, file);
    const flight = this.fills.runWith(
      key,
      () => (file === 'nupkg' ? new FillSpool(this.deps.temp, `${lowerId}.${lowerVersion}.nupkg`) : null),
      (spool) => {
        const job = {
          fill: () => this.fill(req, spool),
          // Done only when the file is there AND may be served for the id now (source marker, several upstreams).
          done: async () => (await this.deps.blobs.stat(key)) !== null && (await this.servable(lowerId, lowerVersion)),
        };
        return this.deps.fillCoordinator.run(key, job).finally(() => spool?.close());
      },
    );
    // Only the request that made this process fill counts as the miss; the rest waited for a fill here or
    // in another process or replica.
    // While the cache has just failed to store a fill (a full disk), clients wait for the fill instead: a
    // streamed response could only break off, a waiting one gets the clear 507/503.
    if (follow && flight.companion && Date.now() - this.storageFailedAt > STORAGE_TROUBLE_MS) {
      // Settles before the flight does (the spool closes first): null when there is nothing to follow.
      const followed = await flight.companion.follow();
      if (followed) {
        flight.promise.catch(() => undefined); // the fill logs its own failure; this client's stream is aborted
        const cache: CacheResult = flight.shared ? 'coalesced' : 'miss';
        this.deps.metrics.cacheLookups.inc({ resource: RESOURCE_OF[file], result: cache });
        this.deps.access.touch(lowerId, lowerVersion);
        const streaming: Reply = {
          status: 200,
          resource: RESOURCE_OF[file],
          cache,
          immutable: true,
          body: {
            kind: 'stream',
            stream: followed.stream,
            size: followed.declaredBytes,
            contentType: CONTENT_TYPES[file],
            // The ETag of a cached package is its SHA-512; upstream's announced one is checked against the bytes.
            ...(followed.sha512 ? { etag: `"${followed.sha512}"` } : {}),
          },
        };
        return { cache, streaming };
      }
    }
    const outcome = await flight.promise;
    const cache: CacheResult = flight.shared || outcome === 'found' ? 'coalesced' : 'miss';
    this.deps.metrics.cacheLookups.inc({ resource: RESOURCE_OF[file], result: cache });
    return { cache };
  }

  private async fill(req: FlatFileRequest, spool: FillSpool | null): Promise<void> {
    try {
      return await this.fillFrom(req, spool);
    } catch (err) {
      throw this.storageFailure(err, req);
    }
  }

  /** A fill that failed on the proxy's own storage is told as such (507/503), never as upstream's failure. */
  private storageFailure(err: unknown, req: FlatFileRequest): unknown {
    if (err instanceof ProxyError) return err;
    const storage = asStorageError(err, `cannot store the ${req.file} of ${req.lowerId} ${req.lowerVersion}`);
    if (!storage) return err;
    const { blobs, metrics, log } = this.deps;
    this.storageFailedAt = Date.now();
    metrics.storageErrors.inc({ operation: 'fill', code: storage.code });
    log.error({ lowerId: req.lowerId, lowerVersion: req.lowerVersion, file: req.file, code: storage.code, err: storage.message, cache: blobs.description }, 'cache not writable: fill failed');
    return new CacheUnavailable(storage.code, blobs.description, { cause: storage });
  }

  private async fillFrom(req: FlatFileRequest, spool: FillSpool | null): Promise<void> {
    const { file, lowerId, lowerVersion } = req;
    // No look for the file here: the fill coordinator's job.done() looked right before calling this.
    // A nuspec, icon or readme comes out of the cached .nupkg when there is one (offline too).
    if (file !== 'nupkg' && (await this.extractFromCached(req))) return;
    const transport = this.upstreamOrOffline(req);
    // A .nupkg's fill runs only when there is none held: the source to ask is the one the id routes to.
    const held = file === 'nupkg' ? null : await this.heldSource(lowerId, lowerVersion);
    const feed = held ?? (await this.sourceFeed(lowerId, lowerVersion));
    switch (file) {
      case 'nupkg':
        if (!spool) throw new Error('a .nupkg fill needs its spool');
        return this.fillNupkg(req, feed, transport(feed), spool);
      case 'nuspec':
        return this.fillNuspec(req, feed, transport(feed));
      case 'icon':
      case 'readme':
        return this.fillEmbedded(req, feed, transport(feed));
    }
  }

  private checkNegative(req: FlatFileRequest, feed: Feed): void {
    const neg = feed.docs.peekNotFound(fileNotFoundKey(feed.name, req.lowerId, req.lowerVersion, req.file));
    if (neg && Date.now() - neg.fetchedAt < feed.spec.notFoundTtlSeconds * 1000) {
      this.deps.metrics.cacheLookups.inc({ resource: RESOURCE_OF[req.file], result: 'negative' });
      throw new NotFound(`${req.file} of ${req.lowerId} ${req.lowerVersion} was not found upstream`);
    }
  }

  private async rememberNotFound(req: FlatFileRequest, feed: Feed): Promise<never> {
    await feed.docs.remember(fileNotFoundKey(feed.name, req.lowerId, req.lowerVersion, req.file), {
      status: 404,
      body: '',
      etag: null,
      lastModified: null,
      fetchedAt: Date.now(),
    });
    this.deps.metrics.blobFills.inc({ resource: RESOURCE_OF[req.file], result: 'not_found' });
    throw new NotFound(`${req.file} of ${req.lowerId} ${req.lowerVersion} was not found upstream`);
  }

  /** The transport of a feed, or a 404 offline (nothing is fetched; only what the cache holds is served). */
  private upstreamOrOffline(req: FlatFileRequest): (feed: Feed) => UpstreamTransport {
    if (this.deps.config.offline) throw new NotFound(`${req.lowerId} ${req.lowerVersion} (${req.file}) is not in this offline cache`);
    return (feed) => {
      if (!feed.transport) throw new NotFound(`${req.lowerId} ${req.lowerVersion} (${req.file}) is not in this offline cache`);
      return feed.transport;
    };
  }

  /**
   * Downloads from `feed` into the spool (clients following it get the bytes as they arrive, all but the
   * last), verifies, releases the last bytes to those clients, then commits (the fill lasts until then).
   * Nothing is cached, and the following clients are aborted, when any check fails.
   */
  private async fillNupkg(req: FlatFileRequest, feed: Feed, upstream: UpstreamTransport, spool: FillSpool): Promise<void> {
    const { lowerId, lowerVersion } = req;
    this.checkNegative(req, feed);
    const url = `${await this.flatBase(feed)}${encodeURIComponent(lowerId)}/${lowerVersion}/${encodeURIComponent(lowerId)}.${lowerVersion}.nupkg`;
    const { blobs, metrics, log } = this.deps;
    try {
      const result = await upstream.download(url, spool, { resource: 'nupkg', maxBytes: this.deps.config.maxPackageMb * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req, feed);
      const path = spool.path;
      const handle = spool.handle;
      if (path === null || handle === null) throw new Error('the download left no spool file');
      // Verify before anything becomes visible: a zip whose nuspec names this very package (read through the
      // spool's open file: no second open of it).
      let manifest;
      try {
        manifest = await readNupkgManifest({ handle, size: result.bytes });
      } catch (err) {
        throw new UpstreamInvalid(`upstream ${feed.name} sent a corrupt package for ${lowerId} ${lowerVersion}: ${errorMessage(err)}`, { cause: err });
      }
      const gotId = toLowerId(manifest.nuspec.id);
      const gotVersion = toLowerVersion(manifest.nuspec.version);
      if (gotId !== lowerId || gotVersion !== lowerVersion) {
        throw new UpstreamInvalid(`upstream ${feed.name} package for ${lowerId} ${lowerVersion} contains ${manifest.nuspec.id} ${manifest.nuspec.fullVersion}`);
      }
      // Verified: the clients following the download may have its last byte now, while the commit runs — it
      // is no check, and its flushes and side files would add their latency to every cold package. A client
      // that asks again meanwhile joins this fill (in this process; another process or replica waits for its
      // lease), so it still finds the package cached. A commit that fails (a full disk) leaves those clients
      // with their correct bytes and the cache without the package.
      spool.release();
      // The source marker first, the .nupkg last: once it is visible, its .sha512 and .nuspec are there too.
      // With one upstream, claiming removes nothing, so the marker is written beside the others.
      const sidecars = async () => {
        const others = () =>
          Promise.all([
            writeBlob(blobs, packageKey(lowerId, lowerVersion, 'sha512'), result.sha512),
            writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), manifest.nuspecXml, { ifAbsent: true }),
          ]);
        if (this.deps.feeds.single) await Promise.all([this.claim(lowerId, lowerVersion, feed), others()]);
        else await this.claim(lowerId, lowerVersion, feed).then(others);
      };
      await commitPackageFile(blobs, packageKey(lowerId, lowerVersion, 'nupkg'), spool, path, result.bytes, sidecars);
      // Storage gauges, retention and the other workers follow through the held-packages view.
      this.deps.local.noteFilled(lowerId, lowerVersion, { bytes: result.bytes });
      metrics.blobFills.inc({ resource: 'nupkg', result: 'ok' });
      log.info({ lowerId, lowerVersion, upstream: feed.name, bytes: result.bytes }, 'package filled');
    } catch (err) {
      spool.fail(err instanceof Error ? err : new Error(errorMessage(err)));
      if (!(err instanceof NotFound)) {
        metrics.blobFills.inc({ resource: 'nupkg', result: err instanceof UpstreamInvalid ? 'invalid' : 'error' });
        log.warn({ lowerId, lowerVersion, upstream: feed.name, err: errorMessage(err) }, 'package fill failed; nothing cached');
        this.deps.fillFailures?.add({ atMs: Date.now(), lowerId, lowerVersion, file: 'nupkg', code: err instanceof ProxyError ? err.code : 'ERROR', reason: errorMessage(err) });
      }
      throw err;
    }
    // The spool's files go when the flight ends (ensure), after the commit above has read them.
  }

  /**
   * The cached .nupkg as a zip source, or null when the cache does not hold one that may be served. A fill
   * of it in flight here is waited for (the nuspec or icon a client asks for next then comes out of it, not
   * from upstream).
   */
  private async cachedNupkg(lowerId: string, lowerVersion: string): Promise<ZipSource | null> {
    const key = packageKey(lowerId, lowerVersion, 'nupkg');
    await this.fills.inFlight(key)?.catch(() => undefined);
    const stat = await this.deps.blobs.stat(key);
    return stat && (await this.servable(lowerId, lowerVersion)) ? { blobs: this.deps.blobs, key, size: stat.size } : null;
  }

  /** Writes the nuspec, icon or readme out of the cached .nupkg; false when there is none to read it from. */
  private async extractFromCached(req: FlatFileRequest): Promise<boolean> {
    const { lowerId, lowerVersion, file } = req;
    const { blobs, metrics } = this.deps;
    const nupkg = await this.cachedNupkg(lowerId, lowerVersion);
    if (!nupkg) return false;
    if (file === 'nuspec') {
      const m = await readNupkgManifest(nupkg);
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), m.nuspecXml, { ifAbsent: true });
      return true;
    }
    try {
      const m = await readNupkgManifest(nupkg);
      const inPackage = file === 'icon' ? m.nuspec.iconFile : m.nuspec.readmeFile;
      const data = inPackage ? await readNupkgFile(nupkg, inPackage) : null;
      if (!data) return false;
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, file), data, { ifAbsent: true });
      metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'ok' });
      return true;
    } catch (err) {
      if (!(err instanceof NupkgError)) throw err;
      return false;
    }
  }

  private async fillNuspec(req: FlatFileRequest, feed: Feed, upstream: UpstreamTransport): Promise<void> {
    const { lowerId, lowerVersion } = req;
    const { blobs, metrics } = this.deps;
    this.checkNegative(req, feed);
    const url = `${await this.flatBase(feed)}${encodeURIComponent(lowerId)}/${lowerVersion}/${encodeURIComponent(lowerId)}.nuspec`;
    const result = await upstream.fetchDocument(url, { resource: 'nuspec' });
    if (result.kind !== 'ok') return this.rememberNotFound(req, feed);
    try {
      const n = parseNuspec(result.body.toString('utf8'));
      if (toLowerId(n.id) !== lowerId || toLowerVersion(n.version) !== lowerVersion) throw new Error(`it describes ${n.id} ${n.fullVersion}`);
    } catch (err) {
      metrics.blobFills.inc({ resource: 'nuspec', result: 'invalid' });
      throw new UpstreamInvalid(`upstream ${feed.name} nuspec for ${lowerId} ${lowerVersion} is invalid: ${errorMessage(err)}`);
    }
    await this.claim(lowerId, lowerVersion, feed);
    await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), result.body, { ifAbsent: true });
    metrics.blobFills.inc({ resource: 'nuspec', result: 'ok' });
  }

  /** Icon or readme: out of the cached .nupkg when it embeds one, else from upstream (nuget.org copies external icons). */
  private async fillEmbedded(req: FlatFileRequest, feed: Feed, upstream: UpstreamTransport): Promise<void> {
    const { lowerId, lowerVersion, file } = req;
    const { blobs, metrics, temp } = this.deps;
    // With the .nupkg cached (and no such file in it), upstream's copy (nuget.org's external icons) joins it.
    const nupkg = await this.cachedNupkg(lowerId, lowerVersion);
    this.checkNegative(req, feed);
    const url = `${await this.flatBase(feed)}${encodeURIComponent(lowerId)}/${lowerVersion}/${file}`;
    const spool = temp.path(`${lowerId}.${lowerVersion}.${file}`);
    try {
      const result = await upstream.download(url, spool, { resource: RESOURCE_OF[file], maxBytes: 16 * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req, feed);
      if (!nupkg) await this.claim(lowerId, lowerVersion, feed);
      await writeBlobFrom(blobs, packageKey(lowerId, lowerVersion, file), createReadStream(spool), { ifAbsent: true });
      metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'ok' });
    } catch (err) {
      if (!(err instanceof ProxyError)) metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'error' });
      throw err;
    } finally {
      await temp.removeFile(spool);
    }
  }

  drain(): Promise<void> {
    return this.fills.drain();
  }
}

/**
 * Commits a verified download (`spool`'s file, `bytes` long) as the object `key` once `before` has run: a
 * disk store on the same filesystem takes the file itself (flushed while `before` runs, then hard-linked:
 * no copy); otherwise its bytes are copied while `before` runs, and committed after it.
 */
async function commitPackageFile(blobs: BlobStore, key: string, spool: FillSpool, path: string, bytes: number, before: () => Promise<void>): Promise<void> {
  let beforeRan = false;
  if (blobs.adoptFile) {
    await Promise.all([before(), spool.flush()]);
    beforeRan = true;
    if (await blobs.adoptFile(key, path, { durable: false })) return;
  }
  const w = await blobs.beginWrite(key);
  try {
    // Reads sized to the file: a read buffer of 1 MB for a 100 KB package is garbage the collector pays for.
    const copied = copyInto(w, createReadStream(path, { highWaterMark: Math.max(64 * 1024, Math.min(1024 * 1024, bytes + 1)) }));
    const ran = beforeRan ? Promise.resolve() : before();
    // Both settle before a failure aborts the write (no write lands on a closed file).
    for (const r of await Promise.allSettled([copied, ran])) if (r.status === 'rejected') throw r.reason;
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
