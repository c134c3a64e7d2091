// One JSON log line and the HTTP metrics for every request, whichever path answered it (the hit path or
// the Koa chain): the same fields, the same labels. Label children are looked up once per combination,
// not hashed per request.

import { randomUUID } from 'node:crypto';
import type { Activity } from './activity.ts';
import type { Logger } from './logger.ts';
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

interface Counters {
  readonly requests: { inc(): void };
  readonly duration: { observe(value: number): void };
}

export class RequestLog {
  private readonly children = new Map<string, Counters>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly activity: Pick<Activity, 'traffic'>,
  ) {}

  /** Call when a request starts; returns its start time for end(). */
  begin(): number {
    this.metrics.httpInFlight.inc();
    return performance.now();
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
  end(r: RequestRecord, startedMs: number): void {
    const ms = performance.now() - startedMs;
    this.metrics.httpInFlight.dec();
    const c = this.countersFor(r.route, r.method, r.status);
    c.requests.inc();
    c.duration.observe(ms / 1000);
    // The web page's last-hour view counts the NuGet API only (not probes, scrapes or the page itself).
    if (r.route.startsWith('/v3/')) this.activity.traffic.record({ status: r.status, cache: r.cache, bytes: r.bytes });
    const line = {
      reqId: r.reqId,
      method: r.method,
      url: r.url.length > 512 ? r.url.slice(0, 512) : r.url,
      route: r.route,
      status: r.status,
      durationMs: Math.round(ms * 10) / 10,
      cache: r.cache,
      resource: r.resource,
      code: r.code,
      userAgent: r.userAgent,
    };
    if (QUIET_ROUTES.has(r.route)) this.log.debug(line, 'request');
    else this.log.info(line, 'request');
  }
}
