// The Reply every resource returns, the one function that writes it (bodies, HEAD, Content-Length,
// compression, warnings), and the error middleware that turns any failure into a plain-text status.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Context, Next } from 'koa';
import type { MemorySpace, MemoryTier } from './cache/memory-tier.ts';
import { isProxyError, NotFound } from './errors.ts';
import type { HeldPackageFile, HeldResponse, HitPath } from './hit-path.ts';
import type { Logger } from './logger.ts';
import type { CacheResult, Metrics, Resource } from './metrics.ts';
import { renderJson, type RenderTemplate } from './nuget/rewrite.ts';
import type { BodySource, PackageStreams } from './package-streams.ts';
import type { RewritePool } from './rewrite-pool.ts';

const gzipAsync = promisify(gzip);

export type ReplyBody =
  /** A JSON document in stored (base-independent) form; `renderKey` identifies it for the render memo. */
  | { kind: 'json'; stored: string; renderKey?: string }
  /** A stored file: streamed at the client's pace (`open`), or read whole to be held in memory (`readAll`). */
  | { kind: 'file'; size: number; contentType: string; etag?: string; open: () => Promise<BodySource>; readAll: () => Promise<Buffer | null> }
  | { kind: 'bytes'; data: Buffer; contentType: string; etag?: string }
  /**
   * A body still arriving (a fill streamed through): sent as it comes, with Content-Length when known,
   * else chunked. If the stream fails, the connection is aborted: the client never sees a complete body.
   */
  | { kind: 'stream'; stream: NodeJS.ReadableStream; size: number | null; contentType: string; etag?: string };

export interface Reply {
  readonly status: number;
  readonly body: ReplyBody;
  readonly resource: Resource;
  readonly cache?: CacheResult;
  readonly warnings?: readonly string[];
  /** Immutable blobs may be cached by intermediaries forever; metadata briefly. */
  readonly immutable?: boolean;
  /** Extra response headers; they win over the defaults above (the web page: CSP, no-store). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A fresh document: until when (ms since epoch) the same answer may be given from memory. */
  readonly freshUntilMs?: number;
  /** The package file this reply carries (immutable: it may be held in memory until evicted). */
  readonly packageFile?: HeldPackageFile;
}

/** Compressing tiny bodies costs more than it saves. */
const MIN_GZIP_BYTES = 1024;
/** Files up to this size are read whole, in one read, and held in memory; larger ones are streamed. */
const ONE_READ_BYTES = 1024 * 1024;
/** Documents from this size on are rendered from a template on a worker thread (see RewritePool). */
const TEMPLATE_MIN_CHARS = 64 * 1024;

/** Whether an Accept-Encoding header accepts gzip. */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return acceptEncoding !== undefined && /\bgzip\b/i.test(acceptEncoding);
}

/** Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 §13.1.2), or is `*`. */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const opaque = (t: string) => (t.startsWith('W/') ? t.slice(2) : t);
  const want = opaque(etag);
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || opaque(tag) === want;
  });
}

/** How a streamed body ended short, for the request's log line. */
const STREAM_CODES = { closed: 'CLIENT_CLOSED', stalled: 'CLIENT_STALLED', failed: 'STORAGE_READ_FAILED' } as const;

/** Headers that belong to one request (or are recomputed per request), never to a held response. */
const PER_REQUEST_HEADERS = new Set(['x-request-id', 'connection', 'content-length']);

export interface ReplyWriterDeps {
  readonly metrics: Metrics;
  readonly tier: MemoryTier;
  readonly rewriter: Pick<RewritePool, 'template' | 'render'>;
  readonly hits: HitPath;
  readonly streams: PackageStreams;
}

export class ReplyWriter {
  /** Templates (by render key) and gzipped renderings (by render key and base) of documents. */
  private readonly templates: MemorySpace<RenderTemplate>;
  private readonly gzipped: MemorySpace<Buffer>;

  constructor(private readonly deps: ReplyWriterDeps) {
    this.templates = deps.tier.space<RenderTemplate>('render', (t) => t.bytes.byteLength + t.cuts.byteLength + 128);
    this.gzipped = deps.tier.space<Buffer>('render', (b) => b.length + 128);
  }

  private async render(body: Extract<ReplyBody, { kind: 'json' }>, publicBase: string, gzipWanted: boolean): Promise<{ data: Buffer; gzipped: boolean }> {
    const memoKey = body.renderKey && gzipWanted ? `gz\u0000${body.renderKey}\u0000${publicBase}` : null;
    const memo = memoKey ? this.gzipped.get(memoKey) : undefined;
    if (memo) return { data: memo, gzipped: true };
    let text: Buffer;
    if (body.stored.length < TEMPLATE_MIN_CHARS) {
      text = Buffer.from(renderJson(body.stored, publicBase), 'utf8');
    } else {
      // Big documents: split once (per document version), then every render is a copy of byte ranges,
      // both on a worker thread: the event loop never walks megabytes of JSON.
      const templateKey = body.renderKey ? `t\u0000${body.renderKey}` : null;
      let template = templateKey ? this.templates.get(templateKey) : undefined;
      if (!template) {
        template = await this.deps.rewriter.template(body.stored);
        if (templateKey) this.templates.set(templateKey, template);
      }
      text = await this.deps.rewriter.render(template, publicBase);
    }
    if (!gzipWanted || text.length < MIN_GZIP_BYTES) return { data: text, gzipped: false };
    // zlib runs on the libuv thread pool: large documents do not block the event loop.
    const data = await gzipAsync(text, { level: 6 });
    if (memoKey) this.gzipped.set(memoKey, data);
    return { data, gzipped: true };
  }

  /** Writes `reply` to the Koa context. The only place that sets response bodies. */
  async write(ctx: Context, reply: Reply, publicBase: string): Promise<void> {
    ctx.state['cache'] = reply.cache;
    ctx.state['resource'] = reply.resource;
    ctx.status = reply.status;
    if (reply.warnings && reply.warnings.length > 0) ctx.set('X-NuGet-Warning', reply.warnings.map(headerSafe));
    if (reply.cache) ctx.set('X-Cache', reply.cache.toUpperCase());
    ctx.set('Cache-Control', reply.immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=60');
    if (reply.headers) ctx.set(reply.headers);
    const head = ctx.method === 'HEAD';
    const source = reply.cache === 'miss' || reply.cache === 'coalesced' ? 'upstream' : 'cache';
    const { metrics, hits } = this.deps;
    const body = reply.body;
    switch (body.kind) {
      case 'json': {
        const gzip = acceptsGzip(ctx.get('Accept-Encoding'));
        const { data, gzipped } = await this.render(body, publicBase, gzip);
        ctx.set('Vary', 'Accept-Encoding');
        if (gzipped) ctx.set('Content-Encoding', 'gzip');
        ctx.type = 'application/json; charset=utf-8';
        ctx.body = data;
        metrics.servedBytes.inc({ resource: reply.resource, source }, head ? 0 : data.length);
        // A fresh document, as plain as a hit: later requests for it are answered from memory until it expires.
        if (reply.status === 200 && reply.freshUntilMs !== undefined && !reply.warnings?.length && !reply.headers) {
          hits.remember(hits.keyFor(ctx.req, { publicBase, gzip }), this.held(ctx, reply, data, reply.freshUntilMs));
        }
        return;
      }
      case 'bytes':
        ctx.type = body.contentType;
        if (body.etag) ctx.set('ETag', body.etag);
        if (this.notModified(ctx, body.etag)) return;
        // Koa answers HEAD for buffer bodies itself: headers (with Content-Length) and no body.
        ctx.body = body.data;
        metrics.servedBytes.inc({ resource: reply.resource, source }, head ? 0 : body.data.length);
        if (reply.status === 200 && reply.packageFile) hits.remember(hits.keyFor(ctx.req, null), this.held(ctx, reply, body.data, Infinity));
        return;
      case 'file':
        return this.writeFile(ctx, reply, body, source);
      case 'stream':
        ctx.type = body.contentType;
        if (body.etag) ctx.set('ETag', body.etag);
        ctx.set('Accept-Ranges', 'none');
        // Koa pipes it with stream.pipeline: a stream error destroys the response (the connection).
        ctx.body = body.stream;
        if (body.size !== null) ctx.length = body.size;
        metrics.servedBytes.inc({ resource: reply.resource, source }, head ? 0 : (body.size ?? 0));
        return;
    }
  }

  /** 304 for a GET or HEAD whose If-None-Match names the body's ETag. */
  private notModified(ctx: Context, etag: string | undefined): boolean {
    const ifNoneMatch = ctx.get('If-None-Match');
    if (!etag || !ifNoneMatch || ctx.status !== 200 || !etagMatches(ifNoneMatch, etag)) return false;
    ctx.status = 304;
    return true;
  }

  /**
   * A stored file. A small one is read in one read, sent and held in memory; a large one takes a stream
   * slot and goes out at the client's pace (the second download of a hot one holds it).
   */
  private async writeFile(ctx: Context, reply: Reply, body: Extract<ReplyBody, { kind: 'file' }>, source: 'cache' | 'upstream'): Promise<void> {
    ctx.type = body.contentType;
    if (body.etag) ctx.set('ETag', body.etag);
    ctx.set('Accept-Ranges', 'none');
    if (this.notModified(ctx, body.etag)) return;
    ctx.length = body.size;
    if (ctx.method === 'HEAD') {
      ctx.respond = false;
      ctx.res.writeHead(reply.status, ctx.response.headers as Record<string, string>);
      ctx.res.end();
      return;
    }
    const { streams, metrics, hits } = this.deps;
    if (body.size <= ONE_READ_BYTES) {
      const data = await body.readAll();
      if (!data) throw new NotFound('the file is no longer in the cache');
      ctx.body = data;
      metrics.servedBytes.inc({ resource: reply.resource, source }, data.length);
      if (reply.status === 200 && reply.packageFile) hits.remember(hits.keyFor(ctx.req, null), this.held(ctx, reply, data, Infinity));
      return;
    }
    // Noted as the download starts, not when it ends: while slow clients take minutes over a large file,
    // the second concurrent download of it already holds it, and the clients after it are served from memory.
    if (reply.status === 200 && reply.packageFile) {
      const key = hits.keyFor(ctx.req, null);
      hits.noteStreamed(key, body.size, async () => {
        const data = await body.readAll();
        return data ? this.held(ctx, reply, data, Infinity) : null;
      });
    }
    // Waits for a slot (or throws ServiceBusy: a 503 while nothing has been sent yet).
    const release = await streams.acquire(ctx.res);
    try {
      const bodySource = await body.open();
      ctx.respond = false;
      ctx.res.writeHead(reply.status, ctx.response.headers as Record<string, string>);
      metrics.servedBytes.inc({ resource: reply.resource, source }, body.size);
      const outcome = await streams.send(ctx.res, bodySource, body.size);
      if (outcome !== 'done') ctx.state['errorCode'] = STREAM_CODES[outcome];
    } finally {
      release();
    }
  }

  /** The response just written, as the hit path will send it again (X-Cache: HIT). */
  private held(ctx: Context, reply: Reply, data: Buffer, freshUntilMs: number): HeldResponse {
    const headers: string[] = [];
    for (const [name, value] of Object.entries(ctx.response.headers)) {
      if (PER_REQUEST_HEADERS.has(name) || value === undefined) continue;
      if (name === 'x-cache') headers.push(name, 'HIT');
      else if (Array.isArray(value)) for (const v of value) headers.push(name, v);
      else headers.push(name, String(value));
    }
    const etag = ctx.response.get('ETag') || undefined;
    return {
      route: String((ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched'),
      resource: reply.resource,
      headers,
      body: data,
      etag,
      freshUntilMs,
      ...(reply.packageFile ? { packageFile: reply.packageFile } : {}),
    };
  }
}

/** Header values must be one line of visible ASCII. */
function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

/**
 * Turns thrown errors into responses: ProxyErrors keep their status and (if exposed) message; anything
 * else is a 500 with a fixed message — never a stack trace. One place logs errors.
 */
export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const reqLog: Logger = (ctx.state['log'] as Logger | undefined) ?? log;
      if (isProxyError(err)) {
        ctx.status = err.status;
        for (const [k, v] of Object.entries(err.headers)) ctx.set(k, headerSafe(v));
        ctx.state['errorCode'] = err.code;
        const message = err.expose ? err.message : 'The proxy could not complete the request.';
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = `${message}\n`;
        if (err.status >= 500) {
          ctx.set('X-NuGet-Warning', headerSafe(`nuget-proxy: ${message}`));
          reqLog.warn({ code: err.code, err: err.message, cause: err.cause instanceof Error ? err.cause.message : undefined }, 'request failed');
        } else {
          reqLog.debug({ code: err.code, err: err.message }, 'request rejected');
        }
      } else {
        ctx.status = 500;
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = 'Internal error in nuget-proxy.\n';
        ctx.state['errorCode'] = 'INTERNAL';
        reqLog.error({ err }, 'unexpected error');
      }
    }
  };
}
