// Maps a request path on the fake upstream's main or search server to a response (status, headers, body),
// with nuget.org's content types, cache headers and encodings (protocol digest §14). No sockets here.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { toLowerInvariant } from '../../src/nuget/identity.ts';
import {
  blobNotFoundXml,
  buildAutocompleteResponse,
  buildCatalogIndex,
  buildCatalogLeaf,
  buildCatalogPage,
  buildFlatIndex,
  buildRegistrationIndex,
  buildRegistrationLeaf,
  buildRegistrationPage,
  buildRepositorySignatures,
  buildSearchResponse,
  buildServiceIndex,
  buildVulnerabilityIndex,
  buildVulnerabilityPage,
  findHive,
  parseSearchParams,
  vulnerabilityTimestamp,
  type FeedUrls,
  type Hive,
} from './feed-model.ts';
import type { FeedStore } from './feed-store.ts';

export interface FeedResponse {
  readonly status: number;
  /** Response headers in lowercase, including content-type; content-length is added by the server. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** A precomputed strong ETag (quoted); when absent the server derives one from the body. */
  readonly etag?: string;
}

export interface RouteContext {
  readonly store: FeedStore;
  readonly urls: FeedUrls;
  /** Served over https: only then is RepositorySignatures advertised and served. */
  readonly tls: boolean;
  /** false: the service index lists no search or autocomplete resource (the search server still answers). */
  readonly search: boolean;
}

const JSON_TYPE = 'application/json';

function json(value: unknown, options: { gzip?: boolean; cacheControl?: string; contentType?: string } = {}): FeedResponse {
  const raw = Buffer.from(JSON.stringify(value), 'utf8');
  const headers: Record<string, string> = { 'content-type': options.contentType ?? JSON_TYPE };
  if (options.cacheControl) headers['cache-control'] = options.cacheControl;
  // The gz hives are stored as gzip blobs: the bytes on the wire are gzip whatever the client accepts.
  if (options.gzip) headers['content-encoding'] = 'gzip';
  return { status: 200, headers, body: options.gzip ? gzipSync(raw) : raw };
}

function blob(body: Buffer, contentType: string, cacheControl: string, extra: Record<string, string> = {}): FeedResponse {
  return { status: 200, headers: { 'content-type': contentType, 'cache-control': cacheControl, ...extra }, body };
}

export function notFound(): FeedResponse {
  return {
    status: 404,
    headers: { 'content-type': 'application/xml', 'x-ms-error-code': 'BlobNotFound' },
    body: Buffer.from(blobNotFoundXml(), 'utf8'),
  };
}

/** Tolerant decoding: a malformed escape simply matches nothing. */
function decodePath(pathname: string): string | null {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return null;
  }
}

function registration(ctx: RouteContext, hive: Hive, rest: readonly string[]): FeedResponse {
  const [lowerId, second, third, fourth] = rest;
  if (!lowerId) return notFound();
  const versions = ctx.store.versionsOf(lowerId);
  const options = { gzip: hive.gzip, cacheControl: 'no-store' };
  if (rest.length === 2 && second === 'index.json') {
    const doc = buildRegistrationIndex(ctx.urls, hive, versions);
    return doc === null ? notFound() : json(doc, options);
  }
  if (rest.length === 4 && second === 'page' && third && fourth?.endsWith('.json')) {
    const doc = buildRegistrationPage(ctx.urls, hive, versions, third, fourth.slice(0, -'.json'.length));
    return doc === null ? notFound() : json(doc, options);
  }
  if (rest.length === 2 && second?.endsWith('.json')) {
    const state = ctx.store.find(lowerId, second.slice(0, -'.json'.length));
    const doc = state ? buildRegistrationLeaf(ctx.urls, hive, state) : null;
    return doc === null ? notFound() : json(doc, options);
  }
  return notFound();
}

function flatContainer(ctx: RouteContext, rest: readonly string[]): FeedResponse {
  const [lowerId, second, file] = rest;
  if (!lowerId) return notFound();
  if (rest.length === 2 && second === 'index.json') {
    const versions = ctx.store.versionsOf(lowerId);
    // nuget.org: max-age=10 on the version list (DnxPackageVersionIndexCacheControl.cs).
    return versions.length === 0 ? notFound() : json(buildFlatIndex(versions), { cacheControl: 'max-age=10' });
  }
  if (rest.length !== 3 || !second || !file) return notFound();
  const state = ctx.store.find(lowerId, second);
  if (!state) return notFound();
  const pkg = state.pkg;
  if (file === `${lowerId}.${second}.nupkg`) {
    return {
      ...blob(pkg.bytes, 'application/octet-stream', 'max-age=120', { 'x-ms-meta-sha512': pkg.sha512 }),
      etag: `"0x${Buffer.from(pkg.sha512, 'base64').subarray(0, 8).toString('hex').toUpperCase()}"`,
    };
  }
  if (file === `${lowerId}.nuspec`) return blob(pkg.nuspecXml, 'text/xml', 'max-age=120');
  if (file === 'icon') return pkg.icon ? blob(pkg.icon.data, pkg.icon.contentType, 'max-age=120') : notFound();
  if (file === 'readme') return pkg.readme ? blob(pkg.readme, 'text/markdown', 'max-age=120') : notFound();
  return notFound();
}

function vulnerabilities(ctx: RouteContext, rest: readonly string[]): FeedResponse {
  // /v3-vulnerabilities/{ts}/vulnerability.base.json and /v3-vulnerabilities/{ts}/{ts2}/vulnerability.update.json
  for (let generation = 0; generation <= ctx.store.vulnerabilityGeneration; generation++) {
    const base = vulnerabilityTimestamp(generation, 0);
    const update = vulnerabilityTimestamp(generation, 1);
    if (rest.length === 2 && rest[0] === base && rest[1] === 'vulnerability.base.json') {
      return json(buildVulnerabilityPage(ctx.store.vulnerabilityData(generation) ?? {}), { cacheControl: 'max-age=3600' });
    }
    if (rest.length === 3 && rest[0] === base && rest[1] === update && rest[2] === 'vulnerability.update.json') {
      return json({}, { cacheControl: 'max-age=3600' });
    }
  }
  return notFound();
}

function catalog(ctx: RouteContext, rest: readonly string[]): FeedResponse {
  if (rest.length === 1 && rest[0] === 'index.json') return json(buildCatalogIndex(ctx.urls, ctx.store.all()));
  if (rest.length === 1 && rest[0] === 'page0.json') return json(buildCatalogPage(ctx.urls, ctx.store.all()));
  if (rest.length === 3 && rest[0] === 'data') {
    const state = ctx.store.all().find((s) => ctx.urls.catalogLeaf(s) === `${ctx.urls.main}/v3/catalog0/${rest.join('/')}`);
    return state ? json(buildCatalogLeaf(ctx.urls, state)) : notFound();
  }
  return notFound();
}

/** The main ("api.nuget.org") server. Paths are matched lowercase-only, like nuget.org's blob storage. */
export function routeMain(ctx: RouteContext, pathname: string): FeedResponse {
  const path = decodePath(pathname);
  if (path === null || path !== toLowerInvariant(path)) return notFound();
  const parts = path.split('/').slice(1);
  const [top, second, ...rest] = parts;
  if (path === '/v3/index.json') {
    return json(buildServiceIndex(ctx.urls, { repositorySignatures: ctx.tls, search: ctx.search }), { cacheControl: 'max-age=21600' });
  }
  if (top === 'v3-flatcontainer' && second !== undefined) return flatContainer(ctx, [second, ...rest]);
  if (top === 'v3' && second !== undefined) {
    const hive = findHive(second);
    if (hive) return registration(ctx, hive, rest);
    if (second === 'vulnerabilities' && rest.length === 1 && rest[0] === 'index.json') {
      return json(buildVulnerabilityIndex(ctx.urls, ctx.store.vulnerabilityGeneration), { cacheControl: 'max-age=3600' });
    }
    if (second === 'catalog0') return catalog(ctx, rest);
  }
  if (top === 'v3-vulnerabilities' && second !== undefined) return vulnerabilities(ctx, [second, ...rest]);
  if (ctx.tls && top === 'v3-index' && second === 'repository-signatures' && rest.length === 2 && rest[1] === 'index.json') {
    if (rest[0] === '4.7.0' || rest[0] === '5.0.0') return json(buildRepositorySignatures(), { cacheControl: 'max-age=3600' });
  }
  return notFound();
}

/** The search ("azuresearch-usnc/ussc") server: `/query`, `/autocomplete` and the same under `/b/`. */
export function routeSearch(ctx: RouteContext, pathname: string, query: URLSearchParams): FeedResponse {
  const path = pathname.startsWith('/b/') ? pathname.slice(2) : pathname;
  const contentType = 'application/json; charset=utf-8';
  if (path === '/query') {
    return json(buildSearchResponse(ctx.urls, ctx.store.byId(), parseSearchParams(query)), { contentType, cacheControl: 'no-cache' });
  }
  if (path === '/autocomplete') {
    return json(buildAutocompleteResponse(ctx.store.byId(), parseSearchParams(query), query.get('id')), { contentType, cacheControl: 'no-cache' });
  }
  if (path === '/') {
    // SearchGalleryQueryService's base; nuget.org answers its root with a small status document.
    return json({ status: 'ok', service: 'fake-upstream search' }, { contentType });
  }
  return {
    status: 404,
    headers: { 'content-type': contentType },
    body: Buffer.from(JSON.stringify({ error: 'not found' }), 'utf8'),
  };
}

/** A strong ETag from the body bytes (what Azure's per-blob ETag amounts to for a fake). */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('hex')}"`;
}
