// SearchQueryService and SearchAutocompleteService: the whole query string forwarded to upstream's
// endpoints (failing over between them), results rewritten and cached briefly. Offline, when upstream has no
// search resource, or when upstream search fails with nothing cached, the proxy searches the packages it
// holds. Protocol digest §7, §8.

import { createHash } from 'node:crypto';
import type { Config } from '../config.ts';
import { BadRequest, NotFound, UpstreamUnavailable } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { Resource } from '../metrics.ts';
import { autocomplete, parseSearchParams, searchPackages, type LocalPackage } from '../nuget/local-search.ts';
import { PROXY_PATHS, registrationBasePath } from '../nuget/paths.ts';
import { BASE_MARKER } from '../nuget/rewrite.ts';
import type { RewritePool } from '../rewrite-pool.ts';
import type { DocumentCache } from './documents.ts';
import { searchKey } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { ServiceIndexResource } from './service-index.ts';
import type { RequestContext } from './types.ts';

export type SearchKind = 'search' | 'autocomplete';

const MAX_QUERY_LENGTH = 4096;

export interface SearchDeps {
  readonly config: Pick<Config, 'offline' | 'searchTtlSeconds'>;
  readonly docs: DocumentCache;
  readonly index: ServiceIndexResource;
  readonly local: LocalPackages;
  readonly rewriter: RewritePool;
}

export class SearchResource {
  constructor(private readonly deps: SearchDeps) {}

  /** Every held package with its nuspecs, for local search. */
  private async localPackages(): Promise<LocalPackage[]> {
    const out: LocalPackage[] = [];
    for (const lowerId of await this.deps.local.allIds()) {
      const versions: Array<LocalPackage['versions'][number]> = [];
      for (const h of await this.deps.local.heldVersions(lowerId)) {
        const nuspec = await this.deps.local.nuspec(lowerId, h.lowerVersion);
        if (nuspec) versions.push({ lowerVersion: h.lowerVersion, version: h.version, nuspec });
      }
      if (versions.length > 0) out.push({ lowerId, versions });
    }
    return out;
  }

  private async localReply(kind: SearchKind, querystring: string, hive: string, warning?: string): Promise<Reply> {
    const query = new URLSearchParams(querystring);
    const packages = await this.localPackages();
    const doc =
      kind === 'search'
        ? searchPackages(packages, parseSearchParams(query), {
            regBase: BASE_MARKER + registrationBasePath(hive),
            flatBase: BASE_MARKER + PROXY_PATHS.flatContainer,
          })
        : autocomplete(packages, query);
    return {
      status: 200,
      resource: kind,
      cache: 'local',
      body: { kind: 'json', stored: JSON.stringify(doc) },
      ...(warning ? { warnings: [warning] } : {}),
    };
  }

  async query(kind: SearchKind, querystring: string, rc: RequestContext): Promise<Reply> {
    if (querystring.length > MAX_QUERY_LENGTH) throw new BadRequest(`query string longer than ${MAX_QUERY_LENGTH} characters`);
    const { config, docs, rewriter } = this.deps;
    if (config.offline) {
      const layout = await this.deps.index.layout();
      return this.localReply(kind, querystring, layout?.primaryHive ?? 'semver2');
    }
    let layout;
    try {
      layout = await this.deps.index.requireLayout();
    } catch (err) {
      if (err instanceof UpstreamUnavailable) return this.localReply(kind, querystring, 'semver2', `nuget-proxy: ${err.message}; searched the packages this proxy holds`);
      throw err;
    }
    const endpoints = kind === 'search' ? layout.search : layout.autocomplete;
    // Upstream offers no search (many private and static feeds): the service index lists the proxy's own.
    if (endpoints.length === 0) return this.localReply(kind, querystring, layout.primaryHive ?? 'semver2');
    const resource: Resource = kind;
    const key = searchKey(kind, createHash('sha256').update(querystring).digest('hex'));
    try {
      const result = await docs.get({
        key,
        resource,
        freshMs: config.searchTtlSeconds * 1000,
        notFoundFreshMs: config.searchTtlSeconds * 1000,
        persist: false,
        sharedTtlMs: Math.max(60_000, config.searchTtlSeconds * 10_000),
        upstreamUrl: async () => endpoints.map((e) => (querystring ? `${e}${e.includes('?') ? '&' : '?'}${querystring}` : e)),
        transform: async (body) => (await rewriter.rewrite(body, layout.rules)).text,
      });
      if (result.entry.status === 404) throw new NotFound(`upstream ${kind} answered 404`);
      return {
        status: 200,
        resource,
        cache: result.cache,
        body: { kind: 'json', stored: result.entry.body, renderKey: `${key}:${result.entry.fetchedAt}` },
        ...(result.warning ? { warnings: [result.warning] } : {}),
      };
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable)) throw err;
      rc.log.info({ kind }, 'upstream search unavailable; searching the disk cache');
      return this.localReply(kind, querystring, layout.primaryHive ?? 'semver2', `nuget-proxy: ${err.message}; searched the packages this proxy holds`);
    }
  }
}
