// createApp(deps): the Koa application and its middleware order —
// request context (id, logger, one log line, metrics) → errors → path prefix → router —
// behind the hit path, which answers from memory what it can before Koa sees the request.

import { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import Koa, { type Context, type Next } from 'koa';
import { HitPath } from './hit-path.ts';
import { errorMiddleware, ReplyWriter } from './http.ts';
import type { CacheResult } from './metrics.ts';
import { PackageStreams } from './package-streams.ts';
import type { Proxy } from './proxy.ts';
import { requestIdOf, RequestLog } from './request-log.ts';
import { createRouter } from './routes.ts';

export interface AppDeps {
  readonly proxy: Proxy;
  readonly tls: boolean;
  /** True once SIGTERM arrived: responses ask clients to close the connection. */
  readonly draining?: () => boolean;
  readonly readiness: () => Promise<{ ready: boolean; body: Record<string, unknown> }>;
  /** The /metrics text (under --workers: every worker's, aggregated); default: this process's registry. */
  readonly exposition?: () => Promise<string>;
}

/** One JSON log line and the HTTP metrics for every request, whatever happened inside. */
function requestContext(requests: RequestLog, proxy: Proxy, draining: () => boolean) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const reqId = requestIdOf(ctx.req.headers['x-request-id']);
    ctx.set('X-Request-Id', reqId);
    if (draining()) ctx.set('Connection', 'close');
    // Lines logged while answering carry the request id.
    ctx.state['log'] = proxy.log.child({ reqId });
    const started = requests.begin(ctx.req);
    try {
      await next();
    } finally {
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute;
      const record = {
        reqId,
        method: ctx.method,
        url: ctx.url,
        route: route === undefined ? 'unmatched' : String(route),
        status: ctx.status,
        cache: ctx.state['cache'] as CacheResult | undefined,
        resource: ctx.state['resource'] as string | undefined,
        code: ctx.state['errorCode'] as string | undefined,
        userAgent: ctx.get('User-Agent').slice(0, 200) || undefined,
        bytes: ctx.method === 'HEAD' ? 0 : (ctx.response.length ?? 0),
      };
      // Koa writes the body after the middleware returns (a streamed fill takes as long as its download):
      // the line and the duration are taken when the response is done, or its connection gone.
      const res = ctx.res;
      if (res.writableFinished || res.destroyed) requests.end(record, started);
      else res.once('close', () => requests.end(record, started));
    }
  };
}

/** Serves `/prefix/v3/...` as `/v3/...` when the public URL has a path a reverse proxy did not strip. */
function stripPrefix(prefix: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (prefix && (ctx.path === prefix || ctx.path.startsWith(`${prefix}/`))) ctx.path = ctx.path.slice(prefix.length) || '/';
    await next();
  };
}

/** Koa, with the hit path in front: a request the memory tier answers never builds a Koa context. */
class ProxyApp extends Koa {
  constructor(private readonly hits: HitPath) {
    super();
  }

  override callback(): (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => Promise<void> {
    const full = super.callback();
    return (req, res) => (req instanceof IncomingMessage && res instanceof ServerResponse && this.hits.serve(req, res) ? Promise.resolve() : full(req, res));
  }
}

export function createApp(deps: AppDeps): Koa {
  const { proxy } = deps;
  const { config, metrics } = proxy;
  const draining = deps.draining ?? (() => false);
  const requests = new RequestLog(proxy.log, metrics, proxy.activity, config.trustProxy);
  const streams = new PackageStreams({
    maxStreams: config.maxPackageStreams,
    queueLength: config.packageStreamQueue,
    stallTimeoutMs: config.clientStallTimeoutSeconds * 1000,
    metrics,
  });
  const hits = new HitPath({
    tier: proxy.memory,
    streams,
    requests,
    metrics,
    config,
    tls: deps.tls,
    draining,
    checkGeneration: () => proxy.checkGeneration(),
    noteServed: (lowerId, lowerVersion) => proxy.noteServed(lowerId, lowerVersion),
  });
  // Evictions and tools that change the cache underneath reach the responses held in memory.
  proxy.local.watch((change) => hits.noteChange(change));
  const writer = new ReplyWriter({ metrics, tier: proxy.memory, rewriter: proxy.rewriter, hits, streams });
  const app = new ProxyApp(hits);
  app.proxy = config.trustProxy;
  // Koa would print every error to stderr itself; errors are logged once, by errorMiddleware.
  app.silent = true;
  const router = createRouter({ proxy, writer, tls: deps.tls, readiness: deps.readiness, exposition: deps.exposition ?? (() => proxy.metrics.registry.metrics()) });
  const prefix = config.publicUrl ? new URL(config.publicUrl).pathname.replace(/\/+$/, '') : '';
  app.use(requestContext(requests, proxy, draining));
  app.use(errorMiddleware(proxy.log));
  app.use(stripPrefix(prefix));
  app.use(router.routes());
  return app;
}
