// One upstream's resource layout: its service index (cached, revalidated; the cached copy offline) parsed
// into the URLs every other resource builds upstream requests from, with the rules that rewrite them to
// the proxy. A folder upstream has a fixed layout (folder-upstream.ts).

import { UpstreamUnavailable } from '../errors.ts';
import type { CacheResult } from '../metrics.ts';
import { folderResources } from '../folder-upstream.ts';
import { buildRewriteRules, type PrefixRule } from '../nuget/rewrite.ts';
import { buildLayout, parseServiceIndex, type UpstreamLayout } from '../nuget/service-index.ts';
import type { DocumentCache } from './documents.ts';
import { serviceIndexKey } from './keys.ts';

export interface Layout extends UpstreamLayout {
  readonly rules: readonly PrefixRule[];
}

export interface UpstreamIndex {
  /** The upstream's layout (offline: the cached copy); null offline when nothing was ever cached. */
  layout(): Promise<Layout | null>;
  /** The layout, or a 5xx explaining why there is none. */
  requireLayout(): Promise<Layout>;
  /** The layout with how it was got (X-Cache), the warning of a stale copy, and until when the cached index
   *  is fresh, for the service index response. */
  fetchWithWarning(): Promise<{ layout: Layout; cache: CacheResult; warning?: string; freshUntilMs?: number }>;
}

/** A V3 feed's service index, cached under the upstream's key. */
export class FeedIndex implements UpstreamIndex {
  private memo: { body: string; layout: Layout } | null = null;

  constructor(
    private readonly deps: {
      readonly name: string;
      readonly url: string;
      readonly offline: boolean;
      readonly serviceIndexTtlSeconds: number;
      readonly notFoundTtlSeconds: number;
      readonly docs: DocumentCache;
    },
  ) {}

  private layoutOf(body: string): Layout {
    if (this.memo?.body === body) return this.memo.layout;
    const base = buildLayout(parseServiceIndex(JSON.parse(body)));
    const layout = { ...base, rules: buildRewriteRules(base) };
    this.memo = { body, layout };
    return layout;
  }

  async fetchWithWarning(): Promise<{ layout: Layout; cache: CacheResult; warning?: string; freshUntilMs?: number }> {
    const { docs, url, name } = this.deps;
    const result = await docs.get({
      key: serviceIndexKey(name),
      resource: 'service_index',
      freshMs: this.deps.serviceIndexTtlSeconds * 1000,
      notFoundFreshMs: this.deps.notFoundTtlSeconds * 1000,
      upstreamUrl: async () => url,
      transform: async (body) => {
        const text = body.toString('utf8');
        parseServiceIndex(JSON.parse(text));
        return text;
      },
    });
    if (result.entry.status !== 200) throw new UpstreamUnavailable(502, 'UPSTREAM_NO_INDEX', `upstream ${name} service index ${url} answered 404`);
    return {
      layout: this.layoutOf(result.entry.body),
      cache: result.cache,
      ...(result.warning ? { warning: result.warning } : {}),
      ...(result.freshUntilMs ? { freshUntilMs: result.freshUntilMs } : {}),
    };
  }

  async layout(): Promise<Layout | null> {
    if (this.deps.offline) {
      const cached = await this.deps.docs.peek(serviceIndexKey(this.deps.name));
      return cached?.status === 200 ? this.layoutOf(cached.body) : null;
    }
    return (await this.fetchWithWarning()).layout;
  }

  async requireLayout(): Promise<Layout> {
    const layout = await this.layout();
    if (!layout) throw new UpstreamUnavailable(503, 'OFFLINE_NO_INDEX', `offline and no service index of upstream ${this.deps.name} was ever cached`);
    return layout;
  }
}

/** A folder upstream: always the same resources. */
export class FolderIndex implements UpstreamIndex {
  private readonly fixed: Layout;

  constructor(name: string) {
    const base = buildLayout(folderResources(name));
    this.fixed = { ...base, rules: buildRewriteRules(base) };
  }

  async layout(): Promise<Layout> {
    return this.fixed;
  }

  async requireLayout(): Promise<Layout> {
    return this.fixed;
  }

  async fetchWithWarning(): Promise<{ layout: Layout; cache: CacheResult }> {
    return { layout: this.fixed, cache: 'hit' };
  }
}
