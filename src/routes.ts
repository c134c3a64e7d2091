// URL patterns → resource calls. The only module that reads request paths, query strings and headers;
// it decides the public base URL once per request and hands resources plain values.

import { hostname } from 'node:os';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Config } from './config.ts';
import { BadRequest, MethodNotAllowed, NotFound } from './errors.ts';
import type { ReplyWriter } from './http.ts';
import type { Logger } from './logger.ts';
import { PROXY_PATHS, parseFlatFile, parsePackageId } from './nuget/paths.ts';
import type { Proxy } from './proxy.ts';
import type { RequestContext } from './resources/types.ts';

export interface RouteDeps {
  readonly proxy: Proxy;
  readonly writer: ReplyWriter;
  /** Whether this listener terminates TLS itself. */
  readonly tls: boolean;
  readonly readiness: () => Promise<{ ready: boolean; body: Record<string, unknown> }>;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** Read once: os.hostname() is a system call, and this is on every request's path. */
const HOSTNAME = hostname().toLowerCase();
const HOST_SYNTAX = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PREFIX_SYNTAX = /^(?:\/[A-Za-z0-9._~-]+)*$/;

function first(header: string): string {
  return (header.split(',')[0] ?? '').trim();
}

/**
 * The base URL clients see. --public-url wins; with --trust-proxy the X-Forwarded-* headers are honoured;
 * otherwise the Host header is trusted only when it names this machine (loopback or its host name) and
 * the listening socket's own address is used instead of anything else a client claims.
 */
export function publicBaseFor(ctx: Context, config: Pick<Config, 'publicUrl' | 'trustProxy' | 'host'>, tls: boolean): { base: string; https: boolean } {
  if (config.publicUrl) {
    const base = config.publicUrl.replace(/\/+$/, '');
    return { base, https: base.startsWith('https:') };
  }
  let proto = tls ? 'https' : 'http';
  let host = ctx.get('Host');
  let prefix = '';
  if (config.trustProxy) {
    const fp = first(ctx.get('X-Forwarded-Proto')).toLowerCase();
    if (fp === 'http' || fp === 'https') proto = fp;
    const fh = first(ctx.get('X-Forwarded-Host'));
    if (fh && HOST_SYNTAX.test(fh)) host = fh;
    const fx = first(ctx.get('X-Forwarded-Prefix')).replace(/\/+$/, '');
    if (fx && PREFIX_SYNTAX.test(fx)) prefix = fx;
  } else {
    const name = host.replace(/:[0-9]+$/, '').toLowerCase();
    const trusted = HOST_SYNTAX.test(host) && (LOOPBACK_NAMES.has(name) || name === HOSTNAME || name === config.host.toLowerCase());
    if (!trusted) {
      const sock = ctx.req.socket;
      const addr = sock.localAddress ?? '127.0.0.1';
      host = `${addr.includes(':') ? `[${addr}]` : addr}:${sock.localPort ?? ''}`;
    }
  }
  if (!HOST_SYNTAX.test(host)) host = '127.0.0.1';
  return { base: `${proto}://${host}${prefix}`, https: proto === 'https' };
}

/** Raw (still percent-encoded) path segments after `prefix`. */
function segmentsAfter(ctx: Context, prefix: string): string[] {
  return ctx.path.slice(prefix.length).split('/');
}

export function createRouter(deps: RouteDeps): Router {
  const { proxy, writer } = deps;
  const router = new Router();

  const rcOf = (ctx: Context): RequestContext => {
    const { base, https } = publicBaseFor(ctx, proxy.config, deps.tls);
    ctx.state['publicBase'] = base;
    return { publicBase: base, https, log: (ctx.state['log'] as Logger | undefined) ?? proxy.log };
  };

  const handle = (path: string, fn: (ctx: Context, rc: RequestContext) => Promise<import('./http.ts').Reply>) => {
    router.get(path, async (ctx) => {
      await proxy.checkGeneration();
      const rc = rcOf(ctx);
      await writer.write(ctx, await fn(ctx, rc), rc.publicBase);
    });
    // GET routes in @koa/router also answer HEAD.
  };

  handle(PROXY_PATHS.serviceIndex, (_ctx, rc) => proxy.serviceIndex.serve(rc));

  handle(`${PROXY_PATHS.flatContainer}:id/index.json`, async (ctx, rc) => {
    const [idSeg = ''] = segmentsAfter(ctx, PROXY_PATHS.flatContainer);
    const id = parsePackageId(idSeg);
    if (!id.ok) throw new BadRequest(id.message);
    return proxy.flat.versions(id.value, rc);
  });

  handle(`${PROXY_PATHS.flatContainer}:id/:version/:file`, async (ctx) => {
    const [idSeg = '', versionSeg = '', fileSeg = ''] = segmentsAfter(ctx, PROXY_PATHS.flatContainer);
    const req = parseFlatFile(idSeg, versionSeg, fileSeg);
    if (!req.ok) throw req.status === 400 ? new BadRequest(req.message) : new NotFound(req.message);
    return proxy.flat.file(req.value);
  });

  handle(`${PROXY_PATHS.registrationRoot}:hive/*path`, async (ctx, rc) => {
    const [hive = '', ...rest] = segmentsAfter(ctx, PROXY_PATHS.registrationRoot);
    return proxy.registration.serve(hive, rest, rc);
  });

  handle(PROXY_PATHS.search, (ctx, rc) => proxy.search.query('search', ctx.querystring, rc));
  handle(PROXY_PATHS.autocomplete, (ctx, rc) => proxy.search.query('autocomplete', ctx.querystring, rc));

  handle(PROXY_PATHS.vulnerabilityIndex, () => proxy.vulnerability.serveIndex());
  handle(`${PROXY_PATHS.vulnerabilityRoot}:name/:file`, async (ctx) => {
    const [name = '', file = ''] = segmentsAfter(ctx, PROXY_PATHS.vulnerabilityRoot);
    if (!file.endsWith('.json')) throw new NotFound('unknown vulnerability page');
    return proxy.vulnerability.servePage(name, file.slice(0, -'.json'.length));
  });

  handle(`${PROXY_PATHS.signaturesRoot}:version/index.json`, async (ctx, rc) => {
    const [version = ''] = segmentsAfter(ctx, PROXY_PATHS.signaturesRoot);
    return proxy.signatures.serve(version, rc);
  });

  router.get('/healthz', (ctx) => {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = 'ok\n';
  });

  router.get('/readyz', async (ctx) => {
    const r = await deps.readiness();
    ctx.status = r.ready ? 200 : 503;
    ctx.body = r.body;
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = proxy.metrics.registry.contentType;
    ctx.body = await proxy.metrics.registry.metrics();
  });

  router.get('/', (ctx) => {
    const { base } = publicBaseFor(ctx, proxy.config, deps.tls);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `nuget-proxy: a NuGet V3 pull-through cache.\nService index: ${base}${PROXY_PATHS.serviceIndex}\n`;
  });

  router.all('/{*rest}', (ctx) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new MethodNotAllowed();
    throw new NotFound();
  });

  return router;
}
