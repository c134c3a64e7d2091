// A folder of .nupkg files (nested folders too: a share, a global-packages or hierarchical feed layout) as
// an upstream: it answers the same requests a V3 feed does — version lists, registration (built from the
// nuspecs, `published` = the file's modification time), search, autocomplete, package files — at
// `folder://{name}/…` URLs, with documents already in the proxy's stored form (BASE_MARKER URLs). Identity
// comes from each package's nuspec, never from its file name (`Foo.1.2.3.nupkg` is ambiguous).

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UpstreamInvalid } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Metrics, Resource } from './metrics.ts';
import { compareVersions, toLowerInvariant, toLowerVersion } from './nuget/identity.ts';
import { autocomplete, parseSearchParams, searchPackages, type LocalPackage } from './nuget/local-search.ts';
import type { Nuspec } from './nuget/nuspec.ts';
import { PROXY_PATHS, parseFlatFile, parsePackageId, parseRegistrationPath, registrationBasePath } from './nuget/paths.ts';
import { nuspecCatalogEntry, registrationDocuments, type LeafItem } from './nuget/registration-synthesis.ts';
import { BASE_MARKER } from './nuget/rewrite.ts';
import type { IndexResource } from './nuget/service-index.ts';
import { readNupkgFile, readNupkgManifest } from './nupkg.ts';
import { StorageError } from './storage/blob-store.ts';
import type { DocumentResult, DownloadResult, DownloadTarget, RequestOptions, UpstreamTransport } from './upstream.ts';

/** The proxy hive a folder's registration is served under (it holds every version, SemVer 2 included). */
export const FOLDER_HIVE = 'semver2';

/** A folder is rescanned at most this often, however many requests ask. */
const MIN_RESCAN_MS = 2000;

interface FolderPackage {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly nuspec: Nuspec;
  readonly nuspecXml: Buffer;
  readonly lowerVersion: string;
}

export function folderBaseUrl(name: string): string {
  return `folder://${name}/`;
}

/** The service index resources a folder upstream offers. */
export function folderResources(name: string): IndexResource[] {
  const base = folderBaseUrl(name);
  return [
    { '@id': `${base}flat/`, '@type': 'PackageBaseAddress/3.0.0' },
    { '@id': `${base}registration/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
    { '@id': `${base}registration/`, '@type': 'RegistrationsBaseUrl/Versioned' },
    { '@id': `${base}query`, '@type': 'SearchQueryService/3.0.0-beta' },
    { '@id': `${base}autocomplete`, '@type': 'SearchAutocompleteService/3.0.0-beta' },
  ];
}

function etagOf(body: string | Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64').slice(0, 27)}"`;
}

/** errno codes only the written side of a copy raises: the proxy's spool area is full or read-only, not the folder. */
const SPOOL_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS']);

/** Runs a copy into the spool file; a full or read-only spool area is the proxy's storage failing (507/503), not the folder's. */
async function spoolTo(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && SPOOL_FULL_CODES.has(code)) throw new StorageError(`cannot spool the package file: ${(err as Error).message}`, code, { cause: err });
    throw err;
  }
}

export class FolderUpstream implements UpstreamTransport {
  private packages = new Map<string, Map<string, FolderPackage>>();
  /** By path: files are re-read only when their size or modification time changes. */
  private known = new Map<string, FolderPackage>();
  private scannedAt = 0;
  private scanning: Promise<void> | null = null;

  constructor(
    private readonly deps: { readonly name: string; readonly folder: string; readonly metrics: Metrics; readonly log: Logger },
  ) {}

  private async scan(): Promise<void> {
    const { folder, log, name } = this.deps;
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    const next = new Map<string, Map<string, FolderPackage>>();
    const known = new Map<string, FolderPackage>();
    for (const e of entries) {
      if (!e.isFile() || !e.name.toLowerCase().endsWith('.nupkg') || e.name.toLowerCase().endsWith('.symbols.nupkg')) continue;
      const path = join(e.parentPath, e.name);
      let pkg: FolderPackage | undefined;
      try {
        const s = await stat(path);
        const previous = this.known.get(path);
        if (previous && previous.size === s.size && previous.mtimeMs === s.mtimeMs) pkg = previous;
        else {
          const m = await readNupkgManifest(path);
          pkg = { path, size: s.size, mtimeMs: s.mtimeMs, nuspec: m.nuspec, nuspecXml: m.nuspecXml, lowerVersion: toLowerVersion(m.nuspec.version) };
        }
      } catch (err) {
        log.warn({ upstream: name, path, err: (err as Error).message }, 'folder upstream: skipping an unreadable package');
        continue;
      }
      known.set(path, pkg);
      const lowerId = toLowerInvariant(pkg.nuspec.id);
      let versions = next.get(lowerId);
      if (!versions) {
        versions = new Map();
        next.set(lowerId, versions);
      }
      const existing = versions.get(pkg.lowerVersion);
      // Two files for one version: the first path wins, every time.
      if (existing && existing.path < path) continue;
      if (existing) log.warn({ upstream: name, path, other: existing.path }, 'folder upstream: two files hold the same package version');
      versions.set(pkg.lowerVersion, pkg);
    }
    this.packages = next;
    this.known = known;
    this.scannedAt = Date.now();
  }

  private async current(): Promise<Map<string, Map<string, FolderPackage>>> {
    if (Date.now() - this.scannedAt >= MIN_RESCAN_MS) {
      this.scanning ??= this.scan().finally(() => {
        this.scanning = null;
      });
      await this.scanning;
    }
    return this.packages;
  }

  private sorted(versions: Map<string, FolderPackage> | undefined): FolderPackage[] {
    return [...(versions?.values() ?? [])].sort((a, b) => compareVersions(a.nuspec.version, b.nuspec.version));
  }

  private ok(body: string | Buffer, resource: Resource): DocumentResult {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    this.deps.metrics.upstreamRequests.inc({ upstream: this.deps.name, resource, outcome: 'ok' });
    return { kind: 'ok', body: buf, etag: etagOf(buf), lastModified: null, contentType: 'application/json', url: '' };
  }

  private notFound(resource: Resource): DocumentResult {
    this.deps.metrics.upstreamRequests.inc({ upstream: this.deps.name, resource, outcome: 'not_found' });
    return { kind: 'not_found' };
  }

  private leaves(versions: readonly FolderPackage[]): LeafItem[] {
    const regBase = BASE_MARKER + registrationBasePath(FOLDER_HIVE);
    const flatBase = BASE_MARKER + PROXY_PATHS.flatContainer;
    return versions.map((p) => nuspecCatalogEntry(p.nuspec, { regBase, flatBase }, new Date(p.mtimeMs).toISOString()));
  }

  /** Reading a folder is local: no upstream deadline applies. */
  newDeadline(): number {
    return Number.POSITIVE_INFINITY;
  }

  async fetchDocument(href: string, options: RequestOptions): Promise<DocumentResult> {
    const url = new URL(href);
    const packages = await this.current();
    const [area = '', ...rest] = url.pathname.replace(/^\/+/, '').split('/');
    if (area === 'flat') {
      const [idSeg = '', second = '', third] = rest;
      if (second === 'index.json' && third === undefined) {
        const id = parsePackageId(idSeg);
        const versions = id.ok ? this.sorted(packages.get(id.value)) : [];
        if (versions.length === 0) return this.notFound(options.resource);
        return this.ok(JSON.stringify({ versions: versions.map((v) => v.lowerVersion) }), options.resource);
      }
      const file = parseFlatFile(idSeg, second, third ?? '');
      const pkg = file.ok ? packages.get(file.value.lowerId)?.get(file.value.lowerVersion) : undefined;
      if (!file.ok || !pkg || file.value.file !== 'nuspec') return this.notFound(options.resource);
      return this.ok(pkg.nuspecXml, options.resource);
    }
    if (area === 'registration') {
      const parsed = parseRegistrationPath(rest);
      if (!parsed.ok) return this.notFound(options.resource);
      const p = parsed.value;
      const versions = this.sorted(packages.get(p.lowerId));
      if (versions.length === 0) return this.notFound(options.resource);
      const docs = registrationDocuments(p.lowerId, this.leaves(versions), { regBase: BASE_MARKER + registrationBasePath(FOLDER_HIVE) });
      if (p.kind === 'index') return this.ok(JSON.stringify(docs.index), options.resource);
      if (p.kind === 'page') {
        const page = docs.pages.find((x) => x.lower === p.lower && x.upper === p.upper);
        return page ? this.ok(JSON.stringify(page.document), options.resource) : this.notFound(options.resource);
      }
      const leaf = docs.leaves.get(p.lowerVersion);
      return leaf ? this.ok(JSON.stringify(leaf), options.resource) : this.notFound(options.resource);
    }
    if (area === 'query' || area === 'autocomplete') {
      const local: LocalPackage[] = [...packages.entries()].map(([lowerId, versions]) => ({
        lowerId,
        versions: this.sorted(versions).map((v) => ({ lowerVersion: v.lowerVersion, version: v.nuspec.version, nuspec: v.nuspec })),
      }));
      local.sort((a, b) => (a.lowerId < b.lowerId ? -1 : 1));
      const doc =
        area === 'query'
          ? searchPackages(local, parseSearchParams(url.searchParams), {
              regBase: BASE_MARKER + registrationBasePath(FOLDER_HIVE),
              flatBase: BASE_MARKER + PROXY_PATHS.flatContainer,
            })
          : autocomplete(local, url.searchParams);
      return this.ok(JSON.stringify(doc), options.resource);
    }
    return this.notFound(options.resource);
  }

  /**
   * Copies a package file into `target` (a path, or a FillSpool the clients of the fill follow), with its
   * length known up front and checked, like a feed's Content-Length: a file that changes while it is read
   * fails the attempt before its end reaches the target.
   */
  async download(href: string, target: DownloadTarget, options: { resource: Resource; maxBytes: number }): Promise<DownloadResult> {
    const url = new URL(href);
    const [area = '', idSeg = '', versionSeg = '', fileSeg = ''] = url.pathname.replace(/^\/+/, '').split('/');
    const file = area === 'flat' ? parseFlatFile(idSeg, versionSeg, fileSeg) : null;
    const pkg = file?.ok ? (await this.current()).get(file.value.lowerId)?.get(file.value.lowerVersion) : undefined;
    if (!file?.ok || !pkg) {
      this.deps.metrics.upstreamRequests.inc({ upstream: this.deps.name, resource: options.resource, outcome: 'not_found' });
      return { kind: 'not_found' };
    }
    let source: Readable;
    let declared: number;
    if (file.value.file === 'nupkg') {
      declared = (await stat(pkg.path)).size;
      if (declared > options.maxBytes) throw new UpstreamInvalid(`package is ${declared} bytes, more than the configured maximum (${options.maxBytes})`);
      source = createReadStream(pkg.path, { highWaterMark: 1024 * 1024 });
    } else {
      const inPackage = file.value.file === 'icon' ? pkg.nuspec.iconFile : file.value.file === 'readme' ? pkg.nuspec.readmeFile : '';
      const bytes = file.value.file === 'nuspec' ? pkg.nuspecXml : inPackage ? await readNupkgFile(pkg.path, inPackage) : null;
      if (!bytes) {
        this.deps.metrics.upstreamRequests.inc({ upstream: this.deps.name, resource: options.resource, outcome: 'not_found' });
        return { kind: 'not_found' };
      }
      declared = bytes.length;
      source = Readable.from([bytes]);
    }
    const hash = createHash('sha512');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        hash.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        cb(size === declared ? null : new UpstreamInvalid(`${pkg.path} changed while it was read (${size} of ${declared} bytes)`));
      },
    });
    const sink = typeof target === 'string' ? createWriteStream(target) : await target.begin({ declaredBytes: declared, sha512: null });
    // A full or read-only disk while copying out of the folder is the proxy's storage failing (507/503).
    await spoolTo(() => pipeline(source, meter, sink));
    this.deps.metrics.upstreamRequests.inc({ upstream: this.deps.name, resource: options.resource, outcome: 'ok' });
    this.deps.metrics.upstreamBytes.inc({ upstream: this.deps.name, resource: options.resource }, size);
    return { kind: 'ok', bytes: size, sha512: hash.digest('base64'), contentType: null };
  }

  close(): void {
    // Nothing held open: every read opens and closes its file.
  }
}
