// SearchQueryService and SearchAutocompleteService. One upstream and no policy: the whole query string
// forwarded to its endpoints (failing over between them), results rewritten and cached briefly. Several
// upstreams: every upstream is asked, each keeps only the ids that route to it (a public result for an id
// mapped to an internal feed is dropped), results are interleaved and the page cut again; the policy takes
// hidden versions out of every result. Offline, when no upstream has a search resource (many private and
// static feeds), or when upstream search fails with nothing cached, the proxy searches the packages it
// holds. Protocol digest §7, §8.

import { createHash } from 'node:crypto';
import type { Config } from '../config.ts';
import { BadRequest, NotFound, UpstreamUnavailable, errorMessage } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { CacheResult, Resource } from '../metrics.ts';
import { compareVersions, parseVersion, toLowerId, toLowerVersion, type NuGetVersion } from '../nuget/identity.ts';
import { autocomplete, parseSearchParams, searchPackages, type LocalPackage } from '../nuget/local-search.ts';
import { interleave, mergeSearchResults, resultVersions } from '../nuget/merge.ts';
import { PROXY_PATHS, registrationBasePath } from '../nuget/paths.ts';
import { BASE_MARKER } from '../nuget/rewrite.ts';
import type { RewritePool } from '../rewrite-pool.ts';
import { combinedCacheResult } from './documents.ts';
import type { Feed, Feeds } from './feeds.ts';
import { searchKey } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { PolicyGate } from './policy.ts';
import type { RequestContext } from './types.ts';

export type SearchKind = 'search' | 'autocomplete';

const MAX_QUERY_LENGTH = 4096;
/** Results asked of each upstream when merging (skip + take of the client, capped like nuget.org's take). */
const MAX_MERGE_TAKE = 1000;

export interface SearchDeps {
  readonly config: Pick<Config, 'offline'>;
  readonly feeds: Feeds;
  readonly local: LocalPackages;
  readonly rewriter: RewritePool;
  readonly policy: PolicyGate | null;
}

type Json = Record<string, unknown>;

function asObject(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

export class SearchResource {
  constructor(private readonly deps: SearchDeps) {}

  /** Every held package with its nuspecs (only versions its id may be served from now), for local search. */
  private async localPackages(rc: RequestContext): Promise<LocalPackage[]> {
    const { local, feeds, policy } = this.deps;
    const out: LocalPackage[] = [];
    for (const lowerId of await local.allIds()) {
      if (feeds.route(lowerId).length === 0) continue;
      let held = feeds.single ? await local.heldVersions(lowerId) : await local.heldVersionsFrom(lowerId, (source) => feeds.mayServe(lowerId, source));
      if (policy && held.length > 0) {
        const shown = new Set((await policy.visibleVersions(lowerId, held.map((h) => ({ lowerVersion: h.lowerVersion, version: h.version, feed: null })), rc)).versions);
        held = held.filter((h) => shown.has(h.lowerVersion));
      }
      const versions: Array<LocalPackage['versions'][number]> = [];
      for (const h of held) {
        const nuspec = await local.nuspec(lowerId, h.lowerVersion);
        if (nuspec) versions.push({ lowerVersion: h.lowerVersion, version: h.version, nuspec });
      }
      if (versions.length > 0) out.push({ lowerId, versions });
    }
    return out;
  }

  private async localReply(kind: SearchKind, querystring: string, hive: string, rc: RequestContext, warning?: string): Promise<Reply> {
    const query = new URLSearchParams(querystring);
    const packages = await this.localPackages(rc);
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

  /** One upstream's answer to `querystring` (cached briefly; never persisted). */
  private async ask(feed: Feed, kind: SearchKind, querystring: string) {
    const layout = await feed.index.requireLayout();
    const endpoints = kind === 'search' ? layout.search : layout.autocomplete;
    if (endpoints.length === 0) throw new NotFound(`upstream ${feed.name} has no ${kind} resource`);
    const key = searchKey(feed.name, kind, createHash('sha256').update(querystring).digest('hex'));
    const ttl = feed.spec.searchTtlSeconds;
    const result = await feed.docs.get({
      key,
      resource: kind satisfies Resource,
      freshMs: ttl * 1000,
      notFoundFreshMs: ttl * 1000,
      persist: false,
      sharedTtlMs: Math.max(60_000, ttl * 10_000),
      upstreamUrl: async () => endpoints.map((e) => (querystring ? `${e}${e.includes('?') ? '&' : '?'}${querystring}` : e)),
      transform: async (body) => (await this.deps.rewriter.rewrite(body, layout.rules)).text,
    });
    return { result, key, layout };
  }

  async query(kind: SearchKind, querystring: string, rc: RequestContext): Promise<Reply> {
    if (querystring.length > MAX_QUERY_LENGTH) throw new BadRequest(`query string longer than ${MAX_QUERY_LENGTH} characters`);
    const { config, feeds, policy } = this.deps;
    if (config.offline) {
      const layout = feeds.single ? await feeds.first.index.layout() : null;
      return this.localReply(kind, querystring, layout?.primaryHive ?? 'semver2', rc);
    }
    if (feeds.single && !policy) return this.single(feeds.first, kind, querystring, rc);
    return this.merged(kind, querystring, rc);
  }

  private async single(feed: Feed, kind: SearchKind, querystring: string, rc: RequestContext): Promise<Reply> {
    let layout;
    try {
      layout = await feed.index.requireLayout();
    } catch (err) {
      if (err instanceof UpstreamUnavailable) return this.localReply(kind, querystring, 'semver2', rc, `nuget-proxy: ${err.message}; searched the packages this proxy holds`);
      throw err;
    }
    // Upstream offers no search (many private and static feeds): the service index lists the proxy's own.
    const endpoints = kind === 'search' ? layout.search : layout.autocomplete;
    if (endpoints.length === 0) return this.localReply(kind, querystring, layout.primaryHive ?? 'semver2', rc);
    try {
      const { result, key } = await this.ask(feed, kind, querystring);
      if (result.entry.status === 404) throw new NotFound(`upstream ${kind} answered 404`);
      return {
        status: 200,
        resource: kind,
        cache: result.cache,
        body: { kind: 'json', stored: result.entry.body, renderKey: `${key}:${result.entry.fetchedAt}` },
        ...(result.warning ? { warnings: [result.warning] } : {}),
      };
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable)) throw err;
      rc.log.info({ kind }, 'upstream search unavailable; searching the disk cache');
      return this.localReply(kind, querystring, layout.primaryHive ?? 'semver2', rc, `nuget-proxy: ${err.message}; searched the packages this proxy holds`);
    }
  }

  /**
   * Every upstream's parsed answer (those that cannot answer are left out, with a warning); null when none
   * of them has a `kind` resource at all (then the proxy's own search answers, as the index promises).
   */
  private async askAll(feeds: readonly Feed[], kind: SearchKind, querystring: string, warnings: string[]): Promise<Array<{ feed: Feed; doc: Json; cache: CacheResult }> | null> {
    let offered = false;
    const answers = await Promise.all(
      feeds.map(async (feed) => {
        try {
          const layout = await feed.index.requireLayout();
          if ((kind === 'search' ? layout.search : layout.autocomplete).length === 0) return null;
          offered = true;
          const { result } = await this.ask(feed, kind, querystring);
          if (result.warning) warnings.push(result.warning);
          const doc = result.entry.status === 200 ? asObject(JSON.parse(result.entry.body)) : null;
          return doc ? { feed, doc, cache: result.cache } : null;
        } catch (err) {
          if (err instanceof NotFound) return null;
          if (!(err instanceof UpstreamUnavailable)) throw err;
          offered = true;
          warnings.push(`nuget-proxy: upstream ${feed.name} ${kind} unavailable (${errorMessage(err)}); its results are missing`);
          return null;
        }
      }),
    );
    if (!offered) return null;
    return answers.filter((a): a is { feed: Feed; doc: Json; cache: CacheResult } => a !== null);
  }

  /** A search result less the versions the policy hides (each judged as its upstream's); null when none is left. */
  private async filtered(lowerId: string, result: Json, sources: ReadonlyMap<string, Feed>, rc: RequestContext, warnings: string[]): Promise<Json | null> {
    const policy = this.deps.policy;
    if (!policy) return result;
    const entries = resultVersions(result).map((e) => ({ ...e, lowerVersion: toLowerVersion(e.version) }));
    const candidates = entries.map((e) => ({ lowerVersion: e.lowerVersion, version: e.version, feed: sources.get(e.lowerVersion) ?? null }));
    const shown = await policy.visibleVersions(lowerId, candidates, rc);
    warnings.push(...shown.warnings);
    const visible = new Set(shown.versions);
    const kept = entries.filter((e) => visible.has(e.lowerVersion));
    const top = [...kept].sort((a, b) => compareVersions(a.version, b.version)).pop();
    if (!top) return null;
    return { ...result, versions: kept.map((e) => e.o), version: top.o['version'] };
  }

  private async merged(kind: SearchKind, querystring: string, rc: RequestContext): Promise<Reply> {
    const { feeds } = this.deps;
    const params = new URLSearchParams(querystring);
    const warnings: string[] = [];
    const idParam = kind === 'autocomplete' ? params.get('id') : null;
    if (idParam !== null) return this.autocompleteVersions(idParam, querystring, rc);

    const skip = Math.max(0, Number(params.get('skip')) || 0);
    const take = Math.max(0, Math.min(Number(params.get('take') ?? 20) || 0, MAX_MERGE_TAKE));
    const wide = new URLSearchParams(params);
    wide.set('skip', '0');
    wide.set('take', String(Math.min(skip + take, MAX_MERGE_TAKE)));
    const answers = await this.askAll(feeds.all, kind, wide.toString(), warnings);
    if (answers === null) return this.localReply(kind, querystring, 'semver2', rc);
    if (answers.length === 0) {
      return this.localReply(kind, querystring, 'semver2', rc, warnings[0] ?? 'nuget-proxy: no upstream could search; searched the packages this proxy holds');
    }
    if (kind === 'search') {
      const merged = mergeSearchResults(
        answers.map(({ feed, doc }) => ({ source: feed, data: Array.isArray(doc['data']) ? (doc['data'] as unknown[]) : [] })),
        (lowerId) => feeds.route(lowerId),
      );
      let dropped = merged.dropped;
      const data: Json[] = [];
      for (const m of merged.results) {
        const f = await this.filtered(m.lowerId, m.result, m.sources, rc, warnings);
        if (f) data.push(f);
        else dropped++;
      }
      const total = answers.reduce((n, { doc }) => n + (typeof doc['totalHits'] === 'number' ? doc['totalHits'] : Array.isArray(doc['data']) ? doc['data'].length : 0), 0);
      const context = asObject(answers[0]?.doc['@context']) ?? { '@vocab': 'http://schema.nuget.org/schema#' };
      return this.reply(kind, { '@context': context, totalHits: Math.max(data.length, total - dropped), data: data.slice(skip, skip + take) }, warnings, combinedCacheResult(answers.map((a) => a.cache)));
    }
    const seen = new Set<string>();
    const perFeed: string[][] = [];
    for (const { feed, doc } of answers) {
      const kept: string[] = [];
      for (const id of Array.isArray(doc['data']) ? (doc['data'] as unknown[]) : []) {
        const lowerId = typeof id === 'string' ? toLowerId(id) : null;
        if (typeof id !== 'string' || !lowerId || !feeds.route(lowerId).includes(feed) || seen.has(lowerId)) continue;
        if (this.deps.policy?.idHidden(lowerId)) continue;
        seen.add(lowerId);
        kept.push(id);
      }
      perFeed.push(kept);
    }
    const ids = interleave(perFeed);
    return this.reply(kind, { '@context': { '@vocab': 'http://schema.nuget.org/schema#' }, totalHits: ids.length, data: ids.slice(skip, skip + take) }, warnings, combinedCacheResult(answers.map((a) => a.cache)));
  }

  /** `autocomplete?id=X`: X's versions from the upstreams X routes to, less what the policy hides. */
  private async autocompleteVersions(id: string, querystring: string, rc: RequestContext): Promise<Reply> {
    const lowerId = toLowerId(id.trim());
    if (!lowerId) throw new BadRequest(`'${id.slice(0, 120)}' is not a valid package id`);
    const warnings: string[] = [];
    const route = this.deps.feeds.route(lowerId);
    const answers = await this.askAll(route, 'autocomplete', querystring, warnings);
    if (answers === null) return this.localReply('autocomplete', querystring, 'semver2', rc);
    const owner = new Map<string, { text: string; version: NuGetVersion; feed: Feed }>();
    for (const { feed, doc } of answers) {
      for (const v of Array.isArray(doc['data']) ? (doc['data'] as unknown[]) : []) {
        const parsed = typeof v === 'string' ? parseVersion(v) : null;
        if (typeof v === 'string' && parsed && !owner.has(toLowerVersion(parsed))) owner.set(toLowerVersion(parsed), { text: v, version: parsed, feed });
      }
    }
    let entries = [...owner.entries()];
    if (this.deps.policy) {
      const shown = await this.deps.policy.visibleVersions(
        lowerId,
        entries.map(([lowerVersion, o]) => ({ lowerVersion, version: o.version, feed: o.feed })),
        rc,
      );
      warnings.push(...shown.warnings);
      const visible = new Set(shown.versions);
      entries = entries.filter(([v]) => visible.has(v));
    }
    const data = entries.sort((a, b) => compareVersions(a[1].version, b[1].version)).map(([, o]) => o.text);
    return this.reply('autocomplete', { '@context': { '@vocab': 'http://schema.nuget.org/schema#' }, totalHits: data.length, data }, warnings, combinedCacheResult(answers.map((a) => a.cache)));
  }

  private reply(kind: SearchKind, doc: Json, warnings: readonly string[], cache: CacheResult): Reply {
    return { status: 200, resource: kind, cache, body: { kind: 'json', stored: JSON.stringify(doc) }, ...(warnings.length > 0 ? { warnings: [...new Set(warnings)] } : {}) };
  }
}
