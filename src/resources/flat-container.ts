// PackageBaseAddress (flat container): version lists (metadata, TTL) and package files (immutable, on
// disk forever). A missing file is filled once (single-flight) into a temp file, verified, renamed into
// place and only then served; a client hanging up does not cancel the fill. Protocol digest §5.

import type { BlobStore } from '../cache/blob-store.ts';
import { LruCache } from '../cache/lru.ts';
import { SingleFlight } from '../cache/single-flight.ts';
import type { Config } from '../config.ts';
import { NotFound, ProxyError, UpstreamInvalid, UpstreamUnavailable, errorMessage } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { Logger } from '../logger.ts';
import type { CacheResult, Metrics, Resource } from '../metrics.ts';
import { normalizeLowerVersion, toLowerId, toLowerVersion, sortVersionStrings } from '../nuget/identity.ts';
import { parseNuspec } from '../nuget/nuspec.ts';
import { blobPath, sha512Path, type FlatFile, type FlatFileRequest } from '../nuget/paths.ts';
import { NupkgError, readNupkgFile, readNupkgManifest } from '../nupkg.ts';
import type { UpstreamClient } from '../upstream.ts';
import type { DocumentCache } from './documents.ts';
import { fileNotFoundKey, versionsKey } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { ServiceIndexResource } from './service-index.ts';
import type { RequestContext } from './types.ts';

const RESOURCE_OF: Record<FlatFile, Resource> = { nupkg: 'nupkg', nuspec: 'nuspec', icon: 'icon', readme: 'readme' };

export interface FlatContainerDeps {
  readonly config: Pick<Config, 'offline' | 'versionsTtlSeconds' | 'notFoundTtlSeconds' | 'maxPackageMb'>;
  readonly docs: DocumentCache;
  readonly index: ServiceIndexResource;
  readonly blobs: BlobStore;
  readonly local: LocalPackages;
  readonly upstream: UpstreamClient | null;
  readonly metrics: Metrics;
  readonly log: Logger;
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

function sniffImageType(data: Buffer): string {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (data.subarray(0, 4).equals(Buffer.from([0, 0, 1, 0]))) return 'image/x-icon';
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return 'application/octet-stream';
}

const CONTENT_TYPES: Record<FlatFile, string> = {
  nupkg: 'application/octet-stream',
  nuspec: 'text/xml; charset=utf-8',
  icon: 'application/octet-stream',
  readme: 'text/markdown; charset=utf-8',
};

export class FlatContainerResource {
  private readonly fills = new SingleFlight<void>();
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
    const rel = blobPath(lowerId, lowerVersion, file);
    let cache: CacheResult = 'hit';
    let stat = await this.deps.blobs.stat(rel);
    if (!stat) {
      cache = await this.ensure(req);
      stat = await this.deps.blobs.stat(rel);
      if (!stat) throw new NotFound(`${file} of ${lowerId} ${lowerVersion} is not available`);
    } else {
      this.deps.metrics.cacheLookups.inc({ resource, result: 'hit' });
    }
    let contentType = CONTENT_TYPES[file];
    if (file === 'icon') {
      contentType = sniffImageType(await this.deps.blobs.readHead(rel, 16));
    }
    let etag: string | undefined;
    if (file === 'nupkg') {
      const key = `${lowerId}/${lowerVersion}`;
      etag = this.etags.get(key);
      if (!etag) {
        const sha = await this.deps.blobs.read(sha512Path(lowerId, lowerVersion));
        if (sha) {
          etag = `"${sha.toString('utf8').trim()}"`;
          this.etags.set(key, etag);
        }
      }
    }
    const blobs = this.deps.blobs;
    return {
      status: 200,
      resource,
      cache,
      immutable: true,
      body: { kind: 'file', open: () => blobs.createReadStream(rel), size: stat.size, contentType, ...(etag ? { etag } : {}) },
    };
  }

  /** Makes the file exist on disk, or throws. Returns how it got there. */
  private async ensure(req: FlatFileRequest): Promise<CacheResult> {
    const { lowerId, lowerVersion, file } = req;
    const resource = RESOURCE_OF[file];
    const key = `${file}:${lowerId}/${lowerVersion}`;
    const { promise, shared } = this.fills.run(key, () => this.fill(req));
    await promise;
    const result: CacheResult = shared ? 'coalesced' : 'miss';
    this.deps.metrics.cacheLookups.inc({ resource, result });
    return result;
  }

  private async fill(req: FlatFileRequest): Promise<void> {
    const { file } = req;
    // A concurrent fill may have finished between our stat and taking the flight.
    if (await this.deps.blobs.exists(blobPath(req.lowerId, req.lowerVersion, file))) return;
    switch (file) {
      case 'nupkg':
        return this.fillNupkg(req);
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

  private async fillNupkg(req: FlatFileRequest): Promise<void> {
    const { lowerId, lowerVersion } = req;
    const upstream = this.upstreamOrOffline(req);
    await this.checkNegative(req);
    const url = `${await this.flatBase()}${encodeURIComponent(lowerId)}/${lowerVersion}/${encodeURIComponent(lowerId)}.${lowerVersion}.nupkg`;
    const { blobs, metrics, log } = this.deps;
    const tmp = blobs.tempPath(`${lowerId}.${lowerVersion}.nupkg`);
    try {
      const result = await upstream.download(url, tmp, { resource: 'nupkg', maxBytes: this.deps.config.maxPackageMb * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req);
      // Verify before anything becomes visible: a zip whose nuspec names this very package.
      let manifest;
      try {
        manifest = await readNupkgManifest(tmp);
      } catch (err) {
        throw new UpstreamInvalid(`upstream sent a corrupt package for ${lowerId} ${lowerVersion}: ${errorMessage(err)}`, { cause: err });
      }
      const gotId = toLowerId(manifest.nuspec.id);
      const gotVersion = toLowerVersion(manifest.nuspec.version);
      if (gotId !== lowerId || gotVersion !== lowerVersion) {
        throw new UpstreamInvalid(`upstream package for ${lowerId} ${lowerVersion} contains ${manifest.nuspec.id} ${manifest.nuspec.fullVersion}`);
      }
      await blobs.write(sha512Path(lowerId, lowerVersion), result.sha512);
      if (!(await blobs.exists(blobPath(lowerId, lowerVersion, 'nuspec')))) await blobs.write(blobPath(lowerId, lowerVersion, 'nuspec'), manifest.nuspecXml);
      await blobs.commit(tmp, blobPath(lowerId, lowerVersion, 'nupkg'));
      this.deps.local.noteFilled(lowerId, lowerVersion);
      metrics.blobFills.inc({ resource: 'nupkg', result: 'ok' });
      metrics.blobsOnDisk.inc();
      metrics.blobBytesOnDisk.inc(result.bytes);
      log.info({ lowerId, lowerVersion, bytes: result.bytes }, 'package filled');
    } catch (err) {
      if (!(err instanceof NotFound)) {
        metrics.blobFills.inc({ resource: 'nupkg', result: err instanceof UpstreamInvalid ? 'invalid' : 'error' });
        log.warn({ lowerId, lowerVersion, err: errorMessage(err) }, 'package fill failed; nothing cached');
      }
      throw err;
    } finally {
      await blobs.removeTemp(tmp);
    }
  }

  private async fillNuspec(req: FlatFileRequest): Promise<void> {
    const { lowerId, lowerVersion } = req;
    const { blobs, metrics } = this.deps;
    const nupkg = blobPath(lowerId, lowerVersion, 'nupkg');
    if (await blobs.exists(nupkg)) {
      const m = await readNupkgManifest(blobs.resolve(nupkg));
      await blobs.write(blobPath(lowerId, lowerVersion, 'nuspec'), m.nuspecXml);
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
    await blobs.write(blobPath(lowerId, lowerVersion, 'nuspec'), result.body);
    metrics.blobFills.inc({ resource: 'nuspec', result: 'ok' });
  }

  /** Icon or readme: out of the cached .nupkg when it embeds one, else from upstream (nuget.org copies external icons). */
  private async fillEmbedded(req: FlatFileRequest): Promise<void> {
    const { lowerId, lowerVersion, file } = req;
    const { blobs, metrics } = this.deps;
    const nupkg = blobPath(lowerId, lowerVersion, 'nupkg');
    if (await blobs.exists(nupkg)) {
      try {
        const m = await readNupkgManifest(blobs.resolve(nupkg));
        const inPackage = file === 'icon' ? m.nuspec.iconFile : m.nuspec.readmeFile;
        const data = inPackage ? await readNupkgFile(blobs.resolve(nupkg), inPackage) : null;
        if (data) {
          await blobs.write(blobPath(lowerId, lowerVersion, file), data);
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
    const tmp = blobs.tempPath(`${lowerId}.${lowerVersion}.${file}`);
    try {
      const result = await upstream.download(url, tmp, { resource: RESOURCE_OF[file], maxBytes: 16 * 1024 * 1024 });
      if (result.kind === 'not_found') return await this.rememberNotFound(req);
      await blobs.commit(tmp, blobPath(lowerId, lowerVersion, file));
      metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'ok' });
    } catch (err) {
      if (!(err instanceof ProxyError)) metrics.blobFills.inc({ resource: RESOURCE_OF[file], result: 'error' });
      throw err;
    } finally {
      await blobs.removeTemp(tmp);
    }
  }

  drain(): Promise<void> {
    return this.fills.drain();
  }
}
