// One upstream's registration documents: the index, its separate pages and leaves, mirrored and rewritten
// (gzip decoded first) under the upstream's keys; an index fill also fills its separate pages, so index and
// pages stay consistent and are there offline. And the leaves of an id, read out of them — for merged
// registration across upstreams and for the policy (published dates). Protocol digest §6, §16 (14–19).

import { UpstreamUnavailable } from '../errors.ts';
import type { CacheResult } from '../metrics.ts';
import { parseVersion, toLowerVersion } from '../nuget/identity.ts';
import { parseRegistrationPath, registrationBasePath, registrationRelativePath, type RegistrationPath } from '../nuget/paths.ts';
import type { LeafItem } from '../nuget/registration-synthesis.ts';
import { BASE_MARKER } from '../nuget/rewrite.ts';
import type { RewritePool } from '../rewrite-pool.ts';
import type { MetaEntry } from '../storage/metadata-store.ts';
import { combinedCacheResult, type DocumentResult, type DocumentSpec } from './documents.ts';
import type { Feed } from './feeds.ts';
import { registrationKey } from './keys.ts';
import type { Layout } from './upstream-index.ts';

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

type PagePath = Extract<RegistrationPath, { kind: 'page' }>;

/** A stored index's pages: those inlined (with their leaves) and the separate ones (to fetch or peek). */
function pagesOfIndex(hive: string, body: string): { inline: Json[]; separate: PagePath[] } {
  const inline: Json[] = [];
  const separate: PagePath[] = [];
  for (const item of (asObject(JSON.parse(body))?.['items'] as unknown[] | undefined) ?? []) {
    const page = asObject(item);
    if (!page) continue;
    if (Array.isArray(page['items'])) inline.push(page);
    else if (typeof page['@id'] === 'string') {
      const p = pageOfStoredId(hive, page['@id']);
      if (p) separate.push(p);
    }
  }
  return { inline, separate };
}

/** The lower normalized version of a leaf item, or null when it has none. */
export function leafLowerVersion(leaf: LeafItem): string | null {
  const v = leaf.catalogEntry['version'];
  const parsed = typeof v === 'string' ? parseVersion(v) : null;
  return parsed ? toLowerVersion(parsed) : null;
}

/** A leaf's `published` date; null when absent or unparsable. */
export function leafPublished(leaf: LeafItem): Date | null {
  const p = leaf.catalogEntry['published'];
  if (typeof p !== 'string') return null;
  const t = Date.parse(p);
  return Number.isNaN(t) ? null : new Date(t);
}

/** Parsed leaves kept per upstream, hive and id (the policy asks on every download). */
const LEAVES_MEMO_ENTRIES = 2048;

interface ParsedLeaves {
  /** fetchedAt of the index document these came from. */
  readonly indexAt: number;
  readonly inline: readonly Json[];
  readonly separate: readonly PagePath[];
  /** fetchedAt of each separate page, in order. */
  readonly pagesAt: readonly number[];
  readonly leaves: Map<string, LeafItem>;
}

export class RegistrationDocs {
  /** feed|hive|id → the last parse, reused while the documents are the same (same fetch times). */
  private readonly parsed = new Map<string, ParsedLeaves>();
  private readonly cachedParsed = new Map<string, { stamp: string; leaves: Map<string, LeafItem> }>();

  constructor(private readonly deps: { readonly rewriter: RewritePool; readonly offline: boolean }) {}

  /** The upstream hive serving proxy hive `hive`: the same name, else the upstream's primary hive. */
  static hiveFor(layout: Layout, hive: string): { hive: string; base: string } | null {
    const base = layout.hives.get(hive);
    if (base) return { hive, base };
    const primary = layout.primaryHive;
    const primaryBase = primary ? layout.hives.get(primary) : undefined;
    return primary && primaryBase ? { hive: primary, base: primaryBase } : null;
  }

  spec(feed: Feed, hive: string, rel: string, layout: Layout, base: string, isIndex: boolean): DocumentSpec {
    const { spec } = feed;
    return {
      key: registrationKey(feed.name, hive, rel),
      resource: 'registration',
      freshMs: spec.registrationTtlSeconds * 1000,
      notFoundFreshMs: spec.notFoundTtlSeconds * 1000,
      upstreamUrl: async () => base + rel,
      transform: async (body: Buffer) => {
        const r = await this.deps.rewriter.rewrite(body, layout.rules);
        // Remember the separate pages now (found off the event loop), so filling them needs no re-parse.
        return isIndex && r.separatePages.length > 0 ? { body: r.text, extra: { separatePages: JSON.stringify(r.separatePages) } } : r.text;
      },
      ...(isIndex ? { afterFill: (entry) => this.fillPages(feed, hive, entry.extra?.['separatePages'], layout, base) } : {}),
    };
  }

  /** Fills the separate page documents an index refers to (nuget.org: packages with ≥ 128 versions). */
  private async fillPages(feed: Feed, hive: string, separatePages: string | undefined, layout: Layout, base: string): Promise<void> {
    const queue = separatePagesOf(hive, separatePages).map(registrationRelativePath);
    const worker = async () => {
      for (let rel = queue.shift(); rel !== undefined; rel = queue.shift()) {
        await feed.docs.get(this.spec(feed, hive, rel, layout, base, false)).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PAGE_FILL_CONCURRENCY, queue.length) }, worker));
  }

  /** One document of the upstream's hive `hive` (which must exist in `layout`). */
  async get(feed: Feed, layout: Layout, hive: string, path: RegistrationPath): Promise<DocumentResult> {
    const base = layout.hives.get(hive);
    if (!base) throw new UpstreamUnavailable(502, 'UPSTREAM_NO_HIVE', `upstream ${feed.name} has no registration hive ${hive}`);
    return feed.docs.get(this.spec(feed, hive, registrationRelativePath(path), layout, base, path.kind === 'index'));
  }

  /**
   * The leaves `feed` has for `lowerId` in the hive serving proxy hive `hive`, by lower version: from the
   * index and its separate pages (fetched, or the cached copies offline). null: the upstream does not
   * know the id. Throws UpstreamUnavailable when it cannot answer and nothing is cached.
   */
  async leaves(feed: Feed, hive: string, lowerId: string): Promise<{ leaves: Map<string, LeafItem>; cache?: CacheResult; warning?: string } | null> {
    if (this.deps.offline || !feed.transport) return this.cachedLeaves(feed, hive, lowerId);
    const layout = await feed.index.requireLayout();
    const h = RegistrationDocs.hiveFor(layout, hive);
    if (!h) throw new UpstreamUnavailable(502, 'UPSTREAM_NO_REGISTRATION', `upstream ${feed.name} has no registration resource`);
    const index = await this.get(feed, layout, h.hive, { kind: 'index', lowerId });
    if (index.entry.status !== 200) return null;
    const memoKey = `${feed.name}|${h.hive}|${lowerId}`;
    const memo = this.parsed.get(memoKey);
    const { inline, separate } = memo && memo.indexAt === index.entry.fetchedAt ? memo : pagesOfIndex(h.hive, index.entry.body);
    let warning = index.warning;
    const caches: CacheResult[] = [index.cache];
    const entries = [];
    for (const p of separate) {
      const doc = await this.get(feed, layout, h.hive, p);
      warning ??= doc.warning;
      caches.push(doc.cache);
      entries.push(doc.entry);
    }
    const pagesAt = entries.map((e) => e.fetchedAt);
    const same = memo && memo.indexAt === index.entry.fetchedAt && memo.pagesAt.length === pagesAt.length && memo.pagesAt.every((t, i) => t === pagesAt[i]);
    let leaves: Map<string, LeafItem>;
    if (same) leaves = memo.leaves;
    else {
      const docs = entries.flatMap((e) => {
        const parsed = e.status === 200 ? asObject(JSON.parse(e.body)) : null;
        return parsed ? [parsed] : [];
      });
      leaves = leavesOfPages([...inline, ...docs]);
      if (this.parsed.size >= LEAVES_MEMO_ENTRIES) this.parsed.clear();
      this.parsed.set(memoKey, { indexAt: index.entry.fetchedAt, inline, separate, pagesAt, leaves });
    }
    return { leaves, cache: combinedCacheResult(caches), ...(warning ? { warning } : {}) };
  }

  /** The leaves of `lowerId` from whatever `feed`'s registration documents are cached (any age, any hive). */
  async cachedLeaves(feed: Feed, hive: string, lowerId: string): Promise<{ leaves: Map<string, LeafItem> } | null> {
    const layout = await feed.index.layout().catch(() => null);
    const hives = [hive, ...(layout?.primaryHive ? [layout.primaryHive] : []), 'semver2', 'gz-semver1', 'semver1'];
    const indexes: Array<[string, MetaEntry]> = [];
    for (const h of new Set(hives)) {
      const index = await feed.docs.peek(registrationKey(feed.name, h, `${lowerId}/index.json`));
      if (index?.status === 200) indexes.push([h, index]);
    }
    if (indexes.length === 0) return null;
    // Offline the documents only change through an import (new fetch times): parse once per set.
    const memoKey = `cached|${feed.name}|${hive}|${lowerId}`;
    const stamp = indexes.map(([h, e]) => `${h}:${e.fetchedAt}`).join('|');
    const memo = this.cachedParsed.get(memoKey);
    if (memo?.stamp === stamp) return { leaves: memo.leaves };
    const leaves = new Map<string, LeafItem>();
    for (const [h, index] of indexes) {
      const { inline, separate } = pagesOfIndex(h, index.body);
      const pages = [...inline];
      for (const p of separate) {
        const doc = await feed.docs.peek(registrationKey(feed.name, h, registrationRelativePath(p)));
        const parsed = doc?.status === 200 ? asObject(JSON.parse(doc.body)) : null;
        if (parsed) pages.push(parsed);
      }
      for (const [v, leaf] of leavesOfPages(pages)) if (!leaves.has(v)) leaves.set(v, leaf);
    }
    if (this.cachedParsed.size >= LEAVES_MEMO_ENTRIES) this.cachedParsed.clear();
    this.cachedParsed.set(memoKey, { stamp, leaves });
    return { leaves };
  }
}

function leavesOfPages(pages: readonly Json[]): Map<string, LeafItem> {
  const leaves = new Map<string, LeafItem>();
  for (const page of pages) {
    for (const leaf of (page['items'] as unknown[] | undefined) ?? []) {
      const l = asObject(leaf);
      if (!l || !asObject(l['catalogEntry'])) continue;
      const v = leafLowerVersion(l as LeafItem);
      if (v && !leaves.has(v)) leaves.set(v, l as LeafItem);
    }
  }
  return leaves;
}
