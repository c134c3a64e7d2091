// The service index: upstream's (cached, revalidated) turned into the proxy's; and the parsed upstream
// layout every other resource uses to build upstream URLs. Offline, or with upstream gone and nothing
// cached, the proxy describes itself.

import type { Config } from '../config.ts';
import { UpstreamUnavailable } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { CacheResult } from '../metrics.ts';
import {
  buildClientIndex,
  buildLayout,
  offlineResources,
  parseServiceIndex,
  type UpstreamLayout,
} from '../nuget/service-index.ts';
import { buildRewriteRules, type PrefixRule } from '../nuget/rewrite.ts';
import type { DocumentCache } from './documents.ts';
import { SERVICE_INDEX_KEY } from './keys.ts';
import type { RequestContext } from './types.ts';

export { SERVICE_INDEX_KEY } from './keys.ts';

export interface Layout extends UpstreamLayout {
  readonly rules: readonly PrefixRule[];
}

export class ServiceIndexResource {
  private memo: { body: string; layout: Layout } | null = null;

  constructor(
    private readonly deps: {
      config: Pick<Config, 'upstream' | 'offline' | 'serviceIndexTtlSeconds' | 'notFoundTtlSeconds'>;
      docs: DocumentCache;
      /** Whether mirrored vulnerability data exists (offline: decides whether to advertise it). */
      hasVulnerabilityData: () => Promise<boolean>;
      /** RepositorySignatures versions mirrored locally (offline: only these are advertised). */
      cachedSignatureVersions: (versions: Iterable<string>) => Promise<Set<string>>;
    },
  ) {}

  private layoutOf(body: string): Layout {
    if (this.memo?.body === body) return this.memo.layout;
    const base = buildLayout(parseServiceIndex(JSON.parse(body)));
    const layout = { ...base, rules: buildRewriteRules(base) };
    this.memo = { body, layout };
    return layout;
  }

  private async fetch(): Promise<{ layout: Layout; cache: CacheResult; warning?: string }> {
    const { config, docs } = this.deps;
    const result = await docs.get({
      key: SERVICE_INDEX_KEY,
      resource: 'service_index',
      freshMs: config.serviceIndexTtlSeconds * 1000,
      notFoundFreshMs: config.notFoundTtlSeconds * 1000,
      upstreamUrl: async () => config.upstream,
      transform: async (body) => {
        const text = body.toString('utf8');
        parseServiceIndex(JSON.parse(text));
        return text;
      },
    });
    if (result.entry.status !== 200) throw new UpstreamUnavailable(502, 'UPSTREAM_NO_INDEX', `upstream service index ${config.upstream} answered 404`);
    return { layout: this.layoutOf(result.entry.body), cache: result.cache, ...(result.warning ? { warning: result.warning } : {}) };
  }

  /** The upstream layout (cached copy offline); null offline when nothing was ever cached. */
  async layout(): Promise<Layout | null> {
    if (this.deps.config.offline) {
      const cached = await this.deps.docs.peek(SERVICE_INDEX_KEY);
      return cached?.status === 200 ? this.layoutOf(cached.body) : null;
    }
    return (await this.fetch()).layout;
  }

  /** The upstream layout or a 5xx explaining why there is none. */
  async requireLayout(): Promise<Layout> {
    const layout = await this.layout();
    if (!layout) throw new UpstreamUnavailable(503, 'OFFLINE_NO_INDEX', 'offline and no upstream service index was ever cached');
    return layout;
  }

  async serve(rc: RequestContext): Promise<Reply> {
    let layout: Layout | null = null;
    let warning: string | undefined;
    let cache: CacheResult = 'hit';
    if (this.deps.config.offline) {
      layout = await this.layout();
    } else {
      try {
        const r = await this.fetch();
        layout = r.layout;
        warning = r.warning;
        cache = r.cache;
      } catch (err) {
        // Upstream gone and never cached: still describe what the proxy can serve from its disk.
        warning = `nuget-proxy: upstream service index unavailable (${(err as Error).message}); serving the proxy's own index`;
      }
    }
    if (!layout) {
      cache = 'local';
      const base = buildLayout(offlineResources());
      layout = { ...base, rules: [] };
    }
    const fromDisk = this.deps.config.offline || cache === 'local';
    const vulnerability = fromDisk ? await this.deps.hasVulnerabilityData() : layout.vulnerability !== null;
    const index = buildClientIndex(layout, {
      publicBase: rc.publicBase,
      https: rc.https,
      vulnerability,
      ...(fromDisk ? { signatureVersions: await this.deps.cachedSignatureVersions(layout.signatures.keys()) } : {}),
    });
    return {
      status: 200,
      resource: 'service_index',
      cache,
      body: { kind: 'json', stored: JSON.stringify(index) },
      ...(warning ? { warnings: [warning] } : {}),
    };
  }
}
