// The service index clients get. One upstream: upstream's own (cached, revalidated) turned into the
// proxy's, every served resource pointing at the proxy; offline, or with upstream gone and nothing cached,
// the proxy describes itself. Several upstreams: the proxy's own index (one feed in front of all of them).

import { buildClientIndex, buildLayout, multiUpstreamResources, offlineResources } from '../nuget/service-index.ts';
import type { Reply } from '../http.ts';
import type { CacheResult } from '../metrics.ts';
import type { Feeds } from './feeds.ts';
import type { Layout } from './upstream-index.ts';
import type { RequestContext } from './types.ts';

export type { Layout } from './upstream-index.ts';

function ownLayout(resources: ReturnType<typeof offlineResources>): Layout {
  return { ...buildLayout(resources), rules: [] };
}

export class ServiceIndexResource {
  private readonly multi = ownLayout(multiUpstreamResources());
  private readonly offlineOwn = ownLayout(offlineResources());

  constructor(
    private readonly deps: {
      readonly offline: boolean;
      readonly feeds: Feeds;
      /** Whether mirrored vulnerability data exists (offline: decides whether to advertise it). */
      readonly hasVulnerabilityData: () => Promise<boolean>;
      /** RepositorySignatures versions mirrored locally (offline: only these are advertised). */
      readonly cachedSignatureVersions: (versions: Iterable<string>) => Promise<Set<string>>;
    },
  ) {}

  async serve(rc: RequestContext): Promise<Reply> {
    const { feeds, offline } = this.deps;
    if (!feeds.single) return this.serveMulti(rc);
    const feed = feeds.first;
    let layout: Layout | null = null;
    let warning: string | undefined;
    let cache: CacheResult = 'hit';
    let freshUntilMs: number | undefined;
    if (offline) {
      layout = await feed.index.layout();
    } else {
      try {
        const r = await feed.index.fetchWithWarning();
        layout = r.layout;
        warning = r.warning;
        freshUntilMs = r.freshUntilMs;
        cache = r.cache;
      } catch (err) {
        // Upstream gone and never cached: still describe what the proxy can serve from its disk.
        warning = `nuget-proxy: upstream service index unavailable (${(err as Error).message}); serving the proxy's own index`;
      }
    }
    if (!layout) {
      cache = 'local';
      layout = this.offlineOwn;
    }
    const fromDisk = offline || cache === 'local';
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
      // Built from upstream's fresh index alone (not from what the disk holds): the same answer until it expires.
      ...(freshUntilMs && !fromDisk ? { freshUntilMs } : {}),
    };
  }

  /** Several upstreams: the proxy's own resources; vulnerability data when any upstream has (or had) some. */
  private async serveMulti(rc: RequestContext): Promise<Reply> {
    let vulnerability = await this.deps.hasVulnerabilityData();
    if (!vulnerability && !this.deps.offline) {
      // All at once: with upstreams black-holed the client waits one request deadline, not one per upstream.
      const layouts = await Promise.all(this.deps.feeds.all.map((feed) => feed.index.layout().catch(() => null)));
      vulnerability = layouts.some((layout) => Boolean(layout?.vulnerability));
    }
    const index = buildClientIndex(this.multi, { publicBase: rc.publicBase, https: rc.https, vulnerability });
    return { status: 200, resource: 'service_index', cache: 'local', body: { kind: 'json', stored: JSON.stringify(index) } };
  }
}
