// Registration documents built from package metadata (nuspecs, or upstream leaves cached earlier), in
// nuget.org's shapes: < 128 versions inline pages of up to 64 leaves, ≥ 128 separate page documents.
// URLs are written in the base-independent form (BASE_MARKER + path). Pure.
// Shapes: docs/api/registration-base-url-resource.md; paging: NuGetGallery RegistrationUrlBuilder.cs.

import { toLowerInvariant, toLowerVersion, compareVersions, parseVersion, isSemVer2 } from './identity.ts';
import type { Nuspec } from './nuspec.ts';

export type LeafItem = Record<string, unknown> & { catalogEntry: Record<string, unknown> };

const PAGE_SIZE = 64;
const INLINE_LIMIT = 128;
const UNLISTED_PUBLISHED = '1900-01-01T00:00:00+00:00';

function splitList(s: string): string[] {
  return s.split(/[\s,;]+/).map((t) => t.trim()).filter((t) => t.length > 0);
}

/** A registration leaf item for a package known only from its nuspec. */
export function nuspecCatalogEntry(n: Nuspec, bases: { regBase: string; flatBase: string }, published = new Date(0).toISOString()): LeafItem {
  const lowerId = toLowerInvariant(n.id);
  const lv = toLowerVersion(n.version);
  const leafUrl = `${bases.regBase}${lowerId}/${lv}.json`;
  const indexUrl = `${bases.regBase}${lowerId}/index.json`;
  const packageContent = `${bases.flatBase}${lowerId}/${lv}/${lowerId}.${lv}.nupkg`;
  const tags = splitList(n.tags);
  return {
    '@id': leafUrl,
    '@type': 'Package',
    catalogEntry: {
      '@id': `${leafUrl}#catalogEntry`,
      '@type': 'PackageDetails',
      authors: n.authors,
      dependencyGroups: n.dependencyGroups.map((g) => ({
        '@type': 'PackageDependencyGroup',
        ...(g.targetFramework ? { targetFramework: g.targetFramework } : {}),
        dependencies: g.dependencies.map((d) => ({
          '@type': 'PackageDependency',
          id: d.id,
          range: d.range || '(, )',
          registration: `${bases.regBase}${toLowerInvariant(d.id)}/index.json`,
        })),
      })),
      description: n.description,
      iconUrl: n.iconFile || n.iconUrl ? `${bases.flatBase}${lowerId}/${lv}/icon` : '',
      id: n.id,
      language: n.language,
      licenseExpression: n.licenseExpression,
      licenseUrl: n.licenseUrl,
      listed: true,
      minClientVersion: n.minClientVersion,
      packageContent,
      projectUrl: n.projectUrl,
      published,
      requireLicenseAcceptance: n.requireLicenseAcceptance,
      summary: n.summary,
      tags: tags.length > 0 ? tags : [''],
      title: n.title,
      version: n.fullVersion,
    },
    packageContent,
    registration: indexUrl,
  };
}

function leafVersion(leaf: LeafItem): string {
  const v = leaf.catalogEntry['version'];
  const parsed = typeof v === 'string' ? parseVersion(v) : null;
  return parsed ? toLowerVersion(parsed) : String(v).toLowerCase();
}

export interface RegistrationDocuments {
  readonly index: Record<string, unknown>;
  readonly pages: ReadonlyArray<{ lower: string; upper: string; document: Record<string, unknown> }>;
  /** Leaf documents by lower version. */
  readonly leaves: ReadonlyMap<string, Record<string, unknown>>;
}

/** Index, pages and leaf documents for `leaves` (any order; sorted here by NuGet precedence). */
export function registrationDocuments(lowerId: string, leaves: readonly LeafItem[], bases: { regBase: string }): RegistrationDocuments {
  const indexUrl = `${bases.regBase}${lowerId}/index.json`;
  const sorted = [...leaves].sort((a, b) => {
    const va = parseVersion(String(a.catalogEntry['version']));
    const vb = parseVersion(String(b.catalogEntry['version']));
    return va && vb ? compareVersions(va, vb) : 0;
  });
  const inline = sorted.length < INLINE_LIMIT;
  const pages: Array<{ lower: string; upper: string; document: Record<string, unknown> }> = [];
  const indexItems: Array<Record<string, unknown>> = [];
  for (let i = 0; i < sorted.length; i += PAGE_SIZE) {
    const chunk = sorted.slice(i, i + PAGE_SIZE);
    const lower = leafVersion(chunk[0] as LeafItem);
    const upper = leafVersion(chunk[chunk.length - 1] as LeafItem);
    const pageUrl = inline ? `${indexUrl}#page/${lower}/${upper}` : `${bases.regBase}${lowerId}/page/${lower}/${upper}.json`;
    const full = { '@id': pageUrl, '@type': 'catalog:CatalogPage', count: chunk.length, items: chunk, lower, upper, parent: indexUrl };
    pages.push({ lower, upper, document: full });
    indexItems.push(inline ? full : { '@id': pageUrl, '@type': 'catalog:CatalogPage', count: chunk.length, lower, upper });
  }
  const leafDocs = new Map<string, Record<string, unknown>>();
  for (const leaf of sorted) {
    const entry = leaf.catalogEntry;
    leafDocs.set(leafVersion(leaf), {
      '@id': leaf['@id'],
      '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
      catalogEntry: entry['@id'],
      listed: entry['listed'] ?? true,
      packageContent: leaf['packageContent'] ?? entry['packageContent'],
      published: entry['published'] ?? UNLISTED_PUBLISHED,
      registration: indexUrl,
    });
  }
  return {
    index: {
      '@id': indexUrl,
      '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
      count: indexItems.length,
      items: indexItems,
      '@context': {
        '@vocab': 'http://schema.nuget.org/schema#',
        catalog: 'http://schema.nuget.org/catalog#',
      },
    },
    pages,
    leaves: leafDocs,
  };
}

/** True when a package version may appear in the SemVer 1 hives (protocol digest §3.5). */
export function isSemVer1Leaf(leaf: LeafItem): boolean {
  const v = parseVersion(String(leaf.catalogEntry['version']));
  return v !== null && !isSemVer2(v);
}
