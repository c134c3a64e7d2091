// PackageBaseAddress (flat container): version lists (metadata, TTL) and package files (immutable, kept
// until retention evicts them). A missing file is filled once — single-flight in this process, and one
// fill across processes and replicas through the fill coordinator — into a local spool file, verified,
// committed to the blob store and only then served; a client hanging up does not cancel the fill.
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
import { normalizeLowerVersion, toLowerId, toLowerVersion, sortVersionStrings } from '../nuget/identity.ts';
import { parseNuspec } from '../nuget/nuspec.ts';
import type { FlatFile, FlatFileRequest } from '../nuget/paths.ts';
import { NupkgError, readNupkgFile, readNupkgManifest, type ZipSource } from '../nupkg.ts';
import { asStorageError, readBlob, writeBlob, writeBlobFrom, type BlobStore } from '../storage/blob-store.ts';
import { packageKey } from '../storage/layout.ts';
import type { LocalTemp } from '../storage/local-temp.ts';
import type { UpstreamClient } from '../upstream.ts';
import type { DocumentCache } from './documents.ts';
import { fileNotFoundKey, versionsKey } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { AccessLog } from '../retention/access-log.ts';
import type { Sweeper } from '../retention/sweeper.ts';
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
  readonly retention: Pick<Sweeper, 'noteAdded'>;
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
  private readonly fills = new SingleFlight<FillResult>();
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

  /** `{id}/{version}/{file}` for GET and HEAD. */
  async file(req: FlatFileRequest): Promise<Reply> {
    const { lowerId, lowerVersion, file } = req;
    const resource = RESOURCE_OF[file];
    const key = packageKey(lowerId, lowerVersion, file);
    let cache: CacheResult = 'hit';
    let stat = await this.deps.blobs.stat(key);
    if (!stat) {
      cache = await this.ensure(req);
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

  /** Makes the file exist in the blob store, or throws. Returns how it got there. */
  private async ensure(req: FlatFileRequest): Promise<CacheResult> {
    const { lowerId, lowerVersion, file } = req;
    const key = packageKey(lowerId, lowerVersion, file);
    const job = {
      fill: () => this.fill(req),
      done: async () => (await this.deps.blobs.stat(key)) !== null,
    };
    const { promise, shared } = this.fills.run(key, () => this.deps.fillCoordinator.run(key, job));
    const outcome = await promise;
    // Only the request that made this process fill counts as the miss; the rest waited for a fill here or
    // in another replica.
    const result: CacheResult = shared || outcome === 'found' ? 'coalesced' : 'miss';
    this.deps.metrics.cacheLookups.inc({ resource: RESOURCE_OF[file], result });
    return result;
  }

  private async fill(req: FlatFileRequest): Promise<void> {
    try {
      switch (req.file) {
        case 'nupkg':
          return await this.fillNupkg(req);
        case 'nuspec':
          return await this.fillNuspec(req);
        case 'icon':
        case 'readme':
          return await this.fillEmbedded(req);
      }
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
    metrics.storageErrors.inc({ operation: 'fill', code: storage.code });
    log.error({ lowerId: req.lowerId, lowerVersion: req.lowerVersion, file: req.file, code: storage.code, err: storage.message, cache: blobs.description }, 'cache not writable: fill failed');
    return new CacheUnavailable(storage.code, blobs.description, { cause: storage });
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

  private async fillNupkg(req: FlatFileRequest): Promise<void> {
    const { lowerId, lowerVersion } = req;
    const upstream = this.upstreamOrOffline(req);
    await this.checkNegative(req);
    const url = `${await this.flatBase()}${encodeURIComponent(lowerId)}/${lowerVersion}/${encodeURIComponent(lowerId)}.${lowerVersion}.nupkg`;
    const { blobs, metrics, log, temp } = this.deps;
    const spool = temp.path(`${lowerId}.${lowerVersion}.nupkg`);
    try {
      const result = await upstream.download(url, spool, { resource: 'nupkg', maxBytes: this.deps.config.maxPackageMb * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req);
      // Verify before anything becomes visible: a zip whose nuspec names this very package.
      let manifest;
      try {
        manifest = await readNupkgManifest(spool);
      } catch (err) {
        throw new UpstreamInvalid(`upstream sent a corrupt package for ${lowerId} ${lowerVersion}: ${errorMessage(err)}`, { cause: err });
      }
      const gotId = toLowerId(manifest.nuspec.id);
      const gotVersion = toLowerVersion(manifest.nuspec.version);
      if (gotId !== lowerId || gotVersion !== lowerVersion) {
        throw new UpstreamInvalid(`upstream package for ${lowerId} ${lowerVersion} contains ${manifest.nuspec.id} ${manifest.nuspec.fullVersion}`);
      }
      // The .nupkg last: once it is visible, its .sha512 and .nuspec are there too.
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'sha512'), result.sha512);
      await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'nuspec'), manifest.nuspecXml, { ifAbsent: true });
      await writeBlobFrom(blobs, packageKey(lowerId, lowerVersion, 'nupkg'), createReadStream(spool, { highWaterMark: 1024 * 1024 }));
      this.deps.local.noteFilled(lowerId, lowerVersion);
      metrics.blobFills.inc({ resource: 'nupkg', result: 'ok' });
      metrics.blobsOnDisk.inc();
      metrics.blobBytesOnDisk.inc(result.bytes);
      this.deps.retention.noteAdded(result.bytes);
      log.info({ lowerId, lowerVersion, bytes: result.bytes }, 'package filled');
    } catch (err) {
      if (!(err instanceof NotFound)) {
        metrics.blobFills.inc({ resource: 'nupkg', result: err instanceof UpstreamInvalid ? 'invalid' : 'error' });
        log.warn({ lowerId, lowerVersion, err: errorMessage(err) }, 'package fill failed; nothing cached');
        this.deps.fillFailures?.add({ atMs: Date.now(), lowerId, lowerVersion, file: 'nupkg', code: err instanceof ProxyError ? err.code : 'ERROR', reason: errorMessage(err) });
      }
      throw err;
    } finally {
      await temp.remove(spool);
    }
  }

  /** The cached .nupkg as a zip source, or null when the cache does not hold it. */
  private async cachedNupkg(lowerId: string, lowerVersion: string): Promise<ZipSource | null> {
    const key = packageKey(lowerId, lowerVersion, 'nupkg');
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
