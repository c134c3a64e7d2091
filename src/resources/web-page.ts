// What the web page shows, as plain view models: status (upstreams, Redis, storage, traffic, fill
// failures), the catalog of cached packages, one package's details. It reads only what the cache holds —
// it never asks upstream and never fills anything — so the page works offline and cannot change the cache.

import { hostname } from 'node:os';
import type { Activity, FillFailure, TrafficSummary } from '../activity.ts';
import type { BreakerState, CircuitBreaker } from '../breaker.ts';
import type { Config } from '../config.ts';
import { NotFound } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { Logger } from '../logger.ts';
import { isPrerelease, toLowerId } from '../nuget/identity.ts';
import type { Nuspec } from '../nuget/nuspec.ts';
import { readNupkgFile } from '../nupkg.ts';
import type { SweepResult } from '../retention/sweeper.ts';
import { readBlob, type BlobStore } from '../storage/blob-store.ts';
import { packageKey } from '../storage/layout.ts';
import type { SharedState } from '../storage/metadata-store.ts';
import { sniffImageType } from './flat-container.ts';
import { defaultVersion, type CatalogPackage, type CatalogQuery, type CatalogVersion, type PackageCatalog } from './catalog.ts';
import type { LocalPackages } from './local-packages.ts';

export interface UpstreamHostStatus {
  readonly host: string;
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  readonly backoffMs: number;
  /** A recent request outlived the stale-wait deadline. */
  readonly slow: boolean;
}

export interface UpstreamStatus {
  readonly name: string;
  /** Its service index URL (or, for a folder upstream, the folder). */
  readonly source: string;
  /** The breaker of every host the proxy has called for it. */
  readonly hosts: readonly UpstreamHostStatus[];
}

/** What a policy says about a version; `blocked` versions are hidden or refused. */
export interface PolicyState {
  readonly label: string;
  readonly blocked: boolean;
}

/**
 * Facts the page shows that other parts of the proxy own. Today: one upstream, no policy. When several
 * upstreams (per-upstream breakers) or a policy exist, wire them in here; the page already has the columns.
 */
export interface WebFacts {
  upstreams(): readonly UpstreamStatus[];
  /** The upstream a held version came from; null when unknown (offline, imported from a bundle). */
  upstreamOf(lowerId: string, lowerVersion: string): string | null;
  /** null when no policy applies. */
  policyOf(lowerId: string, lowerVersion: string): PolicyState | null;
}

/** The facts of today's proxy: one upstream (named by its host), its breakers, no policy. */
export function singleUpstreamFacts(config: Pick<Config, 'upstream' | 'offline'>, breaker: Pick<CircuitBreaker, 'snapshot'>): WebFacts {
  const name = config.offline ? null : new URL(config.upstream).host;
  return {
    upstreams() {
      if (config.offline || name === null) return [];
      const snapshot = breaker.snapshot();
      const hosts: UpstreamHostStatus[] = Object.entries(snapshot).map(([host, s]) => ({ host, ...s }));
      if (!hosts.some((h) => h.host === name)) hosts.unshift({ host: name, state: 'closed', consecutiveFailures: 0, backoffMs: 0, slow: false });
      return [{ name, source: config.upstream, hosts }];
    },
    upstreamOf: () => name,
    policyOf: () => null,
  };
}

export interface StorageStatus {
  readonly description: string;
  readonly packages: number;
  readonly versions: number;
  /** Bytes under packages/ as the catalog last saw them. */
  readonly packageBytes: number;
  /** From this process's last retention sweep (packages and metadata), when one ran. */
  readonly sweep: { readonly usedBytes: number; readonly atMs: number; readonly evicted: number; readonly overQuota: boolean } | null;
  readonly quotaBytes: number | null;
  readonly evictUnusedDays: number | null;
}

export interface StatusView {
  readonly nowMs: number;
  /** host:pid — traffic and failures are this process's own. */
  readonly instance: string;
  readonly offline: boolean;
  readonly upstreams: readonly UpstreamStatus[];
  readonly redis: SharedState;
  readonly storage: StorageStatus;
  readonly traffic: TrafficSummary;
  readonly failures: readonly FillFailure[];
  /** null while the first listing of the store is still running. */
  readonly catalogBuiltAtMs: number | null;
  readonly catalogBuilding: boolean;
}

export interface PackageRow {
  readonly lowerId: string;
  /** The id as its nuspec writes it. */
  readonly id: string;
  readonly description: string;
  readonly latest: string;
  readonly versions: number;
  readonly bytes: number;
  readonly lastServedMs: number | null;
  readonly upstream: string | null;
  readonly policy: PolicyState | null;
}

export interface PackageListView {
  readonly query: CatalogQuery;
  readonly total: number;
  readonly pages: number;
  readonly rows: readonly PackageRow[];
  /** false while the first listing of the store has not finished. */
  readonly ready: boolean;
}

export interface VersionRow {
  readonly lowerVersion: string;
  readonly prerelease: boolean;
  readonly bytes: number;
  readonly nupkgBytes: number;
  readonly filledAtMs: number;
  readonly lastServedMs: number | null;
  readonly pinned: boolean;
  readonly upstream: string | null;
  readonly policy: PolicyState | null;
}

export interface DependencyView {
  readonly id: string;
  readonly range: string;
  /** Set when the cache holds this dependency (the page links to it). */
  readonly heldLowerId: string | null;
}

export interface PackageView {
  readonly lowerId: string;
  readonly id: string;
  readonly selected: VersionRow;
  /** The selected version as its nuspec writes it (with build metadata). */
  readonly fullVersion: string;
  /** Newest first. */
  readonly versions: readonly VersionRow[];
  readonly nuspec: Nuspec | null;
  readonly dependencyGroups: ReadonlyArray<{ readonly targetFramework: string; readonly dependencies: readonly DependencyView[] }>;
  /** Markdown as the package ships it; null when it has none the cache can read. */
  readonly readme: string | null;
  readonly licenseText: string | null;
  readonly hasIcon: boolean;
  readonly sha512: string | null;
}

export interface WebPageDeps {
  readonly config: Pick<Config, 'offline' | 'maxCacheSize' | 'evictUnusedDays'>;
  readonly catalog: PackageCatalog;
  readonly local: Pick<LocalPackages, 'nuspec'>;
  readonly blobs: BlobStore;
  readonly store: { checkShared(): Promise<SharedState> };
  readonly retention: { readonly lastSweep: (SweepResult & { readonly atMs: number }) | null };
  readonly activity: Activity;
  readonly facts: WebFacts;
  readonly log: Logger;
  readonly now?: () => number;
}

/** How long a page waits for the first listing of the store before it says "still reading". */
const FIRST_BUILD_WAIT_MS = 5000;
/** A readme or license larger than this is cut (nuget.org caps readmes at 1 MB). */
const MAX_TEXT_BYTES = 1024 * 1024;

function sliceText(data: Buffer | null): string | null {
  return data === null ? null : data.subarray(0, MAX_TEXT_BYTES).toString('utf8');
}

export class WebPageResource {
  private readonly now: () => number;
  private readonly instance = `${hostname()}:${process.pid}`;

  constructor(private readonly deps: WebPageDeps) {
    this.now = deps.now ?? Date.now;
  }

  async status(): Promise<StatusView> {
    const { catalog, config, activity, facts, retention } = this.deps;
    const [redis] = await Promise.all([this.deps.store.checkShared(), catalog.ready(FIRST_BUILD_WAIT_MS)]);
    const totals = catalog.totals();
    const sweep = retention.lastSweep;
    return {
      nowMs: this.now(),
      instance: this.instance,
      offline: config.offline,
      upstreams: facts.upstreams(),
      redis,
      storage: {
        description: this.deps.blobs.description,
        packages: totals.packages,
        versions: totals.versions,
        packageBytes: totals.bytes,
        sweep: sweep ? { usedBytes: sweep.usedBytes, atMs: sweep.atMs, evicted: sweep.evicted.length, overQuota: sweep.overQuota } : null,
        quotaBytes: config.maxCacheSize,
        evictUnusedDays: config.evictUnusedDays,
      },
      traffic: activity.traffic.summary(),
      failures: activity.failures.list(),
      catalogBuiltAtMs: totals.builtAtMs,
      catalogBuilding: totals.building,
    };
  }

  private versionRow(p: CatalogPackage, v: CatalogVersion): VersionRow {
    const { facts, catalog } = this.deps;
    return {
      lowerVersion: v.lowerVersion,
      prerelease: isPrerelease(v.version),
      bytes: v.bytes,
      nupkgBytes: v.nupkgBytes,
      filledAtMs: v.filledAtMs,
      lastServedMs: catalog.lastServed(p.lowerId, v.lowerVersion),
      pinned: v.pinned,
      upstream: facts.upstreamOf(p.lowerId, v.lowerVersion),
      policy: facts.policyOf(p.lowerId, v.lowerVersion),
    };
  }

  async packages(query: CatalogQuery): Promise<PackageListView> {
    const { catalog, local, facts } = this.deps;
    const ready = await catalog.ready(FIRST_BUILD_WAIT_MS);
    const page = catalog.query(query);
    // Display ids and descriptions come from the nuspecs of the rows shown (cached in memory).
    const rows = await Promise.all(
      page.packages.map(async (p): Promise<PackageRow> => {
        const latest = defaultVersion(p) as CatalogVersion;
        const nuspec = await local.nuspec(p.lowerId, latest.lowerVersion);
        return {
          lowerId: p.lowerId,
          id: nuspec?.id ?? p.lowerId,
          description: (nuspec?.summary || nuspec?.description || '').slice(0, 300),
          latest: nuspec?.fullVersion ?? latest.lowerVersion,
          versions: p.versions.length,
          bytes: p.bytes,
          lastServedMs: catalog.lastServed(p.lowerId),
          upstream: facts.upstreamOf(p.lowerId, latest.lowerVersion),
          policy: facts.policyOf(p.lowerId, latest.lowerVersion),
        };
      }),
    );
    return { query, total: page.total, pages: Math.max(1, Math.ceil(page.total / query.pageSize)), rows, ready };
  }

  /** One held package; `lowerVersion` null picks the newest stable version. Throws NotFound. */
  async package(lowerId: string, lowerVersion: string | null): Promise<PackageView> {
    const { catalog, local, blobs } = this.deps;
    await catalog.ready(FIRST_BUILD_WAIT_MS);
    const p = catalog.get(lowerId);
    if (!p) throw new NotFound(`package '${lowerId}' is not in this cache`);
    const chosen = lowerVersion === null ? defaultVersion(p) : p.versions.find((v) => v.lowerVersion === lowerVersion);
    if (!chosen) throw new NotFound(`version '${lowerVersion ?? ''}' of '${lowerId}' is not in this cache`);
    const nuspec = await local.nuspec(lowerId, chosen.lowerVersion);
    const nupkg = { blobs, key: packageKey(lowerId, chosen.lowerVersion, 'nupkg'), size: chosen.nupkgBytes };
    const readme = await this.packageText(lowerId, chosen, 'readme', nuspec?.readmeFile ?? '', nupkg);
    const licenseText = nuspec?.licenseFile ? await this.packageText(lowerId, chosen, null, nuspec.licenseFile, nupkg) : null;
    const sha = await readBlob(blobs, packageKey(lowerId, chosen.lowerVersion, 'sha512'), 1024).catch(() => null);
    const dependencyGroups = (nuspec?.dependencyGroups ?? []).map((g) => ({
      targetFramework: g.targetFramework,
      dependencies: g.dependencies.map((d) => {
        const depLower = toLowerId(d.id);
        return { id: d.id, range: d.range, heldLowerId: depLower !== null && catalog.get(depLower) ? depLower : null };
      }),
    }));
    const versions = [...p.versions].reverse().map((v) => this.versionRow(p, v));
    return {
      lowerId,
      id: nuspec?.id ?? lowerId,
      selected: this.versionRow(p, chosen),
      fullVersion: nuspec?.fullVersion ?? chosen.lowerVersion,
      versions,
      nuspec,
      dependencyGroups,
      readme,
      licenseText,
      hasIcon: chosen.files.has('icon') || Boolean(nuspec?.iconFile),
      sha512: sha ? sha.toString('utf8').trim() : null,
    };
  }

  /** A readme or license: the extracted file when the cache has one, else read out of the cached .nupkg. */
  private async packageText(
    lowerId: string,
    v: CatalogVersion,
    extracted: 'readme' | null,
    inPackage: string,
    nupkg: { blobs: BlobStore; key: string; size: number },
  ): Promise<string | null> {
    try {
      if (extracted && v.files.has(extracted)) return sliceText(await readBlob(this.deps.blobs, packageKey(lowerId, v.lowerVersion, extracted), MAX_TEXT_BYTES * 8));
      if (!inPackage) return null;
      return sliceText(await readNupkgFile(nupkg, inPackage));
    } catch (err) {
      this.deps.log.warn({ lowerId, lowerVersion: v.lowerVersion, file: inPackage, err: (err as Error).message }, 'web page: cannot read a file of a cached package');
      return null;
    }
  }

  /** The icon of a held version, from the cache only (extracted file, else out of the .nupkg). */
  async icon(lowerId: string, lowerVersion: string): Promise<Reply> {
    const { catalog, local, blobs } = this.deps;
    await catalog.ready(FIRST_BUILD_WAIT_MS);
    const v = catalog.get(lowerId)?.versions.find((x) => x.lowerVersion === lowerVersion);
    if (!v) throw new NotFound(`version '${lowerVersion}' of '${lowerId}' is not in this cache`);
    let data: Buffer | null = null;
    try {
      if (v.files.has('icon')) data = await readBlob(blobs, packageKey(lowerId, lowerVersion, 'icon'), 2 * 1024 * 1024);
      if (!data) {
        const iconFile = (await local.nuspec(lowerId, lowerVersion))?.iconFile;
        if (iconFile) data = await readNupkgFile({ blobs, key: packageKey(lowerId, lowerVersion, 'nupkg'), size: v.nupkgBytes }, iconFile);
      }
    } catch (err) {
      this.deps.log.warn({ lowerId, lowerVersion, err: (err as Error).message }, 'web page: cannot read a cached icon');
    }
    const contentType = data ? sniffImageType(data) : null;
    // Only bytes that are an image the page can show; nothing else is served under the page's origin.
    if (!data || !contentType?.startsWith('image/')) throw new NotFound(`no icon for '${lowerId}' ${lowerVersion} in this cache`);
    return { status: 200, resource: 'web', body: { kind: 'bytes', data, contentType }, headers: { 'Cache-Control': 'private, max-age=3600' } };
  }
}
