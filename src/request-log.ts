// One JSON log line and the HTTP metrics for every request, whichever path answered it (the hit path or
// the Koa chain): the same fields, the same labels. Label children are looked up once per combination,
// not hashed per request.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Activity } from './activity.ts';
import { RawLines, type Logger } from './logger.ts';
import type { CacheResult, Metrics } from './metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes and scrapes log at debug: they would drown the requests that matter. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

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
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

interface Counters {
  readonly requests: { inc(): void };
  readonly duration: { observe(value: number): void };
}

export class RequestLog {
  private readonly children = new Map<string, Counters>();
  private readonly lines: RawLines;

  constructor(
    log: Logger,
    private readonly metrics: Metrics,
    private readonly activity: Pick<Activity, 'traffic'>,
    /** --trust-proxy: the client is X-Forwarded-For's first address (as Koa's ctx.ip), else the socket's peer. */
    private readonly trustProxy: boolean,
  ) {
    this.lines = new RawLines(log);
  }

  /**
   * Call when a request starts. The client address is read now: a handler that stops reading a body early
   * (an oversized form) destroys the request, and its socket with it.
   */
  begin(req: IncomingMessage): RequestStart {
    this.metrics.httpInFlight.inc();
    let remoteAddress = req.socket.remoteAddress;
    if (this.trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) remoteAddress = first.slice(0, 64);
    }
    return { startedMs: performance.now(), remoteAddress, remotePort: req.socket.remotePort };
  }

  private countersFor(route: string, method: string, status: number): Counters {
    const key = `${route} ${method} ${status}`;
    let c = this.children.get(key);
    if (!c) {
      c = {
        requests: this.metrics.httpRequests.labels({ route, method, status: String(status) }),
        duration: this.metrics.httpDuration.labels({ route, method }),
      };
      this.children.set(key, c);
    }
    return c;
  }

  /** Call once the response is finished (or abandoned): metrics, the web page's traffic view, one log line. */
  end(r: RequestRecord, start: RequestStart): void {
    const ms = performance.now() - start.startedMs;
    this.metrics.httpInFlight.dec();
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
    const client = `${start.remoteAddress === undefined ? '' : `,"remoteAddress":${JSON.stringify(start.remoteAddress)}`}${start.remotePort === undefined ? '' : `,"remotePort":${start.remotePort}`}`;
    const headers = r.userAgent ? `,"headers":{"user-agent":${JSON.stringify(r.userAgent)}}` : '';
    const optional = `${r.cache === undefined ? '' : `,"cache":${JSON.stringify(r.cache)}`}${r.resource === undefined ? '' : `,"resource":${JSON.stringify(r.resource)}`}${
      r.code === undefined ? '' : `,"code":${JSON.stringify(r.code)}`
    }`;
    this.lines.write(
      level,
      `"reqId":${id},"req":{"id":${id},"method":${JSON.stringify(r.method)},"url":${url}${client}${headers}},"res":{"statusCode":${r.status}},"responseTime":${Math.round(ms * 10) / 10},"route":${JSON.stringify(r.route)}${optional}`,
      'request completed',
    );
  }
}
