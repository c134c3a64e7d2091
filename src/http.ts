// The Reply every resource returns, the one function that writes it (bodies, HEAD, Content-Length,
// compression, warnings), and the error middleware that turns any failure into a plain-text status.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Context, Next } from 'koa';
import { LruCache } from './cache/lru.ts';
import { isProxyError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { CacheResult, Metrics, Resource } from './metrics.ts';
import { renderJson } from './nuget/rewrite.ts';

const gzipAsync = promisify(gzip);

export type ReplyBody =
  /** A JSON document in stored (base-independent) form; `renderKey` identifies it for the render memo. */
  | { kind: 'json'; stored: string; renderKey?: string }
  | { kind: 'file'; open: () => Promise<NodeJS.ReadableStream>; size: number; contentType: string; etag?: string }
  | { kind: 'bytes'; data: Buffer; contentType: string; etag?: string };

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
}

/** Compressing tiny bodies costs more than it saves. */
const MIN_GZIP_BYTES = 1024;

export interface Rendered {
  readonly text: Buffer;
  gzipped?: Buffer;
}

export class ReplyWriter {
  private readonly rendered: LruCache<Rendered>;

  constructor(
    private readonly metrics: Metrics,
    memoryBytes: number,
  ) {
    this.rendered = new LruCache<Rendered>(memoryBytes, (r) => r.text.length + (r.gzipped?.length ?? 0) + 128);
  }

  private async render(body: Extract<ReplyBody, { kind: 'json' }>, publicBase: string, gzipWanted: boolean): Promise<{ data: Buffer; gzipped: boolean }> {
    const memoKey = body.renderKey ? `${body.renderKey}\n${publicBase}` : null;
    let r = memoKey ? this.rendered.get(memoKey) : undefined;
    if (!r) {
      r = { text: Buffer.from(renderJson(body.stored, publicBase), 'utf8') };
      if (memoKey) this.rendered.set(memoKey, r);
    }
    if (!gzipWanted || r.text.length < MIN_GZIP_BYTES) return { data: r.text, gzipped: false };
    if (!r.gzipped) {
      // zlib runs on the libuv thread pool: large documents do not block the event loop.
      r.gzipped = await gzipAsync(r.text, { level: 6 });
      if (memoKey) this.rendered.set(memoKey, r);
    }
    return { data: r.gzipped, gzipped: true };
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
    const body = reply.body;
    switch (body.kind) {
      case 'json': {
        const wantsGzip = /\bgzip\b/i.test(ctx.get('Accept-Encoding'));
        const { data, gzipped } = await this.render(body, publicBase, wantsGzip);
        ctx.set('Vary', 'Accept-Encoding');
        if (gzipped) ctx.set('Content-Encoding', 'gzip');
        ctx.type = 'application/json; charset=utf-8';
        this.send(ctx, data);
        this.metrics.servedBytes.inc({ resource: reply.resource, source }, head ? 0 : data.length);
        return;
      }
      case 'bytes':
        ctx.type = body.contentType;
        if (body.etag) ctx.set('ETag', body.etag);
        this.send(ctx, body.data);
        this.metrics.servedBytes.inc({ resource: reply.resource, source }, head ? 0 : body.data.length);
        return;
      case 'file':
        ctx.type = body.contentType;
        if (body.etag) ctx.set('ETag', body.etag);
        ctx.set('Accept-Ranges', 'none');
        if (head) {
          ctx.respond = false;
          ctx.set('Content-Length', String(body.size));
          ctx.res.writeHead(reply.status, ctx.response.headers as Record<string, string>);
          ctx.res.end();
          return;
        }
        ctx.body = await body.open();
        ctx.length = body.size;
        this.metrics.servedBytes.inc({ resource: reply.resource, source }, body.size);
        return;
    }
  }

  /** Koa answers HEAD for buffer bodies itself: headers (with Content-Length) and no body. */
  private send(ctx: Context, data: Buffer): void {
    ctx.body = data;
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
