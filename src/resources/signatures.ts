// RepositorySignatures: mirrored only when clients reach the proxy over https — the client refuses an
// http signatures URL and would fail every restore (protocol digest §10). certificate contentUrls keep
// pointing at upstream's https URLs: clients check them syntactically and never download them.

import type { Config } from '../config.ts';
import { NotFound } from '../errors.ts';
import type { Reply } from '../http.ts';
import type { DocumentCache } from './documents.ts';
import { signaturesKey } from './keys.ts';
import type { ServiceIndexResource } from './service-index.ts';
import type { RequestContext } from './types.ts';

const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;

export class SignaturesResource {
  constructor(
    private readonly deps: {
      config: Pick<Config, 'offline' | 'vulnerabilityTtlSeconds' | 'notFoundTtlSeconds'>;
      docs: DocumentCache;
      index: ServiceIndexResource;
    },
  ) {}

  async cachedVersions(versions: Iterable<string>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const v of versions) if ((await this.deps.docs.peek(signaturesKey(v)))?.status === 200) out.add(v);
    return out;
  }

  async serve(version: string, rc: RequestContext): Promise<Reply> {
    if (!rc.https) throw new NotFound('repository signatures are only served over https');
    if (!VERSION.test(version)) throw new NotFound('unknown repository signatures version');
    const { docs, config } = this.deps;
    if (config.offline) {
      const cached = await docs.peek(signaturesKey(version));
      if (cached?.status !== 200) throw new NotFound('repository signatures were not mirrored into this offline cache');
      return { status: 200, resource: 'signatures', cache: 'hit', body: { kind: 'json', stored: cached.body } };
    }
    const layout = await this.deps.index.requireLayout();
    const url = layout.signatures.get(version);
    if (!url) throw new NotFound(`upstream has no RepositorySignatures/${version}`);
    const result = await docs.get({
      key: signaturesKey(version),
      resource: 'signatures',
      freshMs: config.vulnerabilityTtlSeconds * 1000,
      notFoundFreshMs: config.notFoundTtlSeconds * 1000,
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
