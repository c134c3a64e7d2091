// Builds every JSON document of the fake NuGet V3 feed as pure functions of the feed state, shaped like
// nuget.org's (service index, flat container, the three registration hives, search, autocomplete,
// vulnerabilities, catalog, repository signatures). Shapes: docs/api/*.md and NuGetGallery's
// Catalog2Registration (EntityBuilder.cs, RegistrationUrlBuilder.cs, JsonLdConstants.cs); see
// /work/shared/nuget-v3-protocol.md §4–§10.

import type { Nuspec } from '../../src/nuget/nuspec.ts';
import { isPrerelease, parseVersion, toLowerInvariant, toNormalizedString, type NuGetVersion } from '../../src/nuget/identity.ts';
import { parseRange } from '../../src/nuget/version-range.ts';

/** One .nupkg as loaded from disk; immutable. */
export interface FeedPackage {
  readonly path: string;
  readonly bytes: Buffer;
  /** Base64 SHA-512 of the bytes (nuget.org's `x-ms-meta-sha512` and catalog `packageHash`). */
  readonly sha512: string;
  readonly nuspec: Nuspec;
  readonly nuspecXml: Buffer;
  /** Original-case id from the nuspec. */
  readonly id: string;
  readonly lowerId: string;
  readonly version: NuGetVersion;
  /** Normalized, case kept, no metadata (`1.0.0-Beta.2`). */
  readonly normalizedVersion: string;
  /** Normalized, lowercase, no metadata: the URL token. */
  readonly lowerVersion: string;
  /** Normalized plus `+metadata`, case kept: what registration and search JSON carry. */
  readonly fullVersion: string;
  readonly icon: { readonly data: Buffer; readonly contentType: string } | null;
  readonly readme: Buffer | null;
  /** nuget.org's package-level SemVer2 classification: its version, or any dependency range bound, is SemVer2. */
  readonly semVer2: boolean;
}

export interface Vulnerability {
  readonly url: string;
  /** 0 low … 3 critical. */
  readonly severity: number;
  /** NuGet version range of affected versions, e.g. `(, 2.0.0)`. */
  readonly versions: string;
}

/** Vulnerability page data: lower id → advisories. */
export type VulnerabilityData = Readonly<Record<string, readonly Vulnerability[]>>;

export interface Deprecation {
  readonly reasons: readonly string[];
  readonly message?: string;
  readonly alternatePackage?: { readonly id: string; readonly range?: string };
}

/** A package version as the feed currently publishes it (listing, deprecation and vulnerabilities can change). */
export interface PackageVersionState {
  readonly pkg: FeedPackage;
  readonly listed: boolean;
  /** ISO 8601; `1900-01-01T00:00:00+00:00` when unlisted, like nuget.org. */
  readonly published: string;
  readonly created: string;
  readonly commitId: string;
  readonly commitTimeStamp: string;
  readonly deprecation: Deprecation | null;
  /** Advisories whose range contains this version. */
  readonly vulnerabilities: readonly Vulnerability[];
  readonly downloads: number;
}

export type HiveName = 'registration5-semver1' | 'registration5-gz-semver1' | 'registration5-gz-semver2';

export interface Hive {
  readonly name: HiveName;
  /** Bodies are stored gzipped and always served with `Content-Encoding: gzip`. */
  readonly gzip: boolean;
  /** Includes SemVer2 packages and deprecation data. */
  readonly semVer2: boolean;
}

export const HIVES: readonly Hive[] = [
  { name: 'registration5-semver1', gzip: false, semVer2: false },
  { name: 'registration5-gz-semver1', gzip: true, semVer2: false },
  { name: 'registration5-gz-semver2', gzip: true, semVer2: true },
];

export function findHive(name: string): Hive | undefined {
  return HIVES.find((h) => h.name === name);
}

const SEMVER1_HIVE = HIVES[0] as Hive;
const SEMVER2_HIVE = HIVES[2] as Hive;

/** nuget.org pages registrations at 64 leaves and inlines the pages below 128 versions. */
export const LEAVES_PER_PAGE = 64;
export const INLINE_PAGES_BELOW = 128;
export const UNLISTED_PUBLISHED = '1900-01-01T00:00:00+00:00';

/** Every URL the feed publishes; `main` and `search` are origins without a trailing slash. */
export class FeedUrls {
  constructor(
    readonly main: string,
    readonly search: string,
  ) {}

  get flatBase(): string {
    return `${this.main}/v3-flatcontainer/`;
  }
  flatIndex(lowerId: string): string {
    return `${this.flatBase}${lowerId}/index.json`;
  }
  nupkg(lowerId: string, lowerVersion: string): string {
    return `${this.flatBase}${lowerId}/${lowerVersion}/${lowerId}.${lowerVersion}.nupkg`;
  }
  icon(lowerId: string, lowerVersion: string): string {
    return `${this.flatBase}${lowerId}/${lowerVersion}/icon`;
  }
  registrationBase(hive: Hive): string {
    return `${this.main}/v3/${hive.name}/`;
  }
  registrationIndex(hive: Hive, id: string): string {
    return `${this.registrationBase(hive)}${toLowerInvariant(id)}/index.json`;
  }
  registrationPage(hive: Hive, lowerId: string, lower: string, upper: string): string {
    return `${this.registrationBase(hive)}${lowerId}/page/${lower.toLowerCase()}/${upper.toLowerCase()}.json`;
  }
  inlinedPage(hive: Hive, lowerId: string, lower: string, upper: string): string {
    return `${this.registrationIndex(hive, lowerId)}#page/${lower.toLowerCase()}/${upper.toLowerCase()}`;
  }
  registrationLeaf(hive: Hive, lowerId: string, lowerVersion: string): string {
    return `${this.registrationBase(hive)}${lowerId}/${lowerVersion}.json`;
  }
  catalogIndex(): string {
    return `${this.main}/v3/catalog0/index.json`;
  }
  catalogPage(): string {
    return `${this.main}/v3/catalog0/page0.json`;
  }
  catalogLeaf(s: PackageVersionState): string {
    return `${this.main}/v3/catalog0/data/${catalogTimestampPath(s.commitTimeStamp)}/${s.pkg.lowerId}.${s.pkg.lowerVersion}.json`;
  }
  vulnerabilityIndex(): string {
    return `${this.main}/v3/vulnerabilities/index.json`;
  }
  vulnerabilityBase(generation: number): string {
    return `${this.main}/v3-vulnerabilities/${vulnerabilityTimestamp(generation, 0)}/vulnerability.base.json`;
  }
  vulnerabilityUpdate(generation: number): string {
    return `${this.main}/v3-vulnerabilities/${vulnerabilityTimestamp(generation, 0)}/${vulnerabilityTimestamp(generation, 1)}/vulnerability.update.json`;
  }
  repositorySignatures(version: '4.7.0' | '5.0.0'): string {
    return `${this.main}/v3-index/repository-signatures/${version}/index.json`;
  }
  galleryPackage(id: string, normalizedVersion: string): string {
    return `${this.main}/packages/${id}/${normalizedVersion}`;
  }
}

/** `2024.01.01.00.00.00`, the timestamp folder format of nuget.org's catalog and vulnerability blobs. */
function catalogTimestampPath(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}.${p(d.getUTCHours())}.${p(d.getUTCMinutes())}.${p(d.getUTCSeconds())}`;
}

/** Each regeneration of the vulnerability data gets new, timestamped page URLs (as on nuget.org). */
export function vulnerabilityTimestamp(generation: number, page: 0 | 1): string {
  return catalogTimestampPath(vulnerabilityUpdated(generation, page));
}

function vulnerabilityUpdated(generation: number, page: 0 | 1): string {
  return new Date(Date.UTC(2024, 0, 1 + generation * 2 + page)).toISOString();
}

// ---------------------------------------------------------------------------------------------------------
// Service index (docs/api/service-index.md; nuget.org's @types, aliases and comments, protocol digest §4)

export interface ServiceIndexOptions {
  /** RepositorySignatures must be https (the client refuses http), so it is advertised only over TLS. */
  readonly repositorySignatures: boolean;
  /** List the search and autocomplete resources (default true); false: a feed without search, as many private and static feeds are. */
  readonly search?: boolean;
}

export function buildServiceIndex(urls: FeedUrls, options: ServiceIndexOptions): unknown {
  const resources: Array<Record<string, string>> = [];
  const add = (id: string, type: string, comment?: string, extra: Record<string, string> = {}): void => {
    resources.push({ '@id': id, '@type': type, ...extra, ...(comment ? { comment } : {}) });
  };
  // Two search hosts like nuget.org's usnc/ussc; the second is a path on the search server.
  const searchHosts: Array<[string, string]> = [
    [urls.search, 'primary'],
    [`${urls.search}/b`, 'secondary'],
  ];
  const searchVariants: Array<[string, string]> = [
    ['', ''],
    ['/3.0.0-beta', ' used by beta clients'],
    ['/3.0.0-rc', ' used by RC clients'],
    ['/3.5.0', ' that supports package type filtering'],
  ];
  for (const [suffix, note] of options.search === false ? [] : searchVariants) {
    for (const [base, which] of searchHosts) add(`${base}/query`, `SearchQueryService${suffix}`, `Query endpoint of NuGet Search service (${which})${note}`);
    for (const [base, which] of searchHosts) {
      add(`${base}/autocomplete`, `SearchAutocompleteService${suffix}`, `Autocomplete endpoint of NuGet Search service (${which})${note}`);
    }
  }
  if (options.search !== false) {
    for (const [base, which] of searchHosts) add(`${base}/`, 'SearchGalleryQueryService/3.0.0-rc', `Azure Website based Search Service used by Gallery (${which})`);
  }

  const legacy = urls.registrationBase(SEMVER1_HIVE);
  const semver1Note = 'Base URL of Azure storage where NuGet package registration info is stored';
  add(legacy, 'RegistrationsBaseUrl', semver1Note);
  add(legacy, 'RegistrationsBaseUrl/3.0.0-rc', `${semver1Note} used by RC clients. This base URL does not include SemVer 2.0.0 packages.`);
  add(legacy, 'RegistrationsBaseUrl/3.0.0-beta', `${semver1Note} used by Beta clients. This base URL does not include SemVer 2.0.0 packages.`);
  const gz1 = urls.registrationBase(HIVES[1] as Hive);
  add(gz1, 'RegistrationsBaseUrl/3.4.0', `${semver1Note} in GZIP format. This base URL does not include SemVer 2.0.0 packages.`);
  const gz2 = urls.registrationBase(SEMVER2_HIVE);
  add(gz2, 'RegistrationsBaseUrl/3.6.0', `${semver1Note} in GZIP format. This base URL includes SemVer 2.0.0 packages.`);
  add(gz2, 'RegistrationsBaseUrl/Versioned', `${semver1Note} in GZIP format. This base URL includes SemVer 2.0.0 packages.`, {
    clientVersion: '4.3.0-alpha',
  });

  add(
    urls.flatBase,
    'PackageBaseAddress/3.0.0',
    `Base URL of where NuGet packages are stored, in the format ${urls.flatBase}{id-lower}/{version-lower}/{id-lower}.{version-lower}.nupkg`,
  );
  add(`${urls.main}/api/v2`, 'LegacyGallery');
  add(`${urls.main}/api/v2`, 'LegacyGallery/2.0.0');
  add(`${urls.main}/api/v2/package`, 'PackagePublish/2.0.0');
  add(`${urls.main}/api/v2/symbolpackage`, 'SymbolPackagePublish/4.9.0', 'The gallery symbol publish endpoint.');
  const reportAbuse = `${urls.main}/packages/{id}/{version}/ReportAbuse`;
  add(reportAbuse, 'ReportAbuseUriTemplate/3.0.0-rc', 'URI template used by NuGet Client to construct Report Abuse URL for packages used by RC clients');
  add(reportAbuse, 'ReportAbuseUriTemplate/3.0.0-beta', 'URI template used by NuGet Client to construct Report Abuse URL for packages');
  add(`${urls.main}/packages/{id}/{version}?_src=template`, 'PackageDetailsUriTemplate/5.1.0', 'URI template used by NuGet Client to construct details URL for packages');
  add(`${urls.main}/profiles/{owner}?_src=template`, 'OwnerDetailsUriTemplate/6.11.0', 'URI template used by NuGet Client to construct owner URL for packages');
  add(
    `${legacy}{id-lower}/index.json`,
    'PackageDisplayMetadataUriTemplate/3.0.0-rc',
    'URI template used by NuGet Client to construct display metadata for Packages using ID',
  );
  add(
    `${legacy}{id-lower}/{version-lower}.json`,
    'PackageVersionDisplayMetadataUriTemplate/3.0.0-rc',
    'URI template used by NuGet Client to construct display metadata for Packages using ID, Version',
  );
  add(urls.catalogIndex(), 'Catalog/3.0.0', 'Index of the NuGet package catalog.');
  if (options.repositorySignatures) {
    const note = "The endpoint for discovering information about this package source's repository signatures.";
    add(urls.repositorySignatures('4.7.0'), 'RepositorySignatures/4.7.0', note);
    add(urls.repositorySignatures('5.0.0'), 'RepositorySignatures/5.0.0', note);
  }
  add(urls.vulnerabilityIndex(), 'VulnerabilityInfo/6.7.0', 'The endpoint for discovering information about vulnerabilities of packages in this package source.');
  add(
    `${urls.flatBase}{lower_id}/{lower_version}/readme`,
    'ReadmeUriTemplate/6.13.0',
    "URI template used by NuGet Client to construct a URL for downloading a package's README.",
  );
  return {
    version: '3.0.0',
    resources,
    '@context': { '@vocab': 'http://schema.nuget.org/services#', comment: 'http://www.w3.org/2000/01/rdf-schema#comment' },
  };
}

export function buildRepositorySignatures(): unknown {
  return { allRepositorySigned: false, signingCertificates: [] };
}

// ---------------------------------------------------------------------------------------------------------
// Flat container (docs/api/package-base-address-resource.md): every version, listed or not, lowercase.

export function buildFlatIndex(versions: readonly PackageVersionState[]): unknown {
  return { versions: versions.map((s) => s.pkg.lowerVersion) };
}

// ---------------------------------------------------------------------------------------------------------
// Registration (docs/api/registration-base-url-resource.md; NuGetGallery EntityBuilder.cs)

const REGISTRATION_CONTAINER_CONTEXT = {
  '@vocab': 'http://schema.nuget.org/schema#',
  catalog: 'http://schema.nuget.org/catalog#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  items: { '@id': 'catalog:item', '@container': '@set' },
  commitTimeStamp: { '@id': 'catalog:commitTimeStamp', '@type': 'xsd:dateTime' },
  commitId: { '@id': 'catalog:commitId' },
  count: { '@id': 'catalog:count' },
  parent: { '@id': 'catalog:parent', '@type': '@id' },
  tags: { '@id': 'tag', '@container': '@set' },
  reasons: { '@container': '@set' },
  packageTargetFrameworks: { '@id': 'packageTargetFramework', '@container': '@set' },
  dependencyGroups: { '@id': 'dependencyGroup', '@container': '@set' },
  dependencies: { '@id': 'dependency', '@container': '@set' },
  packageContent: { '@type': '@id' },
  published: { '@type': 'xsd:dateTime' },
  registration: { '@type': '@id' },
};

const REGISTRATION_LEAF_CONTEXT = {
  '@vocab': 'http://schema.nuget.org/schema#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  catalogEntry: { '@type': '@id' },
  registration: { '@type': '@id' },
  packageContent: { '@type': '@id' },
  published: { '@type': 'xsd:dateTime' },
};

/** The versions a hive shows: SemVer1-only hives leave SemVer2 packages out (protocol digest §3.5). */
export function versionsInHive(hive: Hive, versions: readonly PackageVersionState[]): PackageVersionState[] {
  return versions.filter((s) => hive.semVer2 || !s.pkg.semVer2);
}

/** NuGet's normalized range text (`[1.0.0, 2.0.0)`, `[13.0.3, )`), which nuget.org's catalog stores. */
export function normalizeRange(range: string): string {
  if (range.trim() === '') return '(, )';
  const r = parseRange(range);
  if (!r || r.float) return range;
  const lo = r.min ? toNormalizedString(r.min) : '';
  const hi = r.max ? toNormalizedString(r.max) : '';
  return `${r.min && r.minInclusive ? '[' : '('}${lo}, ${hi}${r.max && r.maxInclusive ? ']' : ')'}`;
}

function splitList(value: string, separator: RegExp): string[] {
  return value
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function latestCommit(states: readonly PackageVersionState[]): { commitId: string; commitTimeStamp: string } {
  let best = states[0];
  for (const s of states) if (best === undefined || s.commitTimeStamp > best.commitTimeStamp) best = s;
  return { commitId: best?.commitId ?? '', commitTimeStamp: best?.commitTimeStamp ?? '' };
}

function buildCatalogEntry(urls: FeedUrls, hive: Hive, s: PackageVersionState): Record<string, unknown> {
  const p = s.pkg;
  const n = p.nuspec;
  const catalogLeaf = urls.catalogLeaf(s);
  const entry: Record<string, unknown> = {
    '@id': catalogLeaf,
    '@type': 'PackageDetails',
    authors: n.authors,
  };
  if (n.dependencyGroups.length > 0) {
    entry['dependencyGroups'] = n.dependencyGroups.map((g) => {
      const groupId = `${catalogLeaf}#dependencygroup${g.targetFramework ? `/${g.targetFramework.toLowerCase()}` : ''}`;
      const group: Record<string, unknown> = { '@id': groupId, '@type': 'PackageDependencyGroup' };
      if (g.dependencies.length > 0) {
        group['dependencies'] = g.dependencies.map((d) => ({
          '@id': `${groupId}/${toLowerInvariant(d.id)}`,
          '@type': 'PackageDependency',
          id: d.id,
          range: normalizeRange(d.range),
          registration: urls.registrationIndex(hive, d.id),
        }));
      }
      if (g.targetFramework) group['targetFramework'] = g.targetFramework;
      return group;
    });
  }
  // Deprecation is written only into the SemVer2 hive (EntityBuilder.UpdateCatalogEntry).
  if (hive.semVer2 && s.deprecation) entry['deprecation'] = buildDeprecation(`${catalogLeaf}#deprecation`, s.deprecation);
  entry['description'] = n.description;
  entry['iconUrl'] = p.icon ? urls.icon(p.lowerId, p.lowerVersion) : '';
  entry['id'] = p.id;
  entry['language'] = n.language;
  entry['licenseExpression'] = n.licenseExpression;
  entry['licenseUrl'] = n.licenseExpression ? `${urls.galleryPackage(p.id, p.normalizedVersion)}/license` : n.licenseUrl;
  entry['listed'] = s.listed;
  entry['minClientVersion'] = n.minClientVersion;
  entry['packageContent'] = urls.nupkg(p.lowerId, p.lowerVersion);
  entry['projectUrl'] = n.projectUrl;
  entry['published'] = s.published;
  entry['requireLicenseAcceptance'] = n.requireLicenseAcceptance;
  entry['summary'] = n.summary;
  const tags = splitList(n.tags, /[\s,;]+/);
  entry['tags'] = tags.length > 0 ? tags : [''];
  entry['title'] = n.title;
  entry['version'] = p.fullVersion;
  if (s.vulnerabilities.length > 0) {
    // Registration carries severity as a string ("2"); search and vulnerability pages use integers.
    entry['vulnerabilities'] = s.vulnerabilities.map((v, i) => ({
      '@id': `${catalogLeaf}#vulnerability/GitHub/${i + 1}`,
      '@type': 'Vulnerability',
      advisoryUrl: v.url,
      severity: String(v.severity),
    }));
  }
  return entry;
}

function buildDeprecation(id: string, d: Deprecation): Record<string, unknown> {
  const out: Record<string, unknown> = { '@id': id, '@type': 'deprecation' };
  if (d.alternatePackage) {
    out['alternatePackage'] = {
      '@id': `${id}/alternatePackage`,
      '@type': 'alternatePackage',
      id: d.alternatePackage.id,
      range: d.alternatePackage.range ?? '*',
    };
  }
  if (d.message !== undefined) out['message'] = d.message;
  out['reasons'] = [...d.reasons];
  return out;
}

function buildLeafItem(urls: FeedUrls, hive: Hive, s: PackageVersionState): Record<string, unknown> {
  return {
    '@id': urls.registrationLeaf(hive, s.pkg.lowerId, s.pkg.lowerVersion),
    '@type': 'Package',
    commitId: s.commitId,
    commitTimeStamp: s.commitTimeStamp,
    catalogEntry: buildCatalogEntry(urls, hive, s),
    packageContent: urls.nupkg(s.pkg.lowerId, s.pkg.lowerVersion),
    registration: urls.registrationIndex(hive, s.pkg.lowerId),
  };
}

interface PageSlice {
  readonly leaves: readonly PackageVersionState[];
  /** Normalized with case kept (EntityBuilder uses ToNormalizedString); URLs use the lowercase form. */
  readonly lower: string;
  readonly upper: string;
}

function paginate(leaves: readonly PackageVersionState[]): PageSlice[] {
  const pages: PageSlice[] = [];
  for (let i = 0; i < leaves.length; i += LEAVES_PER_PAGE) {
    const slice = leaves.slice(i, i + LEAVES_PER_PAGE);
    const first = slice[0];
    const last = slice[slice.length - 1];
    if (first && last) pages.push({ leaves: slice, lower: first.pkg.normalizedVersion, upper: last.pkg.normalizedVersion });
  }
  return pages;
}

/** The registration index of one id in one hive; null (404) when the hive has no version of it. */
export function buildRegistrationIndex(urls: FeedUrls, hive: Hive, versions: readonly PackageVersionState[]): unknown {
  const leaves = versionsInHive(hive, versions);
  const first = leaves[0];
  if (!first) return null;
  const lowerId = first.pkg.lowerId;
  const indexUrl = urls.registrationIndex(hive, lowerId);
  const inline = leaves.length < INLINE_PAGES_BELOW;
  const pages = paginate(leaves);
  return {
    '@id': indexUrl,
    '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
    ...latestCommit(leaves),
    count: pages.length,
    items: pages.map((page) =>
      inline
        ? {
            '@id': urls.inlinedPage(hive, lowerId, page.lower, page.upper),
            '@type': 'catalog:CatalogPage',
            ...latestCommit(page.leaves),
            count: page.leaves.length,
            items: page.leaves.map((s) => buildLeafItem(urls, hive, s)),
            parent: indexUrl,
            lower: page.lower,
            upper: page.upper,
          }
        : {
            '@id': urls.registrationPage(hive, lowerId, page.lower, page.upper),
            '@type': 'catalog:CatalogPage',
            ...latestCommit(page.leaves),
            count: page.leaves.length,
            lower: page.lower,
            upper: page.upper,
          },
    ),
    '@context': REGISTRATION_CONTAINER_CONTEXT,
  };
}

/**
 * A separate registration page document, addressed by the lowercase bounds in its URL; null when the id is
 * inlined (< 128 versions: nuget.org stores no page blobs) or no page has those bounds.
 */
export function buildRegistrationPage(
  urls: FeedUrls,
  hive: Hive,
  versions: readonly PackageVersionState[],
  lowerToken: string,
  upperToken: string,
): unknown {
  const leaves = versionsInHive(hive, versions);
  const first = leaves[0];
  if (!first || leaves.length < INLINE_PAGES_BELOW) return null;
  const page = paginate(leaves).find((p) => p.lower.toLowerCase() === lowerToken && p.upper.toLowerCase() === upperToken);
  if (!page) return null;
  const lowerId = first.pkg.lowerId;
  return {
    '@id': urls.registrationPage(hive, lowerId, page.lower, page.upper),
    '@type': 'catalog:CatalogPage',
    ...latestCommit(page.leaves),
    count: page.leaves.length,
    items: page.leaves.map((s) => buildLeafItem(urls, hive, s)),
    parent: urls.registrationIndex(hive, lowerId),
    lower: page.lower,
    upper: page.upper,
    '@context': REGISTRATION_CONTAINER_CONTEXT,
  };
}

/** A registration leaf document; null when the hive hides that version. */
export function buildRegistrationLeaf(urls: FeedUrls, hive: Hive, s: PackageVersionState): unknown {
  if (versionsInHive(hive, [s]).length === 0) return null;
  return {
    '@id': urls.registrationLeaf(hive, s.pkg.lowerId, s.pkg.lowerVersion),
    '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
    catalogEntry: urls.catalogLeaf(s),
    listed: s.listed,
    packageContent: urls.nupkg(s.pkg.lowerId, s.pkg.lowerVersion),
    published: s.published,
    registration: urls.registrationIndex(hive, s.pkg.lowerId),
    '@context': REGISTRATION_LEAF_CONTEXT,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Search and autocomplete (docs/api/search-query-service-resource.md, search-autocomplete-service-resource.md)

export interface SearchParams {
  readonly q: string;
  readonly skip: number;
  readonly take: number;
  readonly prerelease: boolean;
  readonly semVer2: boolean;
  readonly packageType: string;
}

function intParam(value: string | null, fallback: number, max: number): number {
  const n = value === null ? NaN : Number.parseInt(value, 10);
  return Number.isFinite(n) ? Math.min(Math.max(n, 0), max) : fallback;
}

/** Reads search/autocomplete parameters with nuget.org's defaults (semVerLevel missing = 1.0.0). */
export function parseSearchParams(query: URLSearchParams): SearchParams {
  const semVerLevel = parseVersion(query.get('semVerLevel') ?? '1.0.0');
  return {
    q: (query.get('q') ?? '').trim(),
    skip: intParam(query.get('skip'), 0, 3000),
    take: intParam(query.get('take'), 20, 1000),
    prerelease: (query.get('prerelease') ?? '').toLowerCase() === 'true',
    semVer2: semVerLevel !== null && semVerLevel.major >= 2,
    packageType: (query.get('packageType') ?? '').trim(),
  };
}

/** Listed versions a search client may see under these parameters, ascending. */
function visibleVersions(versions: readonly PackageVersionState[], p: SearchParams): PackageVersionState[] {
  return versions.filter((s) => s.listed && (p.semVer2 || !s.pkg.semVer2) && (p.prerelease || !isPrerelease(s.pkg.version)));
}

function packageTypesOf(n: Nuspec): string[] {
  return n.packageTypes.length > 0 ? [...n.packageTypes] : ['Dependency'];
}

function matchesQuery(latest: FeedPackage, q: string): boolean {
  if (q === '') return true;
  const lower = q.toLowerCase();
  const packageIdFilter = /^packageid:(.*)$/i.exec(q);
  if (packageIdFilter) return toLowerInvariant((packageIdFilter[1] ?? '').trim()) === latest.lowerId;
  const n = latest.nuspec;
  const haystack = [latest.id, n.title, n.description, n.summary, n.tags].join('\n').toLowerCase();
  return splitList(lower, /\s+/).every((term) => haystack.includes(term));
}

/** Search results sorted by id; `byId` maps lower id → every version (ascending). */
export function buildSearchResponse(urls: FeedUrls, byId: ReadonlyMap<string, readonly PackageVersionState[]>, p: SearchParams): unknown {
  const hive = p.semVer2 ? SEMVER2_HIVE : SEMVER1_HIVE;
  const matches: Array<{ latest: PackageVersionState; visible: PackageVersionState[] }> = [];
  for (const versions of byId.values()) {
    const visible = visibleVersions(versions, p);
    const latest = visible[visible.length - 1];
    if (!latest || !matchesQuery(latest.pkg, p.q)) continue;
    if (p.packageType && !packageTypesOf(latest.pkg.nuspec).some((t) => t.toLowerCase() === p.packageType.toLowerCase())) continue;
    matches.push({ latest, visible });
  }
  matches.sort((a, b) => (a.latest.pkg.lowerId < b.latest.pkg.lowerId ? -1 : a.latest.pkg.lowerId > b.latest.pkg.lowerId ? 1 : 0));
  return {
    '@context': { '@vocab': 'http://schema.nuget.org/schema#', '@base': urls.registrationBase(hive) },
    totalHits: matches.length,
    data: matches.slice(p.skip, p.skip + p.take).map(({ latest, visible }) => {
      const pkg = latest.pkg;
      const n = pkg.nuspec;
      const registration = urls.registrationIndex(hive, pkg.lowerId);
      const authors = splitList(n.authors, /,/);
      const owners = splitList(n.owners, /,/);
      const result: Record<string, unknown> = {
        '@id': registration,
        '@type': 'Package',
        registration,
        id: pkg.id,
        version: pkg.fullVersion,
        description: n.description,
        summary: n.summary,
        title: n.title,
        iconUrl: pkg.icon ? urls.icon(pkg.lowerId, pkg.lowerVersion) : '',
        licenseUrl: n.licenseExpression ? `${urls.galleryPackage(pkg.id, pkg.normalizedVersion)}/license` : n.licenseUrl,
        projectUrl: n.projectUrl,
        tags: splitList(n.tags, /[\s,;]+/),
        authors,
        owners: owners.length > 0 ? owners : authors,
        totalDownloads: visible.reduce((sum, s) => sum + s.downloads, 0),
        verified: false,
        packageTypes: packageTypesOf(n).map((name) => ({ name })),
        versions: visible.map((s) => ({
          version: s.pkg.fullVersion,
          downloads: s.downloads,
          '@id': urls.registrationLeaf(hive, s.pkg.lowerId, s.pkg.lowerVersion),
        })),
        vulnerabilities: latest.vulnerabilities.map((v) => ({ advisoryUrl: v.url, severity: v.severity })),
      };
      if (latest.deprecation) result['deprecation'] = buildDeprecation(`${urls.catalogLeaf(latest)}#deprecation`, latest.deprecation);
      return result;
    }),
  };
}

/** Autocomplete: `id=` lists that package's visible versions; otherwise ids matching `q` (prefix matches first). */
export function buildAutocompleteResponse(
  byId: ReadonlyMap<string, readonly PackageVersionState[]>,
  p: SearchParams,
  idParam: string | null,
): unknown {
  const context = { '@vocab': 'http://schema.nuget.org/schema#' };
  if (idParam !== null) {
    const versions = visibleVersions(byId.get(toLowerInvariant(idParam.trim())) ?? [], p);
    const data = versions.map((s) => (p.semVer2 ? s.pkg.fullVersion : s.pkg.normalizedVersion));
    return { '@context': context, totalHits: data.length, data };
  }
  const q = p.q.toLowerCase();
  const ids: Array<{ id: string; lowerId: string; prefix: boolean }> = [];
  for (const versions of byId.values()) {
    const latest = visibleVersions(versions, p).pop();
    if (!latest) continue;
    const lowerId = latest.pkg.lowerId;
    if (q !== '' && !lowerId.includes(q)) continue;
    ids.push({ id: latest.pkg.id, lowerId, prefix: lowerId.startsWith(q) });
  }
  ids.sort((a, b) => (a.prefix !== b.prefix ? (a.prefix ? -1 : 1) : a.lowerId < b.lowerId ? -1 : a.lowerId > b.lowerId ? 1 : 0));
  return { '@context': context, totalHits: ids.length, data: ids.slice(p.skip, p.skip + p.take).map((x) => x.id) };
}

// ---------------------------------------------------------------------------------------------------------
// VulnerabilityInfo (docs/api/vulnerability-info.md): an index of two pages, `base` and `update`.

export function buildVulnerabilityIndex(urls: FeedUrls, generation: number): unknown {
  return [
    {
      '@name': 'base',
      '@id': urls.vulnerabilityBase(generation),
      '@updated': vulnerabilityUpdated(generation, 0),
      comment: 'The base data for vulnerability update periodically',
    },
    {
      '@name': 'update',
      '@id': urls.vulnerabilityUpdate(generation),
      '@updated': vulnerabilityUpdated(generation, 1),
      comment: 'The patch data for the vulnerability. Contains all the vulnerabilities since base was updated.',
    },
  ];
}

export function buildVulnerabilityPage(data: VulnerabilityData): unknown {
  const out: Record<string, Array<{ url: string; severity: number; versions: string }>> = {};
  for (const [id, list] of Object.entries(data)) out[toLowerInvariant(id)] = list.map((v) => ({ url: v.url, severity: v.severity, versions: v.versions }));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Catalog (docs/api/catalog-resource.md): one page listing every package version by commit time.

const CATALOG_CONTEXT = {
  '@vocab': 'http://schema.nuget.org/catalog#',
  nuget: 'http://schema.nuget.org/schema#',
  items: { '@id': 'item', '@container': '@set' },
  parent: { '@type': '@id' },
  commitTimeStamp: { '@type': 'http://www.w3.org/2001/XMLSchema#dateTime' },
  'nuget:lastCreated': { '@type': 'http://www.w3.org/2001/XMLSchema#dateTime' },
  'nuget:lastEdited': { '@type': 'http://www.w3.org/2001/XMLSchema#dateTime' },
  'nuget:lastDeleted': { '@type': 'http://www.w3.org/2001/XMLSchema#dateTime' },
};

function byCommitTime(all: readonly PackageVersionState[]): PackageVersionState[] {
  return [...all].sort((a, b) => (a.commitTimeStamp < b.commitTimeStamp ? -1 : a.commitTimeStamp > b.commitTimeStamp ? 1 : 0));
}

export function buildCatalogIndex(urls: FeedUrls, all: readonly PackageVersionState[]): unknown {
  const commit = latestCommit(all);
  return {
    '@id': urls.catalogIndex(),
    '@type': ['CatalogRoot', 'AppendOnlyCatalog', 'Permalink'],
    ...commit,
    count: 1,
    'nuget:lastCreated': commit.commitTimeStamp,
    'nuget:lastDeleted': commit.commitTimeStamp,
    'nuget:lastEdited': commit.commitTimeStamp,
    items: [{ '@id': urls.catalogPage(), '@type': 'CatalogPage', ...commit, count: all.length }],
    '@context': CATALOG_CONTEXT,
  };
}

export function buildCatalogPage(urls: FeedUrls, all: readonly PackageVersionState[]): unknown {
  return {
    '@id': urls.catalogPage(),
    '@type': 'CatalogPage',
    ...latestCommit(all),
    count: all.length,
    items: byCommitTime(all).map((s) => ({
      '@id': urls.catalogLeaf(s),
      '@type': 'nuget:PackageDetails',
      commitId: s.commitId,
      commitTimeStamp: s.commitTimeStamp,
      'nuget:id': s.pkg.id,
      'nuget:version': s.pkg.fullVersion,
    })),
    parent: urls.catalogIndex(),
    '@context': CATALOG_CONTEXT,
  };
}

export function buildCatalogLeaf(urls: FeedUrls, s: PackageVersionState): unknown {
  const p = s.pkg;
  const n = p.nuspec;
  return {
    '@id': urls.catalogLeaf(s),
    '@type': ['PackageDetails', 'catalog:Permalink'],
    authors: n.authors,
    'catalog:commitId': s.commitId,
    'catalog:commitTimeStamp': s.commitTimeStamp,
    created: s.created,
    description: n.description,
    id: p.id,
    isPrerelease: isPrerelease(p.version),
    lastEdited: s.commitTimeStamp,
    listed: s.listed,
    packageHash: p.sha512,
    packageHashAlgorithm: 'SHA512',
    packageSize: p.bytes.length,
    published: s.published,
    requireLicenseAcceptance: n.requireLicenseAcceptance,
    title: n.title,
    verbatimVersion: p.fullVersion,
    version: p.fullVersion,
    '@context': {
      '@vocab': 'http://schema.nuget.org/schema#',
      catalog: 'http://schema.nuget.org/catalog#',
      xsd: 'http://www.w3.org/2001/XMLSchema#',
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

/** Azure Blob Storage's 404 body, which nuget.org's blob-backed endpoints return. */
export function blobNotFoundXml(now: Date = new Date()): string {
  return (
    '\uFEFF<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code>' +
    `<Message>The specified blob does not exist.\nRequestId:00000000-0000-0000-0000-000000000000\nTime:${now.toISOString()}</Message></Error>`
  );
}
