// Search and autocomplete over the packages the proxy holds, answering in nuget.org's shapes (offline mode,
// and the fallback when upstream search fails). Pure: callers pass the package summaries.
// Parameters: docs/api/search-query-service-resource.md, search-autocomplete-service-resource.md.

import { isPrerelease, isSemVer2, toLowerInvariant, type NuGetVersion } from './identity.ts';
import type { Nuspec } from './nuspec.ts';

export interface LocalPackage {
  readonly lowerId: string;
  /** Held versions ascending, each with its nuspec. */
  readonly versions: ReadonlyArray<{ readonly lowerVersion: string; readonly version: NuGetVersion; readonly nuspec: Nuspec }>;
}

export interface SearchParams {
  readonly q: string;
  readonly skip: number;
  readonly take: number;
  readonly prerelease: boolean;
  readonly semVer2: boolean;
  readonly packageType: string;
}

const MAX_TAKE = 1000;

function bool(v: string | null): boolean {
  return v !== null && v.toLowerCase() === 'true';
}

function int(v: string | null, fallback: number, max: number): number {
  if (v === null || !/^[0-9]+$/.test(v)) return fallback;
  return Math.min(Number(v), max);
}

export function parseSearchParams(query: URLSearchParams): SearchParams {
  return {
    q: (query.get('q') ?? '').trim(),
    skip: int(query.get('skip'), 0, 1_000_000),
    take: int(query.get('take'), 20, MAX_TAKE),
    prerelease: bool(query.get('prerelease')),
    semVer2: (query.get('semVerLevel') ?? '').startsWith('2'),
    packageType: (query.get('packageType') ?? '').trim().toLowerCase(),
  };
}

function visible(v: { version: NuGetVersion }, p: Pick<SearchParams, 'prerelease' | 'semVer2'>): boolean {
  return (p.prerelease || !isPrerelease(v.version)) && (p.semVer2 || !isSemVer2(v.version));
}

function splitList(s: string): string[] {
  return s.split(/[\s,;]+/).filter((t) => t.length > 0);
}

function commaList(s: string): string[] {
  return s.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
}

/** nuget.org-style matching: `packageid:X` is exact; otherwise every term must occur in id, title, description, tags or authors. */
function matches(pkg: LocalPackage, latest: Nuspec, q: string): boolean {
  if (!q) return true;
  const terms = q.toLowerCase().split(/\s+/).filter(Boolean);
  for (const term of terms) {
    const colon = term.indexOf(':');
    if (colon > 0) {
      const field = term.slice(0, colon);
      const value = term.slice(colon + 1);
      if (field === 'packageid' || field === 'id') {
        if (field === 'packageid' ? pkg.lowerId !== value : !pkg.lowerId.includes(value)) return false;
        continue;
      }
      if (field === 'tags' || field === 'tag') {
        if (!splitList(latest.tags.toLowerCase()).some((t) => t.includes(value))) return false;
        continue;
      }
      if (field === 'author' || field === 'authors') {
        if (!latest.authors.toLowerCase().includes(value)) return false;
        continue;
      }
      if (field === 'title') {
        if (!latest.title.toLowerCase().includes(value)) return false;
        continue;
      }
      if (field === 'description') {
        if (!latest.description.toLowerCase().includes(value)) return false;
        continue;
      }
    }
    const hay = `${pkg.lowerId} ${latest.title} ${latest.description} ${latest.tags} ${latest.authors}`.toLowerCase();
    if (!hay.includes(term)) return false;
  }
  return true;
}

function packageTypeMatches(n: Nuspec, packageType: string): boolean {
  if (!packageType) return true;
  const types = n.packageTypes.length > 0 ? n.packageTypes : ['Dependency'];
  return types.some((t) => t.toLowerCase() === packageType);
}

export interface SearchUrls {
  /** Registration base (hive) for results, marker form. */
  readonly regBase: string;
  readonly flatBase: string;
}

/** A nuget.org-shaped search response; exact-id matches rank first, then by id. */
export function searchPackages(packages: readonly LocalPackage[], p: SearchParams, urls: SearchUrls): Record<string, unknown> {
  const hits: Array<{ pkg: LocalPackage; versions: LocalPackage['versions'] }> = [];
  for (const pkg of packages) {
    const versions = pkg.versions.filter((v) => visible(v, p));
    const latest = versions[versions.length - 1];
    if (!latest || !matches(pkg, latest.nuspec, p.q) || !packageTypeMatches(latest.nuspec, p.packageType)) continue;
    hits.push({ pkg, versions });
  }
  const q = p.q.toLowerCase();
  hits.sort((a, b) => Number(b.pkg.lowerId === q) - Number(a.pkg.lowerId === q) || a.pkg.lowerId.localeCompare(b.pkg.lowerId));
  const data = hits.slice(p.skip, p.skip + p.take).map(({ pkg, versions }) => {
    const latest = versions[versions.length - 1] as LocalPackage['versions'][number];
    const n = latest.nuspec;
    const registration = `${urls.regBase}${pkg.lowerId}/index.json`;
    const tags = splitList(n.tags);
    return {
      '@id': registration,
      '@type': 'Package',
      registration,
      id: n.id,
      version: n.fullVersion,
      description: n.description,
      summary: n.summary,
      title: n.title,
      iconUrl: n.iconFile || n.iconUrl ? `${urls.flatBase}${pkg.lowerId}/${latest.lowerVersion}/icon` : '',
      licenseUrl: n.licenseUrl,
      projectUrl: n.projectUrl,
      tags,
      authors: commaList(n.authors),
      owners: commaList(n.owners),
      totalDownloads: 0,
      verified: false,
      packageTypes: (n.packageTypes.length > 0 ? n.packageTypes : ['Dependency']).map((name) => ({ name })),
      versions: versions.map((v) => ({
        version: v.nuspec.fullVersion,
        downloads: 0,
        '@id': `${urls.regBase}${pkg.lowerId}/${v.lowerVersion}.json`,
      })),
      vulnerabilities: [],
    };
  });
  return { '@context': { '@vocab': 'http://schema.nuget.org/schema#', '@base': urls.regBase }, totalHits: hits.length, data };
}

/** Autocomplete: `id=X` lists X's versions; otherwise ids matching `q` (prefix first). */
export function autocomplete(packages: readonly LocalPackage[], query: URLSearchParams): Record<string, unknown> {
  const p = parseSearchParams(query);
  const id = query.get('id');
  if (id !== null) {
    const pkg = packages.find((x) => x.lowerId === toLowerInvariant(id.trim()));
    const versions = pkg ? pkg.versions.filter((v) => visible(v, p)).map((v) => v.nuspec.fullVersion) : [];
    return { '@context': { '@vocab': 'http://schema.nuget.org/schema#' }, totalHits: versions.length, data: versions };
  }
  const q = p.q.toLowerCase();
  const ids = packages
    .filter((x) => x.versions.some((v) => visible(v, p)) && x.lowerId.includes(q))
    .sort((a, b) => Number(b.lowerId.startsWith(q)) - Number(a.lowerId.startsWith(q)) || a.lowerId.localeCompare(b.lowerId))
    .map((x) => (x.versions[x.versions.length - 1]?.nuspec.id ?? x.lowerId));
  return { '@context': { '@vocab': 'http://schema.nuget.org/schema#' }, totalHits: ids.length, data: ids.slice(p.skip, p.skip + p.take) };
}
