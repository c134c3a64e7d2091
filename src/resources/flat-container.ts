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
import { NotFound, ProxyError, UpstreamInvalid, UpstreamUnavailable, errorMessage } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { Logger } from '../logger.ts';
import type { CacheResult, Metrics, Resource } from '../metrics.ts';
import { normalizeLowerVersion, toLowerId, toLowerVersion, sortVersionStrings } from '../nuget/identity.ts';
import { parseNuspec } from '../nuget/nuspec.ts';
import type { FlatFile, FlatFileRequest } from '../nuget/paths.ts';
import { NupkgError, readNupkgFile, readNupkgManifest, type ZipSource } from '../nupkg.ts';
import { readBlob, writeBlob, writeBlobFrom, type BlobStore } from '../storage/blob-store.ts';
import { packageKey } from '../storage/layout.ts';
import { FillSpool } from '../storage/fill-spool.ts';
import type { LocalTemp } from '../storage/local-temp.ts';
import type { UpstreamClient } from '../upstream.ts';
import type { DocumentCache } from './documents.ts';
import { fileNotFoundKey, versionsKey } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { AccessLog } from '../retention/access-log.ts';
import type { ServiceIndexResource } from './service-index.ts';
import type { RequestContext } from './types.ts';

const RESOURCE_OF: Record<FlatFile, Resource> = { nupkg: 'nupkg', nuspec: 'nuspec', icon: 'icon', readme: 'readme' };

export interface FlatContainerDeps {
  readonly config: Pick<Config, 'offline' | 'versionsTtlSeconds' | 'notFoundTtlSeconds' | 'maxPackageMb'>;
  readonly docs: DocumentCache;
  readonly index: ServiceIndexResource;
  readonly blobs: BlobStore;
  readonly temp: LocalTemp;
  readonly local: LocalPackages;
  readonly upstream: UpstreamClient | null;
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

  constructor(private readonly deps: FlatContainerDeps) {}

  private async flatBase(): Promise<string> {
    const layout = await this.deps.index.requireLayout();
    if (!layout.flat) throw new UpstreamUnavailable(502, 'UPSTREAM_NO_FLAT', 'upstream has no PackageBaseAddress resource');
    return layout.flat;
  }

  /** `{id}/index.json`. */
  async versions(lowerId: string, rc: RequestContext): Promise<Reply> {
    const { config, docs, local } = this.deps;
    const localReply = async (warning?: string): Promise<Reply | null> => {
      const held = await local.heldVersions(lowerId);
      if (held.length === 0) return null;
      this.deps.metrics.cacheLookups.inc({ resource: 'versions', result: 'local' });
      return {
        status: 200,
        resource: 'versions',
        cache: 'local',
        body: { kind: 'json', stored: versionsDocument(held.map((h) => h.lowerVersion)) },
        ...(warning ? { warnings: [warning] } : {}),
      };
    };
    if (config.offline) {
      // Offline, only versions the proxy can deliver are listed, so floating ranges resolve to one it has.
      const r = await localReply();
      if (!r) throw new NotFound(`package '${lowerId}' is not in this offline cache`);
      return r;
    }
    try {
      const result = await docs.get({
        key: versionsKey(lowerId),
        resource: 'versions',
        freshMs: config.versionsTtlSeconds * 1000,
        notFoundFreshMs: config.notFoundTtlSeconds * 1000,
        upstreamUrl: async () => `${await this.flatBase()}${encodeURIComponent(lowerId)}/index.json`,
        transform: async (body) => {
          const doc: unknown = JSON.parse(body.toString('utf8'));
          const versions = (doc as { versions?: unknown } | null)?.versions;
          if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) throw new Error('no versions array');
          return versionsDocument(versions as string[]);
        },
      });
      if (result.entry.status === 404) throw new NotFound(`package '${lowerId}' was not found upstream`);
      return {
        status: 200,
        resource: 'versions',
        cache: result.cache,
        body: { kind: 'json', stored: result.entry.body, renderKey: `${versionsKey(lowerId)}:${result.entry.fetchedAt}` },
        ...(result.warning ? { warnings: [result.warning] } : {}),
      };
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable)) throw err;
      // Upstream gone and no list cached: the versions on disk are better than failing outright.
      const r = await localReply(`nuget-proxy: upstream unavailable (${err.message}); listing only the versions this proxy holds`);
      if (r) {
        rc.log.info({ lowerId }, 'served held versions while upstream is unavailable');
        return r;
      }
      throw err;
    }
  }

  /**
   * `{id}/{version}/{file}` for GET and HEAD. `stream`: the caller sends the body (GET), so a .nupkg being
   * filled in this process is streamed through as it arrives instead of after the fill.
   */
  async file(req: FlatFileRequest, options: { stream?: boolean } = {}): Promise<Reply> {
    const { lowerId, lowerVersion, file } = req;
    const resource = RESOURCE_OF[file];
    const key = packageKey(lowerId, lowerVersion, file);
    let cache: CacheResult = 'hit';
    let stat = await this.deps.blobs.stat(key);
    if (!stat) {
      const filled = await this.ensure(req, options.stream === true);
      if (filled.streaming) return filled.streaming;
      cache = filled.cache;
      stat = await this.deps.blobs.stat(key);
      if (!stat) throw new NotFound(`${file} of ${lowerId} ${lowerVersion} is not available`);
    } else {
      this.deps.metrics.cacheLookups.inc({ resource, result: 'hit' });
    }
    const blobs = this.deps.blobs;
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
      body: {
        kind: 'file',
        open: async () => {
          const stream = await blobs.openRead(key);
          if (!stream) throw new NotFound(`${file} of ${lowerId} ${lowerVersion} is no longer in the cache`);
          return stream;
        },
        size: stat.size,
        contentType,
        ...(etag ? { etag } : {}),
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
          done: async () => (await this.deps.blobs.stat(key)) !== null,
        };
        return this.deps.fillCoordinator.run(key, job).finally(() => spool?.close());
      },
    );
    // Only the request that made this process fill counts as the miss; the rest waited for a fill here or
    // in another process or replica.
    if (follow && flight.companion) {
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
    switch (req.file) {
      case 'nupkg':
        if (!spool) throw new Error('a .nupkg fill needs its spool');
        return this.fillNupkg(req, spool);
      case 'nuspec':
        return this.fillNuspec(req);
      case 'icon':
      case 'readme':
        return this.fillEmbedded(req);
    }
  }

  private async checkNegative(req: FlatFileRequest): Promise<void> {
    const neg = await this.deps.docs.peek(fileNotFoundKey(req.lowerId, req.lowerVersion, req.file));
    if (neg && Date.now() - neg.fetchedAt < this.deps.config.notFoundTtlSeconds * 1000) {
      this.deps.metrics.cacheLookups.inc({ resource: RESOURCE_OF[req.file], result: 'negative' });
      throw new NotFound(`${req.file} of ${req.lowerId} ${req.lowerVersion} was not found upstream`);
    }
  }

  private async rememberNotFound(req: FlatFileRequest): Promise<never> {
    await this.deps.docs.remember(fileNotFoundKey(req.lowerId, req.lowerVersion, req.file), {
      status: 404,
      body: '',
      etag: null,
      lastModified: null,
      fetchedAt: Date.now(),
    });
    this.deps.metrics.blobFills.inc({ resource: RESOURCE_OF[req.file], result: 'not_found' });
    throw new NotFound(`${req.file} of ${req.lowerId} ${req.lowerVersion} was not found upstream`);
  }

  private upstreamOrOffline(req: FlatFileRequest): UpstreamClient {
    if (this.deps.config.offline || !this.deps.upstream) {
      throw new NotFound(`${req.lowerId} ${req.lowerVersion} (${req.file}) is not in this offline cache`);
    }
    return this.deps.upstream;
  }

  /**
   * Downloads into the spool (clients following it get the bytes as they arrive, all but the last),
   * verifies, releases the last bytes to those clients, then commits. Nothing is cached, and the
   * following clients are aborted, when any check fails.
   */
  private async fillNupkg(req: FlatFileRequest, spool: FillSpool): Promise<void> {
    const { lowerId, lowerVersion } = req;
    const upstream = this.upstreamOrOffline(req);
    await this.checkNegative(req);
    const url = `${await this.flatBase()}${encodeURIComponent(lowerId)}/${lowerVersion}/${encodeURIComponent(lowerId)}.${lowerVersion}.nupkg`;
    const { blobs, metrics, log } = this.deps;
    try {
      const result = await upstream.download(url, spool, { resource: 'nupkg', maxBytes: this.deps.config.maxPackageMb * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req);
      const path = spool.path;
      if (path === null) throw new Error('the download left no spool file');
      // Verify before anything becomes visible: a zip whose nuspec names this very package.
      let manifest;
      try {
        manifest = await readNupkgManifest(path);
      } catch (err) {
        throw new UpstreamInvalid(`upstream sent a corrupt package for ${lowerId} ${lowerVersion}: ${errorMessage(err)}`, { cause: err });
      }
      const gotId = toLowerId(manifest.nuspec.id);
      const gotVersion = toLowerVersion(manifest.nuspec.version);
      if (gotId !== lowerId || gotVersion !== lowerVersion) {
        throw new UpstreamInvalid(`upstream package for ${lowerId} ${lowerVersion} contains ${manifest.nuspec.id} ${manifest.nuspec.fullVersion}`);
      }
      // Verified: the clients following the download may have its last bytes (and a complete response)
      // while the commit runs.
      spool.release();
      // The .nupkg last: once it is visible, its .sha512 and .nuspec are there too.
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'sha512'), result.sha512);
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), manifest.nuspecXml, { ifAbsent: true });
      await writeBlobFrom(blobs, packageKey(lowerId, lowerVersion, 'nupkg'), createReadStream(path, { highWaterMark: 1024 * 1024 }));
      // Storage gauges, retention and the other workers follow through the held-packages view.
      this.deps.local.noteFilled(lowerId, lowerVersion, { bytes: result.bytes });
      metrics.blobFills.inc({ resource: 'nupkg', result: 'ok' });
      log.info({ lowerId, lowerVersion, bytes: result.bytes }, 'package filled');
    } catch (err) {
      spool.fail(err instanceof Error ? err : new Error(errorMessage(err)));
      if (!(err instanceof NotFound)) {
        metrics.blobFills.inc({ resource: 'nupkg', result: err instanceof UpstreamInvalid ? 'invalid' : 'error' });
        log.warn({ lowerId, lowerVersion, err: errorMessage(err) }, 'package fill failed; nothing cached');
        this.deps.fillFailures?.add({ atMs: Date.now(), lowerId, lowerVersion, file: 'nupkg', code: err instanceof ProxyError ? err.code : 'ERROR', reason: errorMessage(err) });
      }
      throw err;
    }
    // The spool's files go when the flight ends (ensure), after the commit above has read them.
  }

  /**
   * The cached .nupkg as a zip source, or null when the cache does not hold it. A fill of it in flight
   * here is waited for: its clients may have it complete before the commit (the nuspec or icon they ask
   * for next then comes out of it, not from upstream).
   */
  private async cachedNupkg(lowerId: string, lowerVersion: string): Promise<ZipSource | null> {
    const key = packageKey(lowerId, lowerVersion, 'nupkg');
    await this.fills.inFlight(key)?.catch(() => undefined);
    const stat = await this.deps.blobs.stat(key);
    return stat ? { blobs: this.deps.blobs, key, size: stat.size } : null;
  }

  private async fillNuspec(req: FlatFileRequest): Promise<void> {
    const { lowerId, lowerVersion } = req;
    const { blobs, metrics } = this.deps;
    const nupkg = await this.cachedNupkg(lowerId, lowerVersion);
    if (nupkg) {
      const m = await readNupkgManifest(nupkg);
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), m.nuspecXml, { ifAbsent: true });
      return;
    }
    const upstream = this.upstreamOrOffline(req);
    await this.checkNegative(req);
    const url = `${await this.flatBase()}${encodeURIComponent(lowerId)}/${lowerVersion}/${encodeURIComponent(lowerId)}.nuspec`;
    const result = await upstream.fetchDocument(url, { resource: 'nuspec' });
    if (result.kind !== 'ok') return this.rememberNotFound(req);
    try {
      const n = parseNuspec(result.body.toString('utf8'));
      if (toLowerId(n.id) !== lowerId || toLowerVersion(n.version) !== lowerVersion) throw new Error(`it describes ${n.id} ${n.fullVersion}`);
    } catch (err) {
      metrics.blobFills.inc({ resource: 'nuspec', result: 'invalid' });
      throw new UpstreamInvalid(`upstream nuspec for ${lowerId} ${lowerVersion} is invalid: ${errorMessage(err)}`);
    }
    await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), result.body, { ifAbsent: true });
    metrics.blobFills.inc({ resource: 'nuspec', result: 'ok' });
  }

  /** Icon or readme: out of the cached .nupkg when it embeds one, else from upstream (nuget.org copies external icons). */
  private async fillEmbedded(req: FlatFileRequest): Promise<void> {
    const { lowerId, lowerVersion, file } = req;
    const { blobs, metrics, temp } = this.deps;
    const nupkg = await this.cachedNupkg(lowerId, lowerVersion);
    if (nupkg) {
      try {
        const m = await readNupkgManifest(nupkg);
        const inPackage = file === 'icon' ? m.nuspec.iconFile : m.nuspec.readmeFile;
        const data = inPackage ? await readNupkgFile(nupkg, inPackage) : null;
        if (data) {
          await writeBlob(blobs, packageKey(lowerId, lowerVersion, file), data, { ifAbsent: true });
          metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'ok' });
          return;
        }
      } catch (err) {
        if (!(err instanceof NupkgError)) throw err;
      }
    }
    const upstream = this.upstreamOrOffline(req);
    await this.checkNegative(req);
    const url = `${await this.flatBase()}${encodeURIComponent(lowerId)}/${lowerVersion}/${file}`;
    const spool = temp.path(`${lowerId}.${lowerVersion}.${file}`);
    try {
      const result = await upstream.download(url, spool, { resource: RESOURCE_OF[file], maxBytes: 16 * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req);
      await writeBlobFrom(blobs, packageKey(lowerId, lowerVersion, file), createReadStream(spool), { ifAbsent: true });
      metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'ok' });
    } catch (err) {
      if (!(err instanceof ProxyError)) metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'error' });
      throw err;
    } finally {
      await temp.remove(spool);
    }
  }

  drain(): Promise<void> {
    return this.fills.drain();
  }
}
