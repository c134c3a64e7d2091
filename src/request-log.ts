// One JSON log line and the HTTP metrics for every request, whichever path answered it (the hit path or
// the Koa chain): the same fields, the same labels. Label children are looked up once per combination,
// not hashed per request.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Activity } from './activity.ts';
import { jsonLiteral, RawLines, type Logger } from './logger.ts';
import { hotCounter, hotGauge, hotHistogram, type CacheResult, type HotCounter, type HotHistogram, type Metrics } from './metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes and scrapes log at debug: they would drown the requests that matter. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
const MESSAGE = 'request completed';

/** The incoming X-Request-Id when it is safe to echo and log, else a new one. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export interface RequestRecord {
  readonly reqId: string;
  readonly method: string;
  readonly url: string;
  /** The route template (a bounded metrics label), 'unmatched' when no route matched. */
  readonly route: string;
  readonly status: number;
  readonly cache: CacheResult | undefined;
  readonly resource: string | undefined;
  readonly code: string | undefined;
  readonly userAgent: string | undefined;
  /** Body bytes sent (0 for HEAD). */
  readonly bytes: number;
}

/** What begin() notes: the start time, and the client's address read while its socket is surely alive. */
export interface RequestStart {
  readonly startedMs: number;
  /** The log line's `,"remoteAddress":…,"remotePort":…` members, serialized ('' when unknown). */
  readonly client: string;
}

function clientMembers(address: string | undefined, port: number | undefined): string {
  return `${address === undefined ? '' : `,"remoteAddress":${JSON.stringify(address)}`}${port === undefined ? '' : `,"remotePort":${port}`}`;
}

interface Counters {
  readonly requests: HotCounter;
  readonly duration: HotHistogram;
}

export class RequestLog {
  /** Route → method → status → its counters: lookups of strings the request already has, no key built per request. */
  private readonly children = new Map<string, Map<string, Map<number, Counters>>>();
  private readonly lines: RawLines;
  private readonly clients = new WeakMap<Socket, string>();
  private lastUserAgent = '';
  private lastUserAgentJson = '""';
  private readonly inFlight: { inc(): void; dec(): void };

  constructor(
    log: Logger,
    private readonly metrics: Metrics,
    private readonly activity: Pick<Activity, 'traffic'>,
    /** --trust-proxy: the client is X-Forwarded-For's first address (as Koa's ctx.ip), else the socket's peer. */
    private readonly trustProxy: boolean,
  ) {
    this.lines = new RawLines(log);
    this.inFlight = hotGauge(metrics.httpInFlight);
  }

  /**
   * Call when a request starts. The client address is read now: a handler that stops reading a body early
   * (an oversized form) destroys the request, and its socket with it.
   */
  begin(req: IncomingMessage): RequestStart {
    this.inFlight.inc();
    const socket = req.socket;
    if (this.trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return { startedMs: performance.now(), client: clientMembers(first.slice(0, 64), socket.remotePort) };
    }
    // Once per connection: its requests share the address.
    let client = this.clients.get(socket);
    if (client === undefined) {
      client = clientMembers(socket.remoteAddress, socket.remotePort);
      if (socket.remoteAddress !== undefined) this.clients.set(socket, client);
    }
    return { startedMs: performance.now(), client };
  }

  private countersFor(route: string, method: string, status: number): Counters {
    let byMethod = this.children.get(route);
    if (!byMethod) {
      byMethod = new Map();
      this.children.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (!byStatus) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let c = byStatus.get(status);
    if (!c) {
      // One duration child per route and method, whatever the status.
      const duration = byStatus.values().next().value?.duration ?? hotHistogram(this.metrics.httpDuration, { route, method });
      c = { requests: hotCounter(this.metrics.httpRequests, { route, method, status: String(status) }), duration };
      byStatus.set(status, c);
    }
    return c;
  }

  /** Call once the response is finished (or abandoned): metrics, the web page's traffic view, one log line. */
  end(r: RequestRecord, start: RequestStart): void {
    const ms = performance.now() - start.startedMs;
    this.inFlight.dec();
    const c = this.countersFor(r.route, r.method, r.status);
    c.requests.inc();
    c.duration.observe(ms / 1000);
    // The web page's last-hour view counts the NuGet API only (not probes, scrapes or the page itself).
    if (r.route.startsWith('/v3/')) this.activity.traffic.record({ status: r.status, cache: r.cache, bytes: r.bytes });
    // pino-http's shape (req.id/method/url/remoteAddress/remotePort, res.statusCode, responseTime in ms,
    // "request completed"), so log pipelines that know it read these lines as they are; plus reqId (as on
    // every line logged while answering), the route, the cache result, the resource and an error code.
    // Serialized here, field by field: pino's generic serializer and redaction cost a sixth of a cache
    // hit's CPU (nothing here is secret: the only header logged is User-Agent).
    const level = QUIET_ROUTES.has(r.route) ? 'debug' : 'info';
    if (!this.lines.enabled(level)) return;
    const id = JSON.stringify(r.reqId);
    const url = JSON.stringify(r.url.length > 512 ? r.url.slice(0, 512) : r.url);
    let headers = '';
    if (r.userAgent) {
      // Most clients of a mirror send one of a few user agents, often the same one many times in a row.
      if (r.userAgent !== this.lastUserAgent) {
        this.lastUserAgent = r.userAgent;
        this.lastUserAgentJson = JSON.stringify(r.userAgent);
      }
      headers = `,"headers":{"user-agent":${this.lastUserAgentJson}}`;
    }
    const optional = `${r.cache === undefined ? '' : `,"cache":${jsonLiteral(r.cache)}`}${r.resource === undefined ? '' : `,"resource":${jsonLiteral(r.resource)}`}${
      r.code === undefined ? '' : `,"code":${jsonLiteral(r.code)}`
    }`;
    this.lines.write(
      level,
      `"reqId":${id},"req":{"id":${id},"method":${jsonLiteral(r.method)},"url":${url}${start.client}${headers}},"res":{"statusCode":${r.status}},"responseTime":${Math.round(ms * 10) / 10},"route":${jsonLiteral(r.route)}${optional}`,
      MESSAGE,
    );
  }
}
