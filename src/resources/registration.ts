// RegistrationsBaseUrl, every hive upstream lists: index, separate page documents and leaves, mirrored
// and rewritten (gzip decoded first). An index fill also fills its separate pages, so index and pages stay
// consistent and are there offline. Offline — or with upstream gone and nothing cached — registration is
// synthesized from the packages on disk, reusing upstream's cached leaf metadata where it exists, and lists
// only versions the proxy can deliver. Protocol digest §6 and §16 (14–19).

import type { Config } from '../config.ts';
import { BadRequest, NotFound, UpstreamUnavailable } from '../errors.ts';
import type { Reply } from '../http.ts';
import { isSemVer2 } from '../nuget/identity.ts';
import { nuspecCatalogEntry, registrationDocuments, type LeafItem } from '../nuget/registration-synthesis.ts';
import {
  PROXY_PATHS,
  parseRegistrationPath,
  registrationBasePath,
  registrationRelativePath,
  type RegistrationPath,
} from '../nuget/paths.ts';
import { BASE_MARKER } from '../nuget/rewrite.ts';
import type { RewritePool } from '../rewrite-pool.ts';
import type { DocumentCache } from './documents.ts';
import { registrationKey as keyOf } from './keys.ts';
import type { LocalPackages } from './local-packages.ts';
import type { Layout, ServiceIndexResource } from './service-index.ts';
import type { RequestContext } from './types.ts';

export interface RegistrationDeps {
  readonly config: Pick<Config, 'offline' | 'registrationTtlSeconds' | 'notFoundTtlSeconds'>;
  readonly docs: DocumentCache;
  readonly index: ServiceIndexResource;
  readonly local: LocalPackages;
  readonly rewriter: RewritePool;
}

export const KNOWN_HIVES = ['semver2', 'gz-semver1', 'semver1'] as const;

const PAGE_FILL_CONCURRENCY = 4;

type Json = Record<string, unknown>;

/** The page a stored (base-independent) page `@id` of `hive` names, or null when it names none. */
export function pageOfStoredId(hive: string, id: string): Extract<RegistrationPath, { kind: 'page' }> | null {
  const prefix = BASE_MARKER + registrationBasePath(hive);
  if (!id.startsWith(prefix)) return null;
  const parsed = parseRegistrationPath(id.slice(prefix.length).split('/'));
  return parsed.ok && parsed.value.kind === 'page' ? parsed.value : null;
}

/** The separate pages an index fill recorded (its `separatePages` extra), as registration paths. */
export function separatePagesOf(hive: string, separatePages: string | undefined): Array<Extract<RegistrationPath, { kind: 'page' }>> {
  if (!separatePages) return [];
  const ids: unknown = JSON.parse(separatePages);
  const out: Array<Extract<RegistrationPath, { kind: 'page' }>> = [];
  for (const id of Array.isArray(ids) ? (ids as unknown[]) : []) {
    const page = typeof id === 'string' ? pageOfStoredId(hive, id) : null;
    if (page) out.push(page);
  }
  return out;
}

function asObject(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

export class RegistrationResource {
  constructor(private readonly deps: RegistrationDeps) {}

  private spec(hive: string, rel: string, layout: Layout, base: string, isIndex: boolean) {
    const { config, rewriter } = this.deps;
    return {
      key: keyOf(hive, rel),
      resource: 'registration' as const,
      freshMs: config.registrationTtlSeconds * 1000,
      notFoundFreshMs: config.notFoundTtlSeconds * 1000,
      upstreamUrl: async () => base + rel,
      transform: async (body: Buffer) => {
        const r = await rewriter.rewrite(body, layout.rules);
        // Remember the separate pages now (found off the event loop), so filling them needs no re-parse.
        return isIndex && r.separatePages.length > 0 ? { body: r.text, extra: { separatePages: JSON.stringify(r.separatePages) } } : r.text;
      },
      ...(isIndex
        ? { afterFill: (entry: { extra?: Readonly<Record<string, string>> }) => this.fillPages(hive, entry.extra?.['separatePages'], layout, base) }
        : {}),
    };
  }

  /** Fills the separate page documents an index refers to (nuget.org: packages with ≥ 128 versions). */
  private async fillPages(hive: string, separatePages: string | undefined, layout: Layout, base: string): Promise<void> {
    const queue = separatePagesOf(hive, separatePages).map(registrationRelativePath);
    const worker = async () => {
      for (let rel = queue.shift(); rel !== undefined; rel = queue.shift()) {
        await this.deps.docs.get(this.spec(hive, rel, layout, base, false)).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PAGE_FILL_CONCURRENCY, queue.length) }, worker));
  }

  async serve(hive: string, segments: readonly string[], rc: RequestContext): Promise<Reply> {
    const parsed = parseRegistrationPath(segments);
    if (!parsed.ok) throw parsed.status === 400 ? new BadRequest(parsed.message) : new NotFound(parsed.message);
    const path = parsed.value;
    const rel = registrationRelativePath(path);
    if (this.deps.config.offline) return this.synthesizedReply(hive, path);
    let layout: Layout;
    try {
      layout = await this.deps.index.requireLayout();
    } catch (err) {
      if (err instanceof UpstreamUnavailable) return this.synthesizedReply(hive, path, err);
      throw err;
    }
    const base = layout.hives.get(hive);
    if (!base) throw new NotFound(`unknown registration hive '${hive}'`);
    try {
      const result = await this.deps.docs.get(this.spec(hive, rel, layout, base, path.kind === 'index'));
      if (result.entry.status === 404) throw new NotFound(`registration document ${rel} was not found upstream`);
      return {
        status: 200,
        resource: 'registration',
        cache: result.cache,
        body: { kind: 'json', stored: result.entry.body, renderKey: `${keyOf(hive, rel)}:${result.entry.fetchedAt}` },
        ...(result.warning ? { warnings: [result.warning] } : {}),
      };
    } catch (err) {
      if (err instanceof UpstreamUnavailable) {
        rc.log.info({ hive, rel }, 'upstream unavailable; synthesizing registration from the disk cache');
        return this.synthesizedReply(hive, path, err);
      }
      throw err;
    }
  }

  /** Leaf items of `lowerId` from cached upstream registration documents (any age), by lower version. */
  private async cachedLeaves(hive: string, lowerId: string): Promise<Map<string, LeafItem>> {
    const leaves = new Map<string, LeafItem>();
    const hives = [hive, ...KNOWN_HIVES.filter((h) => h !== hive)];
    for (const h of hives) {
      const index = await this.deps.docs.peek(keyOf(h, `${lowerId}/index.json`));
      if (index?.status !== 200) continue;
      const pages: unknown[] = [];
      for (const item of (asObject(JSON.parse(index.body))?.['items'] as unknown[] | undefined) ?? []) {
        const page = asObject(item);
        if (!page) continue;
        if (Array.isArray(page['items'])) pages.push(page);
        else if (typeof page['@id'] === 'string') {
          const separate = pageOfStoredId(h, page['@id']);
          if (!separate) continue;
          const doc = await this.deps.docs.peek(keyOf(h, registrationRelativePath(separate)));
          if (doc?.status === 200) pages.push(asObject(JSON.parse(doc.body)));
        }
      }
      for (const page of pages) {
        for (const leaf of (asObject(page)?.['items'] as unknown[] | undefined) ?? []) {
          const l = asObject(leaf);
          const entry = asObject(l?.['catalogEntry']);
          const v = typeof entry?.['version'] === 'string' ? entry['version'] : null;
          if (!l || !v) continue;
          const key = v.split('+')[0]?.toLowerCase() ?? v;
          if (!leaves.has(key)) leaves.set(key, l as LeafItem);
        }
      }
    }
    return leaves;
  }

  /** Registration built from the disk cache; null when the proxy holds no version of the package. */
  async synthesize(hive: string, path: RegistrationPath): Promise<string | null> {
    if (!(KNOWN_HIVES as readonly string[]).includes(hive)) return null;
    const held = (await this.deps.local.heldVersions(path.lowerId)).filter((h) => hive === 'semver2' || !isSemVer2(h.version));
    if (held.length === 0) return null;
    const cached = await this.cachedLeaves(hive, path.lowerId);
    const regBase = BASE_MARKER + registrationBasePath(hive);
    const flatBase = BASE_MARKER + PROXY_PATHS.flatContainer;
    const leaves: LeafItem[] = [];
    for (const h of held) {
      const fromUpstream = cached.get(h.lowerVersion);
      if (fromUpstream) {
        leaves.push(fromUpstream);
        continue;
      }
      const nuspec = await this.deps.local.nuspec(path.lowerId, h.lowerVersion);
      if (nuspec) leaves.push(nuspecCatalogEntry(nuspec, { regBase, flatBase }));
    }
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

  private async synthesizedReply(hive: string, path: RegistrationPath, upstreamProblem?: UpstreamUnavailable): Promise<Reply> {
    const stored = await this.synthesize(hive, path);
    if (stored === null) {
      // Nothing to build it from: upstream's failure as it was (502, 503 or 504, like every resource).
      if (upstreamProblem) throw upstreamProblem;
      throw new NotFound(`'${path.lowerId}' (${path.kind}) is not in this offline cache`);
    }
    return {
      status: 200,
      resource: 'registration',
      cache: 'local',
      body: { kind: 'json', stored },
      ...(upstreamProblem ? { warnings: [`nuget-proxy: ${upstreamProblem.message}; registration built from the packages this proxy holds`] } : {}),
    };
  }
}
