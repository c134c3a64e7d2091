// RepositorySignatures: mirrored only when clients reach the proxy over https — the client refuses an
// http signatures URL and would fail every restore (protocol digest §10) — and only with one upstream: a
// signature list (nuget.org's says allRepositorySigned) would make clients refuse every other upstream's
// packages. Certificate contentUrls keep pointing at upstream's https URLs: clients check them
// syntactically and never download them.

import { NotFound } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { Feeds } from './feeds.ts';
import { signaturesKey } from './keys.ts';
import type { RequestContext } from './types.ts';

const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;

export class SignaturesResource {
  constructor(private readonly deps: { readonly offline: boolean; readonly feeds: Feeds }) {}

  async cachedVersions(versions: Iterable<string>): Promise<Set<string>> {
    const out = new Set<string>();
    const { feeds } = this.deps;
    if (!feeds.single) return out;
    for (const v of versions) if ((await feeds.first.docs.peek(signaturesKey(feeds.first.name, v)))?.status === 200) out.add(v);
    return out;
  }

  async serve(version: string, rc: RequestContext): Promise<Reply> {
    if (!rc.https) throw new NotFound('repository signatures are only served over https');
    if (!VERSION.test(version)) throw new NotFound('unknown repository signatures version');
    const { feeds, offline } = this.deps;
    if (!feeds.single) throw new NotFound('repository signatures are not served in front of several upstreams');
    const feed = feeds.first;
    const key = signaturesKey(feed.name, version);
    if (offline || !feed.transport) {
      const cached = await feed.docs.peek(key);
      if (cached?.status !== 200) throw new NotFound('repository signatures were not mirrored into this offline cache');
      return { status: 200, resource: 'signatures', cache: 'hit', body: { kind: 'json', stored: cached.body } };
    }
    const layout = await feed.index.requireLayout();
    const url = layout.signatures.get(version);
    if (!url) throw new NotFound(`upstream has no RepositorySignatures/${version}`);
    const result = await feed.docs.get({
      key,
      resource: 'signatures',
      freshMs: feed.spec.vulnerabilityTtlSeconds * 1000,
      notFoundFreshMs: feed.spec.notFoundTtlSeconds * 1000,
      upstreamUrl: async () => url,
      transform: async (body) => {
        const doc: unknown = JSON.parse(body.toString('utf8'));
        const o = doc as Record<string, unknown> | null;
        if (!o || typeof o !== 'object' || typeof o['allRepositorySigned'] !== 'boolean' || !Array.isArray(o['signingCertificates']))
          throw new Error('not a repository signatures document');
        return JSON.stringify(o);
      },
    });
    if (result.entry.status === 404) throw new NotFound('upstream has no repository signatures document');
    return {
      status: 200,
      resource: 'signatures',
      cache: result.cache,
      body: { kind: 'json', stored: result.entry.body },
      ...(result.warning ? { warnings: [result.warning] } : {}),
    };
  }
}
