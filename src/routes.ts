// URL patterns → resource calls. The only module that reads request paths, query strings and headers;
// it decides the public base URL once per request and hands resources plain values.

import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Config } from './config.ts';
import { BadRequest, isProxyError, MethodNotAllowed, NotFound, ProxyError } from './errors.ts';
import type { Reply, ReplyWriter } from './http.ts';
import type { Logger } from './logger.ts';
import { PROXY_PATHS, parseFlatFile, parsePackageId, parseVersionSegment } from './nuget/paths.ts';
import type { Proxy } from './proxy.ts';
import { CATALOG_SORTS, type CatalogSort } from './resources/catalog.ts';
import type { RequestContext } from './resources/types.ts';
import { AccessToken } from './web/access-token.ts';
import { renderHome } from './web/home-page.ts';
import { faviconReply, htmlReply, LOGIN_CONTENT_SECURITY_POLICY, renderError, renderLogin, styleReply, withPageHeaders, type Shell } from './web/layout.ts';
import { renderPackage } from './web/package-page.ts';
import { basePathOf, WEB_PATHS } from './web/paths.ts';

export interface RouteDeps {
  readonly proxy: Proxy;
  readonly writer: ReplyWriter;
  /** Whether this listener terminates TLS itself. */
  readonly tls: boolean;
  readonly readiness: () => Promise<{ ready: boolean; body: Record<string, unknown> }>;
  /** The Prometheus text for /metrics. */
  readonly exposition: () => Promise<string>;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** Read once: os.hostname() is a system call, and this is on every request's path. */
const HOSTNAME = hostname().toLowerCase();
const HOST_SYNTAX = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PREFIX_SYNTAX = /^(?:\/[A-Za-z0-9._~-]+)*$/;

function first(header: string): string {
  return (header.split(',')[0] ?? '').trim();
}

function headerOf(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : '';
}

/**
 * The base URL clients see. --public-url wins; with --trust-proxy the X-Forwarded-* headers are honoured;
 * otherwise the Host header is trusted only when it names this machine (loopback or its host name) and
 * the listening socket's own address is used instead of anything else a client claims.
 */
export function publicBaseFor(req: IncomingMessage, config: Pick<Config, 'publicUrl' | 'trustProxy' | 'host'>, tls: boolean): { base: string; https: boolean } {
  if (config.publicUrl) {
    const base = config.publicUrl.replace(/\/+$/, '');
    return { base, https: base.startsWith('https:') };
  }
  let proto = tls ? 'https' : 'http';
  let host = headerOf(req, 'host');
  let prefix = '';
  if (config.trustProxy) {
    const fp = first(headerOf(req, 'x-forwarded-proto')).toLowerCase();
    if (fp === 'http' || fp === 'https') proto = fp;
    const fh = first(headerOf(req, 'x-forwarded-host'));
    if (fh && HOST_SYNTAX.test(fh)) host = fh;
    const fx = first(headerOf(req, 'x-forwarded-prefix')).replace(/\/+$/, '');
    if (fx && PREFIX_SYNTAX.test(fx)) prefix = fx;
  } else {
    const name = host.replace(/:[0-9]+$/, '').toLowerCase();
    const trusted = HOST_SYNTAX.test(host) && (LOOPBACK_NAMES.has(name) || name === HOSTNAME || name === config.host.toLowerCase());
    if (!trusted) {
      const sock = req.socket;
      const addr = sock.localAddress ?? '127.0.0.1';
      host = `${addr.includes(':') ? `[${addr}]` : addr}:${sock.localPort ?? ''}`;
    }
  }
  if (!HOST_SYNTAX.test(host)) host = '127.0.0.1';
  return { base: `${proto}://${host}${prefix}`, https: proto === 'https' };
}

/** `host[:port]` of a base URL, the default port dropped, loopback names as one. */
function hostKey(host: string, https: boolean): string {
  let h = host.toLowerCase();
  if (h.endsWith(https ? ':443' : ':80')) h = h.slice(0, h.lastIndexOf(':'));
  const port = /:[0-9]+$/.exec(h)?.[0] ?? '';
  const name = port ? h.slice(0, -port.length) : h;
  return LOOPBACK_NAMES.has(name) ? `loopback${port}` : h;
}

/**
 * Says once per process, as a warning, that clients are handed URLs under another host than the one they
 * asked for — e.g. docker compose with NUGET_PROXY_BIND=0.0.0.0 and no public URL hands remote clients
 * 127.0.0.1 URLs they cannot follow. Only requests that are handed URLs are checked (not probes or scrapes).
 */
export class HostMismatchWarning {
  private warned = false;

  constructor(
    private readonly log: Logger,
    private readonly config: Pick<Config, 'publicUrl' | 'trustProxy'>,
  ) {}

  check(ctx: Context, publicBase: string): void {
    if (this.warned) return;
    const asked = (this.config.trustProxy ? first(ctx.get('X-Forwarded-Host')) : '') || ctx.get('Host');
    const https = publicBase.startsWith('https:');
    const handed = publicBase.slice(publicBase.indexOf('//') + 2).split('/', 1)[0] ?? '';
    if (!asked || hostKey(asked, https) === hostKey(handed, https)) return;
    this.warned = true;
    const detail = this.config.publicUrl
      ? `requests arrive for ${asked}, but --public-url (NUGET_PROXY_PUBLIC_URL) points every URL the proxy hands out at ${handed}: clients that cannot reach ${handed} will fail. Set it to the address clients use.`
      : `requests arrive for ${asked}, which is not this machine's name, so the URLs handed out use the listening address ${handed}. Set --public-url (NUGET_PROXY_PUBLIC_URL) to the address clients use, or --trust-proxy behind a reverse proxy.`;
    this.log.warn({ requestHost: asked, publicBase, detail }, 'clients are handed URLs under another host than the one they asked for');
  }
}

/** Raw (still percent-encoded) path segments after `prefix`. */
function segmentsAfter(ctx: Context, prefix: string): string[] {
  return ctx.path.slice(prefix.length).split('/');
}

export function createRouter(deps: RouteDeps): Router {
  const { proxy, writer } = deps;
  const router = new Router();

  const hostCheck = new HostMismatchWarning(proxy.log, proxy.config);
  const rcOf = (ctx: Context): RequestContext => {
    const { base, https } = publicBaseFor(ctx.req, proxy.config, deps.tls);
    hostCheck.check(ctx, base);
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
    // GET follows a .nupkg fill as it streams in; HEAD waits for the verified package.
    return proxy.flat.file(req.value, { stream: ctx.method === 'GET' });
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
    let text: string;
    try {
      text = await deps.exposition();
    } catch (err) {
      throw new ProxyError(503, 'METRICS_UNAVAILABLE', `metrics could not be collected: ${(err as Error).message}`);
    }
    ctx.type = proxy.metrics.registry.contentType;
    ctx.body = text;
  });

  addWebRoutes(router, deps, hostCheck);

  router.all('/{*rest}', (ctx) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new MethodNotAllowed();
    throw new NotFound();
  });

  return router;
}

/** Packages per page of the web page's list. */
const PAGE_SIZE = 50;
const MAX_QUERY_LENGTH = 200;
const MAX_FORM_BYTES = 4096;

/** One query-string value: absent → undefined; repeated → 400. */
function queryValue(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw new BadRequest(`'${name}' may be given once`);
  return v;
}

function listQuery(ctx: Context): { q: string; sort: CatalogSort; page: number } {
  const q = (queryValue(ctx, 'q') ?? '').trim();
  if (q.length > MAX_QUERY_LENGTH) throw new BadRequest(`the search text may be at most ${MAX_QUERY_LENGTH} characters`);
  const sortRaw = queryValue(ctx, 'sort') ?? 'id';
  if (!(CATALOG_SORTS as readonly string[]).includes(sortRaw)) throw new BadRequest(`sort must be one of ${CATALOG_SORTS.join(', ')}`);
  const pageRaw = queryValue(ctx, 'page') ?? '1';
  if (!/^[1-9][0-9]{0,5}$/.test(pageRaw)) throw new BadRequest('page must be a whole number from 1');
  return { q, sort: sortRaw as CatalogSort, page: Number(pageRaw) };
}

/** A small urlencoded form body (the login form); anything else is refused. */
async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new ProxyError(415, 'UNSUPPORTED_MEDIA_TYPE', 'expected a form (application/x-www-form-urlencoded)');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of ctx.req) {
    n += (chunk as Buffer).length;
    if (n > MAX_FORM_BYTES) throw new ProxyError(413, 'PAYLOAD_TOO_LARGE', 'the form is too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function redirect(location: string, headers: Record<string, string> = {}): Reply {
  return htmlReply(303, '', { Location: location, ...headers });
}

/**
 * The read-only web page: overview with the package list at `/`, a page per package, its assets, and the
 * optional access-token gate (--ui-token). The NuGet routes under /v3 never pass through the gate.
 */
function addWebRoutes(router: Router, deps: RouteDeps, hostCheck: HostMismatchWarning): void {
  const { proxy, writer } = deps;
  const gate = proxy.config.uiToken ? new AccessToken(proxy.config.uiToken) : null;

  interface PageRequest {
    readonly publicBase: string;
    readonly https: boolean;
    readonly shell: Shell;
  }

  const requestOf = (ctx: Context): PageRequest => {
    const { base, https } = publicBaseFor(ctx.req, proxy.config, deps.tls);
    hostCheck.check(ctx, base);
    ctx.state['publicBase'] = base;
    return { publicBase: base, https, shell: { basePath: basePathOf(base), title: '', tokenGate: gate !== null } };
  };

  const loginReply = (shell: Shell, failed: boolean): Reply =>
    htmlReply(401, renderLogin(shell, failed), { 'Content-Security-Policy': LOGIN_CONTENT_SECURITY_POLICY, 'WWW-Authenticate': 'Bearer realm="nuget-proxy web page"' });

  const page = (path: string, fn: (ctx: Context, req: PageRequest) => Promise<Reply>) => {
    router.get(path, async (ctx) => {
      const req = requestOf(ctx);
      if (gate && !gate.allows(ctx.get('Authorization'), ctx.get('Cookie'))) {
        await writer.write(ctx, loginReply(req.shell, false), req.publicBase);
        return;
      }
      await proxy.checkGeneration();
      let reply: Reply;
      try {
        reply = await fn(ctx, req);
      } catch (err) {
        // Expected refusals (bad input, unknown package) get a page; anything else goes to the error middleware.
        if (!isProxyError(err) || err.status >= 500) throw err;
        ctx.state['errorCode'] = err.code;
        reply = htmlReply(err.status, renderError(req.shell, err.status, err.message));
      }
      await writer.write(ctx, reply, req.publicBase);
    });
  };

  page(WEB_PATHS.home, async (ctx, req) => {
    const query = listQuery(ctx);
    const [status, list] = await Promise.all([proxy.web.status(), proxy.web.packages({ ...query, pageSize: PAGE_SIZE })]);
    if (query.page > list.pages) throw new NotFound(`there is no page ${query.page}; the list has ${list.pages}`);
    return htmlReply(200, renderHome({ basePath: req.shell.basePath, publicBase: req.publicBase, status, list, tokenGate: gate !== null }));
  });

  /** `{id}` or `{id}/{version}` after `prefix`, from the raw path (decoded once, like the NuGet routes). */
  const identityAfter = (ctx: Context, prefix: string): { lowerId: string; lowerVersion: string | null } => {
    const [idSeg = '', versionSeg] = segmentsAfter(ctx, prefix);
    const id = parsePackageId(idSeg);
    if (!id.ok) throw new BadRequest(id.message);
    if (versionSeg === undefined) return { lowerId: id.value, lowerVersion: null };
    const v = parseVersionSegment(versionSeg);
    if (!v.ok) throw new BadRequest(v.message);
    return { lowerId: id.value, lowerVersion: v.value };
  };

  const packagePage = async (ctx: Context, req: PageRequest): Promise<Reply> => {
    const { lowerId, lowerVersion } = identityAfter(ctx, WEB_PATHS.packages);
    const view = await proxy.web.package(lowerId, lowerVersion);
    return htmlReply(200, renderPackage({ basePath: req.shell.basePath, publicBase: req.publicBase, view, nowMs: Date.now(), tokenGate: gate !== null }));
  };
  page(`${WEB_PATHS.packages}:id`, packagePage);
  page(`${WEB_PATHS.packages}:id/:version`, packagePage);

  page(`${WEB_PATHS.icon}:id/:version`, async (ctx) => {
    const { lowerId, lowerVersion } = identityAfter(ctx, WEB_PATHS.icon);
    return withPageHeaders(await proxy.web.icon(lowerId, lowerVersion as string));
  });
  page(WEB_PATHS.style, async () => styleReply());
  page(WEB_PATHS.favicon, async () => faviconReply());

  router.get(WEB_PATHS.login, async (ctx) => {
    const req = requestOf(ctx);
    const reply = gate ? { ...loginReply(req.shell, false), status: 200 } : redirect(`${req.shell.basePath}${WEB_PATHS.home}`);
    await writer.write(ctx, reply, req.publicBase);
  });

  router.post(WEB_PATHS.login, async (ctx) => {
    const req = requestOf(ctx);
    const home = `${req.shell.basePath}${WEB_PATHS.home}`;
    if (!gate) {
      await writer.write(ctx, redirect(home), req.publicBase);
      return;
    }
    const token = (await readForm(ctx)).get('token') ?? '';
    const reply = gate.matches(token) ? redirect(home, { 'Set-Cookie': gate.loginCookie(req.shell.basePath, req.https) }) : loginReply(req.shell, true);
    await writer.write(ctx, reply, req.publicBase);
  });

  router.get(WEB_PATHS.logout, async (ctx) => {
    const req = requestOf(ctx);
    const reply = redirect(`${req.shell.basePath}${gate ? WEB_PATHS.login : WEB_PATHS.home}`, { 'Set-Cookie': AccessToken.logoutCookie(req.shell.basePath, req.https) });
    await writer.write(ctx, reply, req.publicBase);
  });
}
