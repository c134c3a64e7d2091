// The service index: classify upstream's resources by @type (never by host), and build the index clients
// see, with every served resource pointing at the proxy. Pure. Protocol digest §4, §10, §11, §16 (1–5).

import {
  PROXY_PATHS,
  readmeTemplatePath,
  registrationBasePath,
  signaturesPath,
} from './paths.ts';

export interface IndexResource {
  readonly '@id': string;
  readonly '@type': string | readonly string[];
  readonly comment?: string;
  readonly clientVersion?: string | readonly string[];
}

/** What the proxy does with a resource type. */
export type Family =
  | 'flat'
  | 'registration'
  | 'search'
  | 'autocomplete'
  | 'vulnerability'
  | 'signatures'
  | 'readme'
  | 'link'
  | 'drop';

/**
 * Every @type family the proxy knows, with its decision. "link" resources are web pages clients only show
 * as links (never fetched), so they keep upstream's URL. "drop": the proxy does not serve it and a client
 * must not bypass the mirror through it (Catalog: clients never use it; publish: this is a read-only mirror;
 * LegacyGallery: V2 is not served; SearchGalleryQueryService and the display-metadata templates are
 * internal to nuget.org). Unknown types are dropped too.
 */
const FAMILIES: ReadonlyArray<[prefix: string, family: Family]> = [
  ['PackageBaseAddress', 'flat'],
  ['RegistrationsBaseUrl', 'registration'],
  ['SearchQueryService', 'search'],
  ['SearchAutocompleteService', 'autocomplete'],
  ['VulnerabilityInfo', 'vulnerability'],
  ['RepositorySignatures', 'signatures'],
  ['ReadmeUriTemplate', 'readme'],
  ['PackageDetailsUriTemplate', 'link'],
  ['ReportAbuseUriTemplate', 'link'],
  ['OwnerDetailsUriTemplate', 'link'],
  ['SearchGalleryQueryService', 'drop'],
  ['PackageDisplayMetadataUriTemplate', 'drop'],
  ['PackageVersionDisplayMetadataUriTemplate', 'drop'],
  ['Catalog', 'drop'],
  ['PackagePublish', 'drop'],
  ['SymbolPackagePublish', 'drop'],
  ['LegacyGallery', 'drop'],
];

/** The family of one @type string: the name before the first '/' must match exactly. */
export function classifyType(type: string): Family {
  const name = type.split('/')[0] ?? '';
  for (const [prefix, family] of FAMILIES) if (name === prefix) return family;
  return 'drop';
}

function typesOf(r: IndexResource): string[] {
  return typeof r['@type'] === 'string' ? [r['@type']] : [...r['@type']];
}

export function familyOf(r: IndexResource): Family {
  for (const t of typesOf(r)) {
    const f = classifyType(t);
    if (f !== 'drop') return f;
  }
  return 'drop';
}

/** Registration hives named by what they hold, so names stay stable when upstream moves its URLs. */
export type HiveName = 'semver2' | 'gz-semver1' | 'semver1';

const HIVE_PREFERENCE: readonly HiveName[] = ['semver2', 'gz-semver1', 'semver1'];

export interface UpstreamLayout {
  readonly flat: string | null;
  /** Hive name → upstream base URL (with trailing slash). */
  readonly hives: ReadonlyMap<string, string>;
  /** The hive modern clients use (Versioned / 3.6.0), or the best one upstream has. */
  readonly primaryHive: string | null;
  readonly search: readonly string[];
  readonly autocomplete: readonly string[];
  readonly vulnerability: string | null;
  /** RepositorySignatures version → upstream URL. */
  readonly signatures: ReadonlyMap<string, string>;
  readonly readmeTemplate: string | null;
  readonly resources: readonly IndexResource[];
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export class InvalidServiceIndex extends Error {}

/** Validates upstream's service index (ServiceIndexResourceV3Provider rules) and returns its resources. */
export function parseServiceIndex(doc: unknown): IndexResource[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidServiceIndex('service index is not a JSON object');
  const o = doc as Record<string, unknown>;
  const version = typeof o['version'] === 'string' ? o['version'] : '';
  if (!/^3(\.|$)/.test(version)) throw new InvalidServiceIndex(`service index version '${version}' is not 3.x`);
  if (!Array.isArray(o['resources'])) throw new InvalidServiceIndex('service index has no resources array');
  const out: IndexResource[] = [];
  for (const r of o['resources'] as unknown[]) {
    if (r === null || typeof r !== 'object') continue;
    const rr = r as Record<string, unknown>;
    const type = rr['@type'];
    const typeOk = typeof type === 'string' || (Array.isArray(type) && type.every((t) => typeof t === 'string'));
    // The client silently skips entries without an absolute @id; so do we.
    if (!isHttpUrl(rr['@id']) || !typeOk) continue;
    const entry: IndexResource = { '@id': rr['@id'], '@type': type as string | string[] };
    const extra: { comment?: string; clientVersion?: string | string[] } = {};
    if (typeof rr['comment'] === 'string') extra.comment = rr['comment'];
    const cv = rr['clientVersion'];
    if (typeof cv === 'string' || (Array.isArray(cv) && cv.every((c) => typeof c === 'string'))) extra.clientVersion = cv as string | string[];
    out.push({ ...entry, ...extra });
  }
  return out;
}

function hiveNameFor(types: ReadonlySet<string>): HiveName {
  if (types.has('RegistrationsBaseUrl/3.6.0') || types.has('RegistrationsBaseUrl/Versioned')) return 'semver2';
  if (types.has('RegistrationsBaseUrl/3.4.0')) return 'gz-semver1';
  return 'semver1';
}

/** Groups registration resources by URL and names each group; returns upstream base → hive name. */
function nameHives(resources: readonly IndexResource[]): Map<string, string> {
  const typesByBase = new Map<string, Set<string>>();
  for (const r of resources) {
    if (familyOf(r) !== 'registration') continue;
    const base = withSlash(r['@id']);
    const set = typesByBase.get(base) ?? new Set<string>();
    for (const t of typesOf(r)) set.add(t);
    typesByBase.set(base, set);
  }
  const names = new Map<string, string>();
  const used = new Set<string>();
  for (const [base, types] of typesByBase) {
    let name: string = hiveNameFor(types);
    for (let i = 2; used.has(name); i++) name = `${hiveNameFor(types)}-${i}`;
    used.add(name);
    names.set(base, name);
  }
  return names;
}

export function buildLayout(resources: readonly IndexResource[]): UpstreamLayout {
  const hiveOf = nameHives(resources);
  const hives = new Map<string, string>();
  for (const [base, name] of hiveOf) hives.set(name, base);
  const primaryHive = HIVE_PREFERENCE.find((h) => hives.has(h)) ?? hives.keys().next().value ?? null;
  let flat: string | null = null;
  let vulnerability: string | null = null;
  let readmeTemplate: string | null = null;
  const search: string[] = [];
  const autocomplete: string[] = [];
  const signatures = new Map<string, string>();
  for (const r of resources) {
    const id = r['@id'];
    switch (familyOf(r)) {
      case 'flat':
        flat ??= withSlash(id);
        break;
      case 'search':
        if (!search.includes(id)) search.push(id);
        break;
      case 'autocomplete':
        if (!autocomplete.includes(id)) autocomplete.push(id);
        break;
      case 'vulnerability':
        vulnerability ??= id;
        break;
      case 'readme':
        readmeTemplate ??= id;
        break;
      case 'signatures':
        for (const t of typesOf(r)) {
          const v = t.split('/')[1];
          if (classifyType(t) === 'signatures' && v && !signatures.has(v)) signatures.set(v, id);
        }
        break;
      default:
        break;
    }
  }
  return { flat, hives, primaryHive, search, autocomplete, vulnerability, signatures, readmeTemplate, resources };
}

export interface ClientIndexOptions {
  /** The externally visible base URL, no trailing slash (e.g. https://nuget.corp.example/nuget). */
  readonly publicBase: string;
  /** RepositorySignatures must be https (the client throws otherwise), so it is only listed over https. */
  readonly https: boolean;
  /** Whether vulnerability data is available to serve (offline: only when a copy was mirrored). */
  readonly vulnerability: boolean;
  /** When given, only these RepositorySignatures versions are listed (offline: the ones mirrored). */
  readonly signatureVersions?: ReadonlySet<string>;
}

/** Client-recognised types per family (ServiceTypes.cs); added when upstream lacks them. */
const CLIENT_ALIASES: Partial<Record<Family, readonly string[]>> = {
  flat: ['PackageBaseAddress/3.0.0'],
  registration: [
    'RegistrationsBaseUrl/Versioned',
    'RegistrationsBaseUrl/3.6.0',
    'RegistrationsBaseUrl/3.4.0',
    'RegistrationsBaseUrl/3.0.0-rc',
    'RegistrationsBaseUrl/3.0.0-beta',
    'RegistrationsBaseUrl',
  ],
  search: ['SearchQueryService', 'SearchQueryService/3.0.0-beta', 'SearchQueryService/3.0.0-rc', 'SearchQueryService/3.4.0', 'SearchQueryService/3.5.0'],
  autocomplete: ['SearchAutocompleteService', 'SearchAutocompleteService/3.0.0-beta', 'SearchAutocompleteService/3.0.0-rc', 'SearchAutocompleteService/3.5.0'],
  vulnerability: ['VulnerabilityInfo/6.7.0'],
  readme: ['ReadmeUriTemplate/6.13.0'],
};

/**
 * The resources the proxy serves as one feed in front of several upstreams: flat container, the three
 * registration hives (SemVer 2; SemVer 1 gzipped; SemVer 1), search, autocomplete, README, vulnerabilities.
 * Link templates (details, report abuse, owners) and repository signatures are left out: they would name
 * one upstream for every package (a nuget.org signature list makes clients refuse other upstreams' packages).
 */
export function multiUpstreamResources(): IndexResource[] {
  const r: IndexResource[] = [];
  const registration: Array<[string, readonly string[]]> = [
    ['proxy:registration/semver2/', ['RegistrationsBaseUrl/Versioned', 'RegistrationsBaseUrl/3.6.0']],
    ['proxy:registration/gz-semver1/', ['RegistrationsBaseUrl/3.4.0']],
    ['proxy:registration/semver1/', ['RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.0.0-beta']],
  ];
  for (const [family, types] of Object.entries(CLIENT_ALIASES) as Array<[Family, readonly string[]]>) {
    if (family === 'registration') continue;
    for (const t of types) r.push({ '@id': `proxy:${family}`, '@type': t });
  }
  for (const [id, types] of registration) for (const t of types) r.push({ '@id': id, '@type': t });
  return r;
}

/** The resources the proxy serves when it has no upstream index at all (offline with an empty cache). */
export function offlineResources(): IndexResource[] {
  const r: IndexResource[] = [];
  for (const [family, types] of Object.entries(CLIENT_ALIASES) as Array<[Family, readonly string[]]>) {
    for (const t of types) r.push({ '@id': `proxy:${family}`, '@type': t });
  }
  return r;
}

/**
 * The index clients get: upstream's entries in upstream's order, each served family pointing at the proxy
 * (aliases kept, duplicates from multi-host upstreams collapsed), link templates kept, everything else
 * dropped; then any client-recognised alias upstream lacks, pointing at the same proxy resource.
 */
export function buildClientIndex(layout: UpstreamLayout, options: ClientIndexOptions): { version: string; resources: Array<Record<string, unknown>>; '@context': Record<string, string> } {
  const base = options.publicBase;
  const hiveOf = new Map<string, string>();
  for (const [name, url] of layout.hives) hiveOf.set(url, name);
  const out: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  const present = new Set<string>();

  // Upstream comments quote upstream URLs ("in the format https://api.nuget.org/v3-flatcontainer/…").
  const commentFor = (r: IndexResource, id: string): string | undefined =>
    r.comment === undefined ? undefined : r['@id'] === id ? r.comment : r.comment.split(withSlash(r['@id'])).join(withSlash(id)).split(r['@id']).join(id);

  const push = (id: string, type: string, extra: { comment?: string | undefined; clientVersion?: string | readonly string[] | undefined }) => {
    const key = `${id}\n${type}`;
    if (seen.has(key)) return;
    seen.add(key);
    present.add(type);
    const entry: Record<string, unknown> = { '@id': id, '@type': type };
    if (extra.comment) entry['comment'] = extra.comment;
    if (extra.clientVersion) entry['clientVersion'] = extra.clientVersion;
    out.push(entry);
  };

  const proxyUrlFor = (family: Family, r: IndexResource | null, type: string): string | null => {
    switch (family) {
      case 'flat':
        return base + PROXY_PATHS.flatContainer;
      case 'registration': {
        const hive = r ? hiveOf.get(withSlash(r['@id'])) : layout.primaryHive;
        return hive ? base + registrationBasePath(hive) : null;
      }
      case 'search':
        return base + PROXY_PATHS.search;
      case 'autocomplete':
        return base + PROXY_PATHS.autocomplete;
      case 'vulnerability':
        return options.vulnerability ? base + PROXY_PATHS.vulnerabilityIndex : null;
      case 'signatures': {
        const v = type.split('/')[1];
        const available = v !== undefined && layout.signatures.has(v) && (options.signatureVersions?.has(v) ?? true);
        return options.https && available ? base + signaturesPath(v) : null;
      }
      case 'readme':
        return base + readmeTemplatePath();
      case 'link':
        return r ? r['@id'] : null;
      case 'drop':
        return null;
    }
  };

  const families = new Set<Family>();
  for (const r of layout.resources) {
    for (const type of typesOf(r)) {
      const family = classifyType(type);
      const id = proxyUrlFor(family, r, type);
      if (id === null) continue;
      families.add(family);
      push(id, type, { comment: commentFor(r, id), clientVersion: r.clientVersion });
    }
  }
  for (const family of families) {
    for (const type of CLIENT_ALIASES[family] ?? []) {
      if (present.has(type)) continue;
      const id = proxyUrlFor(family, null, type);
      if (id !== null) push(id, type, { comment: 'alias added by nuget-proxy' });
    }
  }
  return {
    version: '3.0.0',
    resources: out,
    '@context': { '@vocab': 'http://schema.nuget.org/services#', comment: 'http://www.w3.org/2000/01/rdf-schema#comment' },
  };
}
