// Answers, before Koa, every request the memory tier can answer completely: a package file, or a fresh
// document rendered for this public base and encoding, held as a ready response (headers and body built
// once, on the full path). One lookup by URL, one write, and the same log line, metrics and retention
// touch as the full path. Misses, stale documents, errors and everything else go through Koa, whose reply
// writer decides what may be held (see ReplyWriter).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { LruCache } from './cache/lru.ts';
import type { MemorySpace, MemoryTier } from './cache/memory-tier.ts';
import type { Config } from './config.ts';
import { acceptsGzip, etagMatches } from './http.ts';
import type { HeldChange } from './resources/local-packages.ts';
import { hotCounter, type HotCounter, type Metrics, type Resource } from './metrics.ts';
import type { FlatFile } from './nuget/paths.ts';
import type { PackageStreams } from './package-streams.ts';
import { requestIdOf, type RequestLog } from './request-log.ts';
import { publicBaseFor } from './routes.ts';

export interface HeldPackageFile {
  readonly lowerId: string;
  readonly lowerVersion: string;
  readonly file: FlatFile;
}

export interface HeldResponse {
  /** The route template, for the metrics label and the log line. */
  readonly route: string;
  readonly resource: Resource;
  /** Headers as the full path sent them (X-Cache: HIT), without per-request ones, as name, value, name, value … */
  readonly headers: readonly string[];
  readonly body: Buffer;
  readonly etag: string | undefined;
  /** Until when it may be served (ms since epoch); Infinity for package files (immutable). */
  readonly freshUntilMs: number;
  /** The package version it belongs to: touched for retention (.nupkg), dropped when evicted. */
  readonly packageFile?: HeldPackageFile;
}

export interface HitPathDeps {
  readonly tier: MemoryTier;
  readonly streams: PackageStreams;
  readonly requests: RequestLog;
  readonly metrics: Metrics;
  readonly config: Pick<Config, 'publicUrl' | 'trustProxy' | 'host'>;
  readonly tls: boolean;
  readonly draining: () => boolean;
  /** The proxy's generation check (drops the tier when a tool changed the cache); never rejects. */
  readonly checkGeneration: () => Promise<void>;
  /** Retention and the web page learn that a version was served. */
  readonly noteServed: (lowerId: string, lowerVersion: string) => void;
}

/** Bodies up to this size go out in one write; larger ones in slices (a stalled client is noticed). */
const ONE_WRITE_BYTES = 1024 * 1024;
/** Package files streamed from storage remembered (by key) to spot the second download. */
const STREAMED_KEYS = 10_000;
/** Host names whose public base is remembered (a handful in practice: localhost, the machine's names). */
const MAX_REMEMBERED_BASES = 64;

export class HitPath {
  private readonly held: MemorySpace<HeldResponse>;
  private readonly streamedOnce = new LruCache<true>(STREAMED_KEYS, () => 1);
  /** Package files being read whole to be held (see noteStreamed): their keys and their bytes together. */
  private readonly promoting = new Set<string>();
  private promotingBytes = 0;
  private readonly lookups = new Map<Resource, HotCounter>();
  private readonly served = new Map<Resource, HotCounter>();
  /** Host header → public base (see publicBase). */
  private readonly bases = new Map<string, string>();

  constructor(private readonly deps: HitPathDeps) {
    this.held = deps.tier.space<HeldResponse>('response', (h) => h.body.length + h.headers.length * 48 + 256);
  }

  /** The largest body held in memory: a quarter of the tier, so one file never pushes out everything else. */
  get maxHeldBytes(): number {
    return Math.floor(this.deps.tier.maxBytes / 4);
  }

  /**
   * The key a response is held under: its path (the routes it can come from ignore the query string, so a
   * query must not make copies); for documents also the public base and the encoding.
   */
  keyFor(req: IncomingMessage, document: { publicBase: string; gzip: boolean } | null): string {
    const path = pathOf(req.url ?? '');
    return document ? `${path}\u0000${document.publicBase}\u0000${document.gzip ? 'gzip' : 'identity'}` : path;
  }

  /** Holds a response for later requests (the full path calls this for what may be held). */
  remember(key: string, response: HeldResponse): void {
    if (response.body.length > this.maxHeldBytes) return;
    this.held.set(key, response);
    this.deps.metrics.memoryTierBytes.set(this.deps.tier.stats.bytes);
  }

  /**
   * A package file was streamed from storage. The second time within memory of the first, it is read
   * whole and held, so that a hot large file is served from memory too. Several are read at once (a restore
   * downloads many in parallel), but never more bytes together than the largest file held may have: the
   * memory these reads take beside the tier stays what one such file takes.
   */
  noteStreamed(key: string, size: number, load: () => Promise<HeldResponse | null>): void {
    if (size > this.maxHeldBytes || this.held.get(key)) return;
    if (!this.streamedOnce.get(key)) {
      this.streamedOnce.set(key, true);
      return;
    }
    // Skipped now (too much being read already): the next download tries again.
    if (this.promoting.has(key) || this.promotingBytes + size > this.maxHeldBytes) return;
    this.promoting.add(key);
    this.promotingBytes += size;
    void load()
      .then((r) => {
        if (r) this.remember(key, r);
      }, () => undefined)
      .finally(() => {
        this.promoting.delete(key);
        this.promotingBytes -= size;
      });
  }

  /** Fills, evictions and invalidations of the cache reach the held responses. */
  noteChange(change: HeldChange): void {
    if (change.kind === 'invalidated') {
      this.held.clear();
      this.streamedOnce.clear();
    } else if (change.kind === 'removed') {
      this.held.deleteWhere((h) => h.packageFile?.lowerId === change.lowerId && h.packageFile.lowerVersion === change.lowerVersion);
    }
    this.deps.metrics.memoryTierBytes.set(this.deps.tier.stats.bytes);
  }

  private lookup(req: IncomingMessage): { key: string; response: HeldResponse } | null {
    let key = pathOf(req.url ?? '');
    // Documents (their paths end in .json, package files' never do) are held per public base and encoding.
    if (key.endsWith('.json')) key = this.keyFor(req, { publicBase: this.publicBase(req), gzip: acceptsGzip(req.headers['accept-encoding']) });
    const response = this.held.get(key);
    if (!response) return null;
    if (response.freshUntilMs <= Date.now()) {
      this.held.delete(key);
      return null;
    }
    return { key, response };
  }

  /**
   * publicBaseFor(req), remembered by Host header where only that header decides it (no --public-url, no
   * --trust-proxy, a host name the proxy answers to as it is): a client sends the same one every time.
   */
  private publicBase(req: IncomingMessage): string {
    const { config, tls } = this.deps;
    const host = req.headers.host;
    if (config.publicUrl || config.trustProxy || host === undefined) return publicBaseFor(req, config, tls).base;
    const known = this.bases.get(host);
    if (known !== undefined) return known;
    const { base } = publicBaseFor(req, config, tls);
    // Untrusted names are answered with the socket's own address: not remembered by name.
    if (base === `${tls ? 'https' : 'http'}://${host}` && this.bases.size < MAX_REMEMBERED_BASES) this.bases.set(host, base);
    return base;
  }

  /** Answers `req` from memory when it can; false hands it to the full path. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const found = this.lookup(req);
    if (!found) return false;
    const r = found.response;
    const { requests, draining } = this.deps;
    const started = requests.begin(req);
    // At most once a second it looks at the cache's generation stamp; a change clears the tier for the
    // requests that follow.
    void this.deps.checkGeneration();
    const reqId = requestIdOf(req.headers['x-request-id']);
    const headers = [...r.headers, 'X-Request-Id', reqId];
    if (draining()) headers.push('Connection', 'close');
    let status = 200;
    let bytes = 0;
    const ifNoneMatch = req.headers['if-none-match'];
    const record = () =>
      requests.end(
        {
          reqId,
          method,
          url: req.url ?? '',
          route: r.route,
          status,
          cache: 'hit',
          resource: r.resource,
          code: undefined,
          userAgent: req.headers['user-agent']?.slice(0, 200) || undefined,
          bytes,
        },
        started,
      );
    this.counted(r.resource);
    if (r.packageFile?.file === 'nupkg') this.deps.noteServed(r.packageFile.lowerId, r.packageFile.lowerVersion);
    if (r.etag && ifNoneMatch && etagMatches(ifNoneMatch, r.etag)) {
      status = 304;
      res.writeHead(304, notModifiedHeaders(headers));
      res.end();
      record();
      return true;
    }
    headers.push('Content-Length', String(r.body.length));
    res.writeHead(200, headers);
    if (method === 'HEAD') {
      res.end();
      record();
      return true;
    }
    bytes = r.body.length;
    this.sent(r.resource, bytes);
    if (bytes <= ONE_WRITE_BYTES) {
      res.end(r.body);
      record();
    } else {
      void this.deps.streams.send(res, { kind: 'memory', data: r.body }, bytes).then(record);
    }
    return true;
  }

  private counted(resource: Resource): void {
    let c = this.lookups.get(resource);
    if (!c) {
      c = hotCounter(this.deps.metrics.cacheLookups, { resource, result: 'hit' });
      this.lookups.set(resource, c);
    }
    c.inc();
  }

  private sent(resource: Resource, bytes: number): void {
    let c = this.served.get(resource);
    if (!c) {
      c = hotCounter(this.deps.metrics.servedBytes, { resource, source: 'cache' });
      this.served.set(resource, c);
    }
    c.inc(bytes);
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** A 304 keeps the validators and caching headers of the 200 it stands for, and no body headers. */
function notModifiedHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase();
    if (name === 'content-type' || name === 'content-length' || name === 'content-encoding') continue;
    out.push(headers[i] as string, headers[i + 1] as string);
  }
  return out;
}
