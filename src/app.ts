// createApp(deps): the Koa application and its middleware order —
// request context (id, logger, one log line, metrics) → errors → path prefix → router.

import { randomUUID } from 'node:crypto';
import Koa, { type Context, type Next } from 'koa';
import { errorMiddleware, ReplyWriter } from './http.ts';
import type { Logger } from './logger.ts';
import type { CacheResult } from './metrics.ts';
import type { Proxy } from './proxy.ts';
import { createRouter } from './routes.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AppDeps {
  readonly proxy: Proxy;
  readonly tls: boolean;
  /** True once SIGTERM arrived: responses ask clients to close the connection. */
  readonly draining?: () => boolean;
  readonly readiness: () => Promise<{ ready: boolean; body: Record<string, unknown> }>;
}

/** One JSON log line and the HTTP metrics for every request, whatever happened inside. */
function requestContext(log: Logger, proxy: Proxy, draining: () => boolean) {
  const { metrics } = proxy;
  return async (ctx: Context, next: Next): Promise<void> => {
    const incoming = ctx.get('X-Request-Id');
    const reqId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', reqId);
    const reqLog = log.child({ reqId });
    if (draining()) ctx.set('Connection', 'close');
    ctx.state['log'] = reqLog;
    // Read now: a handler that stops reading a body early (an oversized form) destroys the request, and its socket with it.
    const remoteAddress = ctx.ip;
    const remotePort = ctx.req.socket.remotePort;
    const started = process.hrtime.bigint();
    metrics.httpInFlight.inc();
    try {
      await next();
    } finally {
      metrics.httpInFlight.dec();
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const labels = { route: String(route), method: ctx.method };
      const finish = () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.httpRequests.inc({ ...labels, status: String(ctx.status) });
        metrics.httpDuration.observe(labels, seconds);
        // The web page's last-hour view counts the NuGet API only (not probes, scrapes or the page itself).
        if (labels.route.startsWith('/v3/')) {
          proxy.activity.traffic.record({ status: ctx.status, cache: ctx.state['cache'] as CacheResult | undefined, bytes: ctx.method === 'HEAD' ? 0 : (ctx.response.length ?? 0) });
        }
        // pino-http's field names (req.id/method/url/remoteAddress, res.statusCode, responseTime in ms), so log
        // pipelines that know that shape read these lines as they are; plus the proxy's own route and cache result.
        const userAgent = ctx.get('User-Agent');
        const line = {
          req: {
            id: reqId,
            method: ctx.method,
            url: ctx.url.slice(0, 512),
            // The client: X-Forwarded-For's first address with --trust-proxy, else the socket's peer.
            remoteAddress,
            remotePort,
            ...(userAgent ? { headers: { 'user-agent': userAgent.slice(0, 200) } } : {}),
          },
          res: { statusCode: ctx.status },
          responseTime: Math.round(seconds * 1e4) / 10,
          route: labels.route,
          cache: ctx.state['cache'] as string | undefined,
          resource: ctx.state['resource'] as string | undefined,
          code: ctx.state['errorCode'] as string | undefined,
        };
        if (labels.route === '/healthz' || labels.route === '/readyz' || labels.route === '/metrics') reqLog.debug(line, 'request completed');
        else reqLog.info(line, 'request completed');
      };
      // Streamed bodies finish later than the middleware chain: log when the response is really done.
      if (ctx.respond !== false && ctx.body && typeof (ctx.body as NodeJS.ReadableStream).pipe === 'function') {
        ctx.res.once('close', finish);
      } else {
        finish();
      }
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

export function createApp(deps: AppDeps): Koa {
  const { proxy } = deps;
  const app = new Koa();
  app.proxy = proxy.config.trustProxy;
  // Koa would print every error to stderr itself; errors are logged once, by errorMiddleware.
  app.silent = true;
  const writer = new ReplyWriter(proxy.metrics, Math.floor((proxy.config.memoryCacheMb * 1024 * 1024) / 2));
  const router = createRouter({ proxy, writer, tls: deps.tls, readiness: deps.readiness });
  const prefix = proxy.config.publicUrl ? new URL(proxy.config.publicUrl).pathname.replace(/\/+$/, '') : '';
  app.use(requestContext(proxy.log, proxy, deps.draining ?? (() => false)));
  app.use(errorMiddleware(proxy.log));
  app.use(stripPrefix(prefix));
  app.use(router.routes());
  return app;
}
