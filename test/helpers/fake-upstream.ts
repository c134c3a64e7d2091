// A real local NuGet V3 feed shaped like nuget.org, for tests: two servers on 127.0.0.1 (main "api" host and a
// "search" host), a request log, fault injection, mutation, and stop/start on the same ports.
// Run it by hand: node --import tsx test/helpers/fake-upstream.ts --port 5555 [--packages dir] [--tls]

import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FeedUrls, type Deprecation, type VulnerabilityData } from './feed-model.ts';
import { etagOf, notFound, routeMain, routeSearch, type FeedResponse, type RouteContext } from './feed-routes.ts';
import { FeedStore } from './feed-store.ts';
import { STANDARD_DEPRECATIONS, STANDARD_UNLISTED, STANDARD_VULNERABILITIES, standardTestPackages, writePackages } from './packages.ts';

export type ServerName = 'main' | 'search';

export interface FakeUpstreamOptions {
  /** Paths of .nupkg files to serve (real signed ones live under /opt/nuget/packages/{id}/{version}/). */
  readonly packages: readonly string[];
  readonly unlisted?: ReadonlyArray<{ readonly id: string; readonly version: string }>;
  /** Keyed by lower id, in the VulnerabilityInfo page format. */
  readonly vulnerabilities?: VulnerabilityData;
  /** Deprecations, shown in the SemVer2 registration hive and in search. */
  readonly deprecations?: ReadonlyArray<{ readonly id: string; readonly version: string } & Deprecation>;
  /** Serve https on both servers (RepositorySignatures is advertised only then). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Main server port; default: any free port. */
  readonly port?: number;
  /** Search server port; default: any free port. */
  readonly searchPort?: number;
  /** false: a feed without search — the service index lists no search or autocomplete resource (default true). */
  readonly search?: boolean;
  /** Serve search and autocomplete under `/search/` on the main server (one origin, as private feeds do). */
  readonly searchOnMain?: boolean;
  /** Require HTTP basic authentication (401 with a Basic challenge otherwise), like a private feed. */
  readonly basicAuth?: { readonly username: string; readonly password: string };
  /** Registration/catalog `published` dates (ISO 8601) for these versions, instead of the fixed 2024 ones. */
  readonly published?: ReadonlyArray<{ readonly id: string; readonly version: string; readonly published: string }>;
}

interface FaultBase {
  /**
   * Which requests: a string matches when it equals the path, or the path plus query string, exactly;
   * a RegExp is tested against the path plus query string.
   */
  readonly match: string | RegExp;
  /** How many requests to affect; default: every matching request until clearFaults(). */
  readonly times?: number;
  /** Only requests to this server; default: both. */
  readonly server?: ServerName;
}

export type FaultRule = FaultBase &
  (
    /**
     * Answer with this status, headers and body instead (e.g. a 200 with a corrupt package); the body
     * optionally dripped at `bytesPerSecond`, and sent `chunked` (no Content-Length).
     */
    | {
        readonly kind: 'status';
        readonly status: number;
        readonly headers?: Readonly<Record<string, string>>;
        readonly body?: string | Buffer;
        readonly bytesPerSecond?: number;
        readonly chunked?: boolean;
      }
    /** Wait, then answer normally. */
    | { readonly kind: 'delay'; readonly ms: number }
    /** Destroy the socket with a TCP RST, no response. */
    | { readonly kind: 'reset' }
    /** Close the connection cleanly (FIN) without a response: the client sees "socket hang up". */
    | { readonly kind: 'close' }
    /** Send the real headers (full Content-Length) and only `bytes` of the body (default: half), then destroy the socket. */
    | { readonly kind: 'truncate'; readonly bytes?: number }
    /** Never answer; the socket stays open until the client gives up or the fake stops. */
    | { readonly kind: 'hang' }
    /** Send the real headers and only `bytes` of the body (default: half), then nothing more; the socket stays open. */
    | { readonly kind: 'stall'; readonly bytes?: number }
    /** Send the real response, its body at this rate (a slow drip, so a fill lasts long enough to interrupt). */
    | { readonly kind: 'throttle'; readonly bytesPerSecond: number }
  );

export type FaultKind = FaultRule['kind'];

export interface LoggedRequest {
  readonly server: ServerName;
  readonly method: string;
  /** Path plus query string, as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly time: number;
  /** The fault applied to this request, if any. */
  fault?: FaultKind;
  /** Status sent, once the response has been written (absent for reset/hang/blackhole). */
  status?: number;
}

export interface FakeUpstream {
  /** Main origin, e.g. `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Search server origin. */
  readonly searchUrl: string;
  /** `${url}/v3/index.json`. */
  readonly serviceIndexUrl: string;
  readonly port: number;
  readonly searchPort: number;
  /** A snapshot of every request received by either server, oldest first. */
  requests(): readonly LoggedRequest[];
  /** Requests matching like a fault rule's `match`, optionally limited to one method or server. */
  count(match: string | RegExp, filter?: { readonly method?: string; readonly server?: ServerName }): number;
  resetLog(): void;
  /** Adds a fault; the function returned removes this one rule (others stay). */
  addFault(rule: FaultRule): () => void;
  clearFaults(): void;
  /** The main server (or `which`) accepts connections and requests but never answers anything. */
  setBlackhole(on: boolean, which?: ServerName | 'both'): void;
  addPackage(path: string): Promise<void>;
  removePackage(id: string, version: string): boolean;
  setUnlisted(id: string, version: string, unlisted: boolean): void;
  setDeprecation(id: string, version: string, deprecation: Deprecation | null): void;
  /** Replaces the vulnerability data; it is published under new timestamped page URLs, as nuget.org does. */
  setVulnerabilities(data: VulnerabilityData): void;
  /** Closes both servers and destroys open sockets: connections are refused afterwards. */
  stop(): Promise<void>;
  /** Brings both servers back on the same ports. */
  start(): Promise<void>;
}

interface ActiveFault {
  readonly rule: FaultRule;
  remaining: number;
}

interface Validator {
  readonly etag: string;
  readonly lastModifiedMs: number;
}

function matches(match: string | RegExp, pathAndQuery: string): boolean {
  if (typeof match === 'string') {
    const q = pathAndQuery.indexOf('?');
    return match === pathAndQuery || match === (q >= 0 ? pathAndQuery.slice(0, q) : pathAndQuery);
  }
  match.lastIndex = 0;
  return match.test(pathAndQuery);
}

function etagMatches(header: string, etag: string): boolean {
  const bare = (t: string): string => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
}

class FakeUpstreamServer implements FakeUpstream {
  private readonly ctx: RouteContext;
  private readonly log: LoggedRequest[] = [];
  private faults: ActiveFault[] = [];
  private readonly blackholed = new Set<ServerName>();
  private readonly validators = new Map<string, Validator>();
  private readonly sockets = new Set<Socket>();
  private servers: Array<http.Server | https.Server> = [];
  private mainPort: number;
  private searchPortNumber: number;
  private running = false;

  constructor(
    private readonly store: FeedStore,
    private readonly options: FakeUpstreamOptions,
  ) {
    this.mainPort = options.port ?? 0;
    this.searchPortNumber = options.searchPort ?? 0;
    // URLs are read at request time through this context, after the ports are known.
    const self = this;
    this.ctx = {
      store,
      tls: options.tls !== undefined,
      search: options.search !== false,
      get urls(): FeedUrls {
        return new FeedUrls(self.url, self.searchUrl);
      },
    };
  }

  private get scheme(): string {
    return this.options.tls ? 'https' : 'http';
  }
  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.mainPort}`;
  }
  get searchUrl(): string {
    if (this.options.searchOnMain) return `${this.url}/search`;
    return `${this.scheme}://127.0.0.1:${this.searchPortNumber}`;
  }
  get serviceIndexUrl(): string {
    return `${this.url}/v3/index.json`;
  }
  get port(): number {
    return this.mainPort;
  }
  get searchPort(): number {
    return this.searchPortNumber;
  }

  requests(): readonly LoggedRequest[] {
    return [...this.log];
  }
  count(match: string | RegExp, filter: { method?: string; server?: ServerName } = {}): number {
    return this.log.filter(
      (r) => matches(match, r.path) && (filter.method === undefined || r.method === filter.method) && (filter.server === undefined || r.server === filter.server),
    ).length;
  }
  resetLog(): void {
    this.log.length = 0;
  }
  addFault(rule: FaultRule): () => void {
    const fault = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.faults.push(fault);
    return () => {
      this.faults = this.faults.filter((f) => f !== fault);
    };
  }
  clearFaults(): void {
    this.faults = [];
  }
  setBlackhole(on: boolean, which: ServerName | 'both' = 'main'): void {
    for (const s of which === 'both' ? (['main', 'search'] as const) : [which]) {
      if (on) this.blackholed.add(s);
      else this.blackholed.delete(s);
    }
  }
  async addPackage(path: string): Promise<void> {
    await this.store.addPackage(path);
  }
  removePackage(id: string, version: string): boolean {
    return this.store.removePackage(id, version);
  }
  setUnlisted(id: string, version: string, unlisted: boolean): void {
    this.store.setUnlisted(id, version, unlisted);
  }
  setDeprecation(id: string, version: string, deprecation: Deprecation | null): void {
    this.store.setDeprecation(id, version, deprecation);
  }
  setVulnerabilities(data: VulnerabilityData): void {
    this.store.setVulnerabilities(data);
  }

  async start(): Promise<void> {
    if (this.running) return;
    const main = this.createServer('main');
    const search = this.createServer('search');
    this.servers = [main, search];
    try {
      this.mainPort = await this.listen(main, this.mainPort);
      this.searchPortNumber = await this.listen(search, this.searchPortNumber);
    } catch (err) {
      await this.closeServers();
      throw err;
    }
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.closeServers();
  }

  private async closeServers(): Promise<void> {
    const closing = this.servers.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // close() only stops accepting; keep-alive, hung and blackholed sockets must go too.
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await Promise.all(closing);
    this.servers = [];
  }

  private createServer(name: ServerName): http.Server | https.Server {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(name, req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`fake upstream error: ${err instanceof Error ? err.message : String(err)}`);
        } else {
          res.destroy();
        }
      });
    };
    const server = this.options.tls ? https.createServer({ cert: this.options.tls.cert, key: this.options.tls.key }, handler) : http.createServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private async listen(server: http.Server | https.Server, port: number): Promise<number> {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  private takeFault(server: ServerName, pathAndQuery: string): FaultRule | null {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.rule.server !== undefined && f.rule.server !== server) continue;
      if (!matches(f.rule.match, pathAndQuery)) continue;
      f.remaining--;
      return f.rule;
    }
    return null;
  }

  private async handle(server: ServerName, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathAndQuery = req.url ?? '/';
    const entry: LoggedRequest = { server, method: req.method ?? 'GET', path: pathAndQuery, headers: req.headers, time: Date.now() };
    this.log.push(entry);
    res.once('finish', () => {
      entry.status = res.statusCode;
    });
    // The request body (if any) is not needed; drain it so the parser can finish the request.
    req.resume();
    if (this.blackholed.has(server)) return;
    const auth = this.options.basicAuth;
    if (auth && req.headers['authorization'] !== `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`) {
      const body = Buffer.from('fake upstream: authentication required', 'utf8');
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake upstream"', 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }

    const fault = this.takeFault(server, pathAndQuery);
    if (fault) entry.fault = fault.kind;
    switch (fault?.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'close':
        req.socket.end();
        return;
      case 'status': {
        const body = Buffer.isBuffer(fault.body) ? fault.body : Buffer.from(fault.body ?? `fake upstream: injected status ${fault.status}`, 'utf8');
        const length: Record<string, string> = fault.chunked ? {} : { 'content-length': String(body.length) };
        res.writeHead(fault.status, { 'content-type': 'text/plain', ...length, ...fault.headers });
        if (req.method === 'HEAD') res.end();
        else if (fault.bytesPerSecond) void this.drip(res, body, fault.bytesPerSecond);
        else res.end(body);
        return;
      }
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        if (res.destroyed) return;
        break;
      default:
        break;
    }

    const url = new URL(pathAndQuery, 'http://fake.invalid');
    let response: FeedResponse;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      response = { ...notFound(), status: 405 };
    } else {
      const searchHere = server === 'search' || (this.options.searchOnMain === true && url.pathname.startsWith('/search/'));
      const searchPath = server === 'main' ? url.pathname.slice('/search'.length) : url.pathname;
      response = searchHere ? routeSearch(this.ctx, searchPath, url.searchParams) : routeMain(this.ctx, url.pathname);
    }
    const cut = fault?.kind === 'truncate' || fault?.kind === 'stall' ? fault : null;
    this.send(server, req, res, pathAndQuery, response, cut, fault?.kind === 'throttle' ? fault : null);
  }

  /** ETag/Last-Modified for a 200 body; Last-Modified moves forward (by ≥ 1 s) whenever the body changes. */
  private validatorFor(key: string, etag: string): Validator {
    const previous = this.validators.get(key);
    if (previous && previous.etag === etag) return previous;
    const nowSeconds = Math.floor(Date.now() / 1000) * 1000;
    const next = { etag, lastModifiedMs: previous ? Math.max(nowSeconds, previous.lastModifiedMs + 1000) : nowSeconds };
    this.validators.set(key, next);
    return next;
  }

  private send(
    server: ServerName,
    req: IncomingMessage,
    res: ServerResponse,
    pathAndQuery: string,
    r: FeedResponse,
    cut: { readonly kind: 'truncate' | 'stall'; readonly bytes?: number } | null,
    throttle: { readonly bytesPerSecond: number } | null = null,
  ): void {
    const headers: Record<string, string> = { ...r.headers };
    if (r.status === 200) {
      const v = this.validatorFor(`${server} ${pathAndQuery}`, r.etag ?? etagOf(r.body));
      headers['etag'] = v.etag;
      headers['last-modified'] = new Date(v.lastModifiedMs).toUTCString();
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      // RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since.
      const notModified =
        inm !== undefined ? etagMatches(inm, v.etag) : ims !== undefined && !Number.isNaN(Date.parse(ims)) && v.lastModifiedMs <= Date.parse(ims);
      if (notModified) {
        const { 'content-type': _type, 'content-encoding': _encoding, ...rest } = headers;
        res.writeHead(304, rest);
        res.end();
        return;
      }
    }
    headers['content-length'] = String(r.body.length);
    res.writeHead(r.status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (cut && r.status === 200) {
      const bytes = Math.min(cut.bytes ?? Math.floor(r.body.length / 2), Math.max(r.body.length - 1, 0));
      // truncate: the connection drops mid-body; stall: the rest never comes (the socket stays open).
      res.write(r.body.subarray(0, bytes), () => {
        if (cut.kind === 'truncate') res.destroy();
      });
      return;
    }
    if (throttle) {
      void this.drip(res, r.body, throttle.bytesPerSecond);
      return;
    }
    res.end(r.body);
  }

  /** Writes `body` in 50 ms slices at `bytesPerSecond`; stops when the client goes away. */
  private async drip(res: ServerResponse, body: Buffer, bytesPerSecond: number): Promise<void> {
    const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
    for (let off = 0; off < body.length; off += slice) {
      if (res.destroyed) return;
      res.write(body.subarray(off, off + slice));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!res.destroyed) res.end();
  }
}

/** Loads the packages and starts both servers. */
export async function startFakeUpstream(options: FakeUpstreamOptions): Promise<FakeUpstream> {
  const store = await FeedStore.load(options.packages, {
    unlisted: options.unlisted,
    vulnerabilities: options.vulnerabilities,
    deprecations: options.deprecations,
    published: options.published,
  });
  const server = new FakeUpstreamServer(store, options);
  await server.start();
  return server;
}

export const REAL_PACKAGES_ROOT = '/opt/nuget/packages';

/** The real nuget.org packages in a global-packages folder (`{id}/{version}/{id}.{version}.nupkg`); [] when absent. */
export async function realPackagePaths(root: string = REAL_PACKAGES_ROOT): Promise<string[]> {
  const out: string[] = [];
  let ids: string[];
  try {
    ids = await readdir(root);
  } catch {
    return out;
  }
  for (const id of ids.sort()) {
    let versions: string[];
    try {
      versions = await readdir(join(root, id));
    } catch {
      continue;
    }
    for (const version of versions.sort()) {
      const path = join(root, id, version, `${id}.${version}.nupkg`);
      if (await stat(path).then((s) => s.isFile(), () => false)) out.push(path);
    }
  }
  return out;
}

/** Every .nupkg under a folder (recursively). */
export async function nupkgFilesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.nupkg'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

let standardPackagesWritten: Promise<string[]> | null = null;

/** The standard test packages, written once per process to a temp folder that is removed at exit. */
export function standardPackagePaths(): Promise<string[]> {
  standardPackagesWritten ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-test-packages-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return writePackages(dir, standardTestPackages());
  })();
  return standardPackagesWritten;
}

export interface StandardFakeUpstreamOptions extends Partial<FakeUpstreamOptions> {
  /** Also serve the real packages from /opt/nuget/packages (default true). */
  readonly includeRealPackages?: boolean;
}

/**
 * The feed most e2e tests want: the standard test packages (+ the real nuget.org packages) with
 * STANDARD_UNLISTED, STANDARD_VULNERABILITIES and STANDARD_DEPRECATIONS. `packages` adds more files.
 *
 * @example
 *   const upstream = await startStandardFakeUpstream();
 *   after(() => upstream.stop());
 *   // point the proxy at upstream.serviceIndexUrl, then:
 *   upstream.addFault({ match: /\.nupkg$/, kind: 'status', status: 503, times: 1 });
 *   assert.equal(upstream.count('/v3-flatcontainer/newtonsoft.json/index.json'), 1);
 */
export async function startStandardFakeUpstream(options: StandardFakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const real = options.includeRealPackages === false ? [] : await realPackagePaths();
  return startFakeUpstream({
    unlisted: STANDARD_UNLISTED,
    vulnerabilities: STANDARD_VULNERABILITIES,
    deprecations: STANDARD_DEPRECATIONS,
    ...options,
    packages: [...real, ...(await standardPackagePaths()), ...(options.packages ?? [])],
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help')) {
    process.stdout.write('usage: fake-upstream.ts [--port N] [--search-port N] [--packages DIR] [--tls] [--no-real] [--no-search]\n');
    return;
  }
  const extra = arg('--packages');
  let tls: { cert: string; key: string } | undefined;
  if (argv.includes('--tls')) {
    const { createSelfSignedCertificate } = await import('./tls.ts');
    tls = createSelfSignedCertificate();
  }
  const port = Number(arg('--port') ?? '5555');
  const fake = await startStandardFakeUpstream({
    port,
    searchPort: Number(arg('--search-port') ?? String(port + 1)),
    includeRealPackages: !argv.includes('--no-real'),
    search: !argv.includes('--no-search'),
    packages: extra ? await nupkgFilesIn(extra) : [],
    tls,
  });
  process.stdout.write(`fake upstream: ${fake.serviceIndexUrl} (search ${fake.searchUrl})\n`);
  const shutdown = (): void => {
    void fake.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
