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
  /** The /metrics text (under --workers: every worker's, aggregated); default: this process's registry. */
  readonly exposition?: () => Promise<string>;
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
        const line = {
          method: ctx.method,
          url: ctx.url.slice(0, 512),
          route: labels.route,
          status: ctx.status,
          durationMs: Math.round(seconds * 1e4) / 10,
          cache: ctx.state['cache'] as string | undefined,
          resource: ctx.state['resource'] as string | undefined,
          code: ctx.state['errorCode'] as string | undefined,
          userAgent: ctx.get('User-Agent').slice(0, 200) || undefined,
        };
        if (labels.route === '/healthz' || labels.route === '/readyz' || labels.route === '/metrics') reqLog.debug(line, 'request');
        else reqLog.info(line, 'request');
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
  const router = createRouter({ proxy, writer, tls: deps.tls, readiness: deps.readiness, exposition: deps.exposition ?? (() => proxy.metrics.registry.metrics()) });
  const prefix = proxy.config.publicUrl ? new URL(proxy.config.publicUrl).pathname.replace(/\/+$/, '') : '';
  app.use(requestContext(proxy.log, proxy, deps.draining ?? (() => false)));
  app.use(errorMiddleware(proxy.log));
  app.use(stripPrefix(prefix));
  app.use(router.routes());
  return app;
}
