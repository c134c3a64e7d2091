// Merging what several upstreams say about packages, as one feed: version lists (an exact version comes
// from the first upstream, in configuration order, that has it), and search results (only from upstreams
// an id routes to; one result per id, with every upstream's versions and the newest version's metadata;
// every upstream's best results on the first page). Pure.

import { compareVersions, parseVersion, toLowerId, toLowerVersion, type NuGetVersion } from './identity.ts';

/** Each version (a lower normalized string) → the first source, in order, that lists it. */
export function firstListing<S>(lists: ReadonlyArray<{ readonly source: S; readonly versions: Iterable<string> }>): Map<string, S> {
  const out = new Map<string, S>();
  for (const { source, versions } of lists) for (const v of versions) if (!out.has(v)) out.set(v, source);
  return out;
}

/** a₀ b₀ c₀ a₁ b₁ …: every list's best items near the top. */
export function interleave<T>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i] as T);
  return out;
}

type Json = Record<string, unknown>;

export interface MergedSearchResult<S> {
  readonly lowerId: string;
  /** The result document: the newest version's metadata, every source's versions (first source wins per version). */
  readonly result: Json;
  /** Lower version → the source it came from. */
  readonly sources: ReadonlyMap<string, S>;
}

function asObject(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

/** A search result's `versions` entries that parse, with their parsed version. */
export function resultVersions(result: Json): Array<{ o: Json; version: NuGetVersion }> {
  return (Array.isArray(result['versions']) ? (result['versions'] as unknown[]) : []).flatMap((v) => {
    const o = asObject(v);
    const parsed = typeof o?.['version'] === 'string' ? parseVersion(o['version']) : null;
    return o && parsed ? [{ o, version: parsed }] : [];
  });
}

/**
 * Search results of several sources as one list. A result is kept only when `routes(lowerId)` includes its
 * source; results for one id from several sources become one (positioned where the id first appears in
 * the interleaved order). `dropped` counts results left out, for totalHits.
 */
export function mergeSearchResults<S>(
  answers: ReadonlyArray<{ readonly source: S; readonly data: readonly unknown[] }>,
  routes: (lowerId: string) => readonly S[],
): { results: Array<MergedSearchResult<S>>; dropped: number } {
  let dropped = 0;
  const perSource = answers.map(({ source, data }) =>
    data.flatMap((item) => {
      const r = asObject(item);
      const lowerId = typeof r?.['id'] === 'string' ? toLowerId(r['id']) : null;
      if (!r || !lowerId || !routes(lowerId).includes(source)) {
        dropped++;
        return [];
      }
      return [{ lowerId, r, source }];
    }),
  );
  const groups = new Map<string, Array<{ r: Json; source: S }>>();
  for (const { lowerId, r, source } of interleave(perSource)) {
    const g = groups.get(lowerId);
    if (g) {
      g.push({ r, source });
      dropped++;
    } else groups.set(lowerId, [{ r, source }]);
  }
  const results: Array<MergedSearchResult<S>> = [];
  for (const [lowerId, group] of groups) {
    const sources = new Map<string, S>();
    const versions = new Map<string, { o: Json; version: NuGetVersion }>();
    let newest: { r: Json; version: NuGetVersion } | null = null;
    for (const { r, source } of group) {
      for (const v of resultVersions(r)) {
        const lower = toLowerVersion(v.version);
        if (versions.has(lower)) continue;
        versions.set(lower, v);
        sources.set(lower, source);
        if (!newest || compareVersions(v.version, newest.version) > 0) newest = { r, version: v.version };
      }
    }
    const base = newest?.r ?? (group[0]?.r as Json);
    const sorted = [...versions.values()].sort((a, b) => compareVersions(a.version, b.version));
    const top = sorted[sorted.length - 1];
    results.push({
      lowerId,
      result: group.length === 1 ? base : { ...base, versions: sorted.map((v) => v.o), ...(top ? { version: top.o['version'] } : {}) },
      sources,
    });
  }
  return { results, dropped };
}
