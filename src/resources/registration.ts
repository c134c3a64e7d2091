// RegistrationsBaseUrl: index, pages and leaves for every hive. One upstream and no policy: its documents
// pass through (rewritten). Several upstreams for an id, or a policy: the leaves of every upstream the id
// routes to are merged — an exact version comes from the first upstream that has it — less the versions
// the policy hides, and paged again in nuget.org's shapes (every URL pointing at the proxy; `published` and
// the rest of each leaf kept). Offline — or with upstream gone and nothing cached — registration is
// synthesized from the packages held, reusing cached upstream leaves where they exist, and lists only
// versions the proxy can deliver. Protocol digest §6 and §16 (14–19).

import type { Config } from '../config.ts';
import { BadRequest, NotFound, UpstreamUnavailable } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { CacheResult } from '../metrics.ts';
import { isSemVer2, parseVersion } from '../nuget/identity.ts';
import { isSemVer1Leaf, nuspecCatalogEntry, registrationDocuments, type LeafItem } from '../nuget/registration-synthesis.ts';
import { PROXY_PATHS, parseRegistrationPath, registrationBasePath, registrationRelativePath, type RegistrationPath } from '../nuget/paths.ts';
import { BASE_MARKER } from '../nuget/rewrite.ts';
import { combinedCacheResult } from './documents.ts';
import type { Feed, Feeds } from './feeds.ts';
import { registrationKey } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { PolicyGate } from './policy.ts';
import { leafPublished, type RegistrationDocs } from './registration-docs.ts';
import type { RequestContext } from './types.ts';

export { pageOfStoredId, separatePagesOf } from './registration-docs.ts';

export interface RegistrationDeps {
  readonly config: Pick<Config, 'offline'>;
  readonly feeds: Feeds;
  readonly docs: RegistrationDocs;
  readonly local: LocalPackages;
  readonly policy: PolicyGate | null;
}

export const KNOWN_HIVES = ['semver2', 'gz-semver1', 'semver1'] as const;

/** SemVer 2 hives list every version; the others leave SemVer 2 versions out (protocol digest §3.5). */
function isSemVer2Hive(hive: string): boolean {
  return hive === 'semver2' || hive.startsWith('semver2-');
}

/** A leaf item re-pointed at the hive it is served from (the merged documents are the proxy's own). */
function atHive(leaf: LeafItem, regBase: string, lowerId: string, lowerVersion: string): LeafItem {
  return { ...leaf, '@id': `${regBase}${lowerId}/${lowerVersion}.json`, registration: `${regBase}${lowerId}/index.json` };
}

interface Candidate {
  readonly leaf: LeafItem;
  readonly feed: Feed | null;
  /** null when the date is not known (a leaf synthesized from a nuspec). */
  readonly published: Date | null;
}

export class RegistrationResource {
  constructor(private readonly deps: RegistrationDeps) {}

  async serve(hive: string, segments: readonly string[], rc: RequestContext): Promise<Reply> {
    const parsed = parseRegistrationPath(segments);
    if (!parsed.ok) throw parsed.status === 400 ? new BadRequest(parsed.message) : new NotFound(parsed.message);
    const path = parsed.value;
    const route = this.deps.feeds.requireRoute(path.lowerId);
    if (this.deps.config.offline) return this.synthesizedReply(hive, path, route, rc);
    const only = route.length === 1 ? route[0] : undefined;
    if (only && !this.deps.policy) return this.passthrough(only, hive, path, rc);
    return this.merged(hive, path, route, rc);
  }

  /** One upstream, no policy: its document, as cached. */
  private async passthrough(feed: Feed, hive: string, path: RegistrationPath, rc: RequestContext): Promise<Reply> {
    const rel = registrationRelativePath(path);
    let layout;
    try {
      layout = await feed.index.requireLayout();
    } catch (err) {
      if (err instanceof UpstreamUnavailable) return this.synthesizedReply(hive, path, [feed], rc, err);
      throw err;
    }
    if (!layout.hives.has(hive)) throw new NotFound(`unknown registration hive '${hive}'`);
    try {
      const result = await this.deps.docs.get(feed, layout, hive, path);
      if (result.entry.status === 404) throw new NotFound(`registration document ${rel} was not found upstream`);
      return {
        status: 200,
        resource: 'registration',
        cache: result.cache,
        body: { kind: 'json', stored: result.entry.body, renderKey: `${registrationKey(feed.name, hive, rel)}:${result.entry.fetchedAt}` },
        ...(result.warning ? { warnings: [result.warning] } : {}),
        ...(result.freshUntilMs ? { freshUntilMs: result.freshUntilMs } : {}),
      };
    } catch (err) {
      if (err instanceof UpstreamUnavailable) {
        rc.log.info({ hive, rel }, 'upstream unavailable; synthesizing registration from the disk cache');
        return this.synthesizedReply(hive, path, [feed], rc, err);
      }
      throw err;
    }
  }

  /** Every routed upstream's leaves, first upstream wins per version; policy applied; paged again. */
  private async merged(hive: string, path: RegistrationPath, route: readonly Feed[], rc: RequestContext): Promise<Reply> {
    if (!this.knownHive(hive)) throw new NotFound(`unknown registration hive '${hive}'`);
    const results = await Promise.all(
      route.map(async (feed) => {
        try {
          return { feed, r: await this.deps.docs.leaves(feed, hive, path.lowerId), error: null };
        } catch (err) {
          if (!(err instanceof UpstreamUnavailable)) throw err;
          return { feed, r: null, error: err };
        }
      }),
    );
    const candidates = new Map<string, Candidate>();
    const warnings: string[] = [];
    let found = false;
    const caches: CacheResult[] = [];
    for (const { feed, r, error } of results) {
      if (error) {
        // This upstream cannot answer: what the proxy holds from it stands in, as offline.
        const held = await this.heldCandidates(path.lowerId, [feed], hive);
        if (held.size === 0) continue;
        found = true;
        caches.push('local');
        warnings.push(`nuget-proxy: upstream ${feed.name} unavailable (${error.message}); its versions come from the packages this proxy holds`);
        for (const [v, c] of held) if (!candidates.has(v)) candidates.set(v, c);
        continue;
      }
      if (!r) continue;
      found = true;
      if (r.cache) caches.push(r.cache);
      if (r.warning) warnings.push(r.warning);
      for (const [v, leaf] of r.leaves) if (!candidates.has(v)) candidates.set(v, { leaf, feed, published: leafPublished(leaf) });
    }
    if (!found) {
      const failed = results.find((x) => x.error)?.error;
      if (failed) throw failed;
      throw new NotFound(`registration of '${path.lowerId}' was not found upstream`);
    }
    const stored = await this.render(hive, path, candidates, rc, warnings);
    if (stored === null) throw new NotFound(`registration document ${registrationRelativePath(path)} does not exist`);
    return { status: 200, resource: 'registration', cache: combinedCacheResult(caches), body: { kind: 'json', stored }, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  private knownHive(hive: string): boolean {
    if ((KNOWN_HIVES as readonly string[]).includes(hive)) return true;
    return /^(semver2|gz-semver1|semver1)-[0-9]+$/.test(hive);
  }

  /** Index, page or leaf of the merged candidates after the hive's SemVer filter and the policy. */
  private async render(hive: string, path: RegistrationPath, candidates: Map<string, Candidate>, rc: RequestContext, warnings: string[]): Promise<string | null> {
    const regBase = BASE_MARKER + registrationBasePath(hive);
    let entries = [...candidates.entries()].filter(([, c]) => isSemVer2Hive(hive) || isSemVer1Leaf(c.leaf));
    const policy = this.deps.policy;
    if (policy) {
      const shown = await policy.visibleVersions(
        path.lowerId,
        entries.flatMap(([lowerVersion, c]) => {
          const version = parseVersion(String(c.leaf.catalogEntry['version']));
          return version ? [{ lowerVersion, version, feed: c.feed, published: c.published }] : [];
        }),
        rc,
      );
      const visible = new Set(shown.versions);
      entries = entries.filter(([v]) => visible.has(v));
      warnings.push(...shown.warnings);
    }
    if (entries.length === 0) return null;
    const leaves = entries.map(([v, c]) => atHive(c.leaf, regBase, path.lowerId, v));
    const docs = registrationDocuments(path.lowerId, leaves, { regBase });
    switch (path.kind) {
      case 'index':
        return JSON.stringify(docs.index);
      case 'page': {
        const page = docs.pages.find((p) => p.lower === path.lower && p.upper === path.upper);
        return page ? JSON.stringify(page.document) : null;
      }
      case 'leaf': {
        const leaf = docs.leaves.get(path.lowerVersion);
        return leaf ? JSON.stringify(leaf) : null;
      }
    }
  }

  /**
   * Candidates from the packages the proxy holds for `lowerId` from `from` (its source markers), each with
   * the cached upstream leaf of its source where one exists, else one built from its nuspec.
   */
  private async heldCandidates(lowerId: string, from: readonly Feed[], hive: string): Promise<Map<string, Candidate>> {
    const { feeds, local } = this.deps;
    const names = new Set(from.map((f) => f.name));
    const held = feeds.single
      ? await local.heldVersions(lowerId)
      : await local.heldVersionsFrom(lowerId, (source) => feeds.mayServe(lowerId, source) && source !== null && names.has(source));
    const out = new Map<string, Candidate>();
    if (held.length === 0) return out;
    const cached = new Map<string, Map<string, LeafItem>>();
    for (const feed of from) cached.set(feed.name, (await this.deps.docs.cachedLeaves(feed, hive, lowerId))?.leaves ?? new Map());
    const regBase = BASE_MARKER + registrationBasePath(hive);
    const flatBase = BASE_MARKER + PROXY_PATHS.flatContainer;
    for (const h of held) {
      if (!isSemVer2Hive(hive) && isSemVer2(h.version)) continue;
      const source = feeds.single ? from[0]?.name : await local.source(lowerId, h.lowerVersion);
      const feed = from.find((f) => f.name === source) ?? null;
      const fromUpstream = feed ? cached.get(feed.name)?.get(h.lowerVersion) : undefined;
      if (fromUpstream) {
        out.set(h.lowerVersion, { leaf: fromUpstream, feed, published: leafPublished(fromUpstream) });
        continue;
      }
      const nuspec = await local.nuspec(lowerId, h.lowerVersion);
      if (nuspec) out.set(h.lowerVersion, { leaf: nuspecCatalogEntry(nuspec, { regBase, flatBase }), feed, published: null });
    }
    return out;
  }

  /** Registration built from the disk cache; null when the proxy holds no version of the package. */
  async synthesize(hive: string, path: RegistrationPath, route: readonly Feed[], rc: RequestContext, warnings: string[] = []): Promise<string | null> {
    if (!this.knownHive(hive)) return null;
    const candidates = await this.heldCandidates(path.lowerId, route, hive);
    if (candidates.size === 0) return null;
    return this.render(hive, path, candidates, rc, warnings);
  }

  private async synthesizedReply(hive: string, path: RegistrationPath, route: readonly Feed[], rc: RequestContext, upstreamProblem?: UpstreamUnavailable): Promise<Reply> {
    const warnings: string[] = [];
    const stored = await this.synthesize(hive, path, route, rc, warnings);
    if (stored === null) {
      // Nothing to build it from: upstream's failure as it was (502, 503 or 504, like every resource).
      if (upstreamProblem) throw upstreamProblem;
      throw new NotFound(`'${path.lowerId}' (${path.kind}) is not in this offline cache`);
    }
    if (upstreamProblem) warnings.unshift(`nuget-proxy: ${upstreamProblem.message}; registration built from the packages this proxy holds`);
    return { status: 200, resource: 'registration', cache: 'local', body: { kind: 'json', stored }, ...(warnings.length > 0 ? { warnings } : {}) };
  }
}

