// The only importer of got: every upstream HTTP call, with timeouts, keep-alive, retry with backoff,
// the per-host circuit breaker, egress through a forward proxy, an extra CA bundle and upstream credentials.
// got errors become ours (errors.ts) here and nowhere else.

import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import got, { RequestError, TimeoutError, type Got, type Agents } from 'got';
import { HttpsProxyAgent } from 'hpagent';
import { type CircuitBreaker, parseRetryAfterMs, retryDelayMs } from './breaker.ts';
import type { Config, UpstreamSettings } from './config.ts';
import { ProxyError, UpstreamInvalid, UpstreamUnavailable, errorMessage } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Metrics, Resource, UpstreamOutcome } from './metrics.ts';
import { asStorageError, StorageError } from './storage/blob-store.ts';

/** Largest metadata document the proxy buffers (nuget.org's biggest, the vulnerability base page, is a few MB). */
const MAX_DOCUMENT_BYTES = 128 * 1024 * 1024;

export const USER_AGENT = 'nuget-proxy/0.1.0 (+https://github.com/nuget-proxy/nuget-proxy)';

/** Codes of errors raised before upstream answered: the host is unreachable (breaker failures). */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/**
 * One upstream feed's settings: its name (the metrics label), service index URL, credentials, egress and
 * timeouts, and the overall deadline of a client request (--request-deadline-ms, the same for every upstream).
 */
export type UpstreamConfig = { readonly name: string; readonly url: string; readonly requestDeadlineMs: number } & Pick<
  UpstreamSettings,
  | 'connectTimeoutMs'
  | 'responseTimeoutMs'
  | 'idleTimeoutMs'
  | 'retries'
  | 'retryBaseMs'
  | 'username'
  | 'password'
  | 'token'
  | 'header'
  | 'caFile'
  | 'httpsProxy'
  | 'httpProxy'
  | 'noProxy'
>;

export type DocumentResult =
  | { kind: 'ok'; body: Buffer; etag: string | null; lastModified: string | null; contentType: string | null; url: string }
  | { kind: 'not_modified' }
  | { kind: 'not_found' };

export type DownloadResult =
  | { kind: 'ok'; bytes: number; sha512: string; contentType: string | null }
  | { kind: 'not_found' };

/**
 * Where a download goes: a file path (overwritten by each attempt), or a target that gives each attempt
 * a fresh writable once upstream has answered 2xx, told what upstream announced for the body.
 */
export type DownloadTarget = string | { begin(headers: { declaredBytes: number | null; sha512: string | null }): Promise<Writable> };

export interface RequestOptions {
  readonly resource: Resource;
  readonly etag?: string | null;
  readonly lastModified?: string | null;
  /** When this request must be done by (ms since epoch); several equivalent URLs tried in turn share one. Default: --request-deadline-ms from now. */
  readonly deadlineAt?: number;
}

/**
 * What went wrong in an attempt, which decides the answer when no attempt succeeds: 504 for a timeout
 * only, 502 for the rest (a status, a connection that failed, a body cut short, a body that fails its check).
 */
type Failure = 'timeout' | 'status' | 'connect' | 'truncated' | 'invalid';

/** got's per-phase timeouts of one attempt, shortened to what is left of the request deadline. */
interface PhaseTimeouts {
  readonly lookup: number;
  readonly connect: number;
  readonly secureConnect: number;
  readonly response: number;
}

/** Failure of one attempt, classified for retry and breaker decisions. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly outcome: UpstreamOutcome,
    readonly failure: Failure,
    readonly retryable: boolean,
    /** The host did not answer at all (connection failure or timeout before a response). */
    readonly unreachable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number | null,
  ) {
    super(message);
  }
}

/**
 * Which forward proxy to use for `url` given HTTPS_PROXY / HTTP_PROXY / NO_PROXY semantics (curl's):
 * NO_PROXY entries match a host exactly, as a domain suffix ("corp.example" and ".corp.example" both match
 * "a.corp.example"), optionally with ":port"; "*" disables proxying.
 */
export function proxyForUrl(url: URL, egress: Pick<Config, 'httpsProxy' | 'httpProxy' | 'noProxy'>): string | null {
  const proxy = url.protocol === 'https:' ? egress.httpsProxy : egress.httpProxy;
  if (!proxy) return null;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of (egress.noProxy ?? '').split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return null;
    // A bare IPv6 address has several colons and no port; "[v6]:port" and "host:port" have one.
    const bareIpv6 = !entry.startsWith('[') && (entry.match(/:/g)?.length ?? 0) > 1;
    const m = bareIpv6 ? null : /^(.*?)(?::(\d+))?$/.exec(entry);
    const entryHost = (m?.[1] ?? entry).replace(/^\*?\./, '').replace(/^\[|\]$/g, '');
    const entryPort = m?.[2];
    if (entryPort && entryPort !== port) continue;
    if (host === entryHost || host.endsWith(`.${entryHost}`)) return null;
  }
  return proxy;
}

/**
 * Plain-http upstream through a forward proxy the classic way: requests in absolute form
 * (`GET http://host/path`) on pooled connections to the proxy — corporate proxies commonly allow CONNECT
 * only to port 443. (https upstreams tunnel with CONNECT through hpagent.)
 */
class AbsoluteFormProxyAgent extends http.Agent {
  private readonly proxy: URL;

  constructor(proxy: string, options: http.AgentOptions) {
    super(options);
    this.proxy = new URL(proxy);
  }

  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    const port = options.port ? `:${options.port}` : '';
    req.path = `http://${options.host ?? options.hostname ?? 'localhost'}${port}${req.path}`;
    if (this.proxy.username || this.proxy.password) {
      const basic = Buffer.from(`${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`).toString('base64');
      req.setHeader('proxy-authorization', `Basic ${basic}`);
    }
    const proxyPort = Number(this.proxy.port) || 80;
    // http.Agent.addRequest is how agents pick the socket; route it to the proxy instead of the target.
    const base = http.Agent.prototype as unknown as { addRequest: (r: http.ClientRequest, o: http.RequestOptions) => void };
    base.addRequest.call(this, req, { ...options, host: this.proxy.hostname, hostname: this.proxy.hostname, port: proxyPort });
  }
}

export interface UpstreamDeps {
  readonly config: UpstreamConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly breaker: CircuitBreaker;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * How resources reach one upstream: metadata documents and file downloads. A V3 feed over HTTP
 * (UpstreamClient) and a folder of .nupkg files (FolderUpstream) both answer it.
 */
export interface UpstreamTransport {
  fetchDocument(href: string, options: RequestOptions): Promise<DocumentResult>;
  /** When a client request starting now must be done with this upstream (shared by equivalent URLs tried in turn). */
  newDeadline(): number;
  /** Into a path, or a target (a FillSpool) that gets a fresh writable per attempt; see UpstreamClient.download. */
  download(href: string, target: DownloadTarget, options: { resource: Resource; maxBytes: number }): Promise<DownloadResult>;
  close(): void;
}

export class UpstreamClient implements UpstreamTransport {
  private readonly got: Got;
  private readonly credentialOrigin: string;
  private readonly credentialHeaders: Record<string, string>;
  private readonly agents = new Map<string, Agents>();
  private readonly directAgents: Agents;
  private readonly ca: string[] | undefined;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: UpstreamDeps) {
    const { config } = deps;
    this.sleep = deps.sleep ?? defaultSleep;
    this.credentialOrigin = new URL(config.url).origin;
    this.credentialHeaders = {};
    if (config.username !== null && config.password !== null) {
      const basic = Buffer.from(`${config.username}:${config.password}`).toString('base64');
      this.credentialHeaders['authorization'] = `Basic ${basic}`;
    } else if (config.token !== null) {
      this.credentialHeaders['authorization'] = `Bearer ${config.token}`;
    }
    if (config.header !== null) {
      const colon = config.header.indexOf(':');
      this.credentialHeaders[config.header.slice(0, colon).trim().toLowerCase()] = config.header.slice(colon + 1).trim();
    }
    this.ca = config.caFile ? [...rootCertificates, readFileSync(config.caFile, 'utf8')] : undefined;
    const agentOptions = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, scheduling: 'lifo' as const };
    this.directAgents = { http: new http.Agent(agentOptions), https: new https.Agent({ ...agentOptions, ca: this.ca }) };
    const credentialKeys = Object.keys(this.credentialHeaders);
    this.got = got.extend({
      timeout: {
        lookup: config.connectTimeoutMs,
        connect: config.connectTimeoutMs,
        secureConnect: config.connectTimeoutMs,
        response: config.responseTimeoutMs,
        socket: config.idleTimeoutMs,
      },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: true,
      maxRedirects: 5,
      decompress: true,
      headers: { 'user-agent': USER_AGENT },
      https: this.ca ? { certificateAuthority: this.ca } : {},
      hooks: {
        beforeRedirect: [
          (options) => {
            // Credentials go to the upstream's own origin only, never to a redirect target elsewhere.
            const target = options.url instanceof URL ? options.url : new URL(String(options.url));
            if (target.origin !== this.credentialOrigin) for (const k of credentialKeys) delete options.headers[k];
          },
        ],
      },
    });
  }

  private agentsFor(url: URL): Agents {
    const proxy = proxyForUrl(url, this.deps.config);
    if (!proxy) return this.directAgents;
    let agents = this.agents.get(proxy);
    if (!agents) {
      const common = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, scheduling: 'lifo' as const, proxy };
      agents = {
        http: new AbsoluteFormProxyAgent(proxy, { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, scheduling: 'lifo' }),
        https: new HttpsProxyAgent({ ...common, ca: this.ca }),
      };
      this.agents.set(proxy, agents);
    }
    return agents;
  }

  private headersFor(url: URL, extra: Record<string, string>): Record<string, string> {
    return url.origin === this.credentialOrigin ? { ...this.credentialHeaders, ...extra } : extra;
  }

  /** Classifies a got error from one attempt. `answered`: response headers had arrived. */
  private classify(err: unknown, answered: boolean): AttemptError {
    if (err instanceof AttemptError) return err;
    if (err instanceof TimeoutError) {
      const before = err.event !== 'socket' || !answered;
      return new AttemptError(`upstream timed out (${err.event})`, 'timeout', 'timeout', true, before);
    }
    if (err instanceof RequestError) {
      const code = err.code ?? '';
      // Upstream answered and then the body broke off: a transient upstream failure like any other, but
      // the host is reachable (it never counts towards the breaker).
      if (answered) return new AttemptError(`upstream response was cut short (${code || err.message})`, 'network_error', 'truncated', true, false);
      return new AttemptError(`upstream connection failed: ${code || err.message}`, 'network_error', 'connect', true, CONNECT_ERRORS.has(code));
    }
    return new AttemptError(`upstream request failed: ${errorMessage(err)}`, 'network_error', 'connect', true, false);
  }

  private statusError(status: number, retryAfter: string | undefined): AttemptError {
    const retryable = status >= 500 || status === 408 || status === 429;
    return new AttemptError(`upstream answered HTTP ${status}`, 'http_error', 'status', retryable, false, status, parseRetryAfterMs(retryAfter));
  }

  private timeoutsWithin(remainingMs: number): PhaseTimeouts {
    const { config } = this.deps;
    const connect = Math.max(1, Math.min(config.connectTimeoutMs, remainingMs));
    return { lookup: connect, connect, secureConnect: connect, response: Math.max(1, Math.min(config.responseTimeoutMs, remainingMs)) };
  }

  /**
   * Runs `attempt` with retries, breaker admission per attempt, metrics and the final error mapping, all
   * within --request-deadline-ms: an attempt's timeouts are cut to what is left of it, and no retry starts
   * that could not finish before it. When the deadline passes without the host answering any attempt, its
   * breaker opens at once (the requests behind this one then fail fast).
   */
  private async withRetries<T>(url: URL, resource: Resource, attempt: (timeouts: PhaseTimeouts) => Promise<T>, deadlineAt = this.newDeadline()): Promise<T> {
    const { config, metrics, breaker, log } = this.deps;
    const host = url.host;
    const requestStartedAt = breaker.clock();
    let last: AttemptError | null = null;
    /** The host answered at least one attempt (any HTTP status, or a body that broke off). */
    let heard = false;
    let outOfTime = false;
    for (let i = 0; i <= config.retries; i++) {
      if (Date.now() >= deadlineAt) {
        outOfTime = true;
        break;
      }
      if (i > 0) {
        const delayMs = retryDelayMs(i, config.retryBaseMs, { retryAfterMs: last?.retryAfterMs ?? null });
        if (Date.now() + delayMs >= deadlineAt) {
          outOfTime = true;
          break;
        }
        metrics.upstreamRetries.inc({ upstream: config.name, resource });
        await this.sleep(delayMs);
      }
      const admission = breaker.admit(host);
      if (!admission.allowed) {
        metrics.upstreamRequests.inc({ upstream: config.name, resource, outcome: 'circuit_open' });
        // This request's own failures opened the breaker: report them (a timeout stays a 504).
        if (last) break;
        throw new UpstreamUnavailable(503, 'CIRCUIT_OPEN', `upstream ${config.name} (${host}) is unreachable (circuit breaker open; next attempt in ${Math.ceil(admission.retryInMs / 1000)} s) and this is not cached`, {
          retryAfterSeconds: admission.retryInMs / 1000,
        });
      }
      const end = metrics.upstreamDuration.startTimer({ upstream: config.name, resource });
      const attemptStartedAt = breaker.clock();
      try {
        const result = await attempt(this.timeoutsWithin(deadlineAt - Date.now()));
        end();
        breaker.recordSuccess(host);
        return result;
      } catch (err) {
        end();
        if (err instanceof StorageError) {
          // The spool file could not be written: the proxy's own storage failed, not upstream. No retry
          // (it would download again into the same full disk), and the breaker learns nothing.
          if (admission.allowed && admission.probe) breaker.releaseProbe(host);
          throw err;
        }
        if (err instanceof ProxyError) {
          breaker.recordSuccess(host);
          throw err;
        }
        last = err instanceof AttemptError ? err : this.classify(err, false);
        metrics.upstreamRequests.inc({ upstream: config.name, resource, outcome: last.outcome });
        if (last.unreachable) breaker.recordFailure(host, attemptStartedAt);
        else {
          heard = true;
          breaker.recordSuccess(host);
        }
        log.debug({ url: url.href, attempt: i + 1, err: last.message }, 'upstream attempt failed');
        if (!last.retryable) break;
        if (Date.now() >= deadlineAt) {
          outOfTime = true;
          break;
        }
      }
    }
    // No attempt at all: the time was used up before (an equivalent URL tried first).
    const e = last ?? new AttemptError('no time left', 'timeout', 'timeout', false, false);
    if (outOfTime && last && !heard) {
      breaker.trip(host, requestStartedAt);
      log.warn({ upstream: config.name, host, resource, deadlineMs: config.requestDeadlineMs }, 'upstream did not answer within the request deadline');
    }
    throw this.finalError(host, e, outOfTime);
  }

  /** The deadline of a request starting now (--request-deadline-ms). */
  newDeadline(): number {
    return Date.now() + this.deps.config.requestDeadlineMs;
  }

  /** The answer when every attempt failed: 504 only for a timeout, 502 for everything else. */
  private finalError(host: string, e: AttemptError, outOfTime: boolean): UpstreamUnavailable {
    const { config } = this.deps;
    switch (e.failure) {
      case 'timeout': {
        const within = outOfTime ? ` within the request deadline (${config.requestDeadlineMs} ms)` : ' in time';
        return new UpstreamUnavailable(504, 'UPSTREAM_TIMEOUT', `upstream ${config.name} (${host}) did not answer${within} and this is not cached`, { cause: e });
      }
      case 'status': {
        const why = e.status === 401 || e.status === 403 ? ' (check the upstream credentials)' : '';
        return new UpstreamUnavailable(502, 'UPSTREAM_STATUS', `upstream ${config.name} (${host}) answered HTTP ${e.status}${why} and this is not cached`, { cause: e });
      }
      case 'truncated':
        return new UpstreamUnavailable(502, 'UPSTREAM_TRUNCATED', `upstream ${config.name} (${host}) broke off its answer (${e.message}) and this is not cached`, { cause: e });
      case 'invalid':
        return new UpstreamUnavailable(502, 'UPSTREAM_INVALID', `upstream ${config.name} (${host}) sent a body that fails its check (${e.message}) and this is not cached`, { cause: e });
      case 'connect':
        return new UpstreamUnavailable(502, 'UPSTREAM_UNREACHABLE', `upstream ${config.name} (${host}) is unreachable (${e.message}) and this is not cached`, { cause: e });
    }
  }

  /** GETs a metadata document (decoded per Content-Encoding), conditionally when validators are given. */
  fetchDocument(href: string, options: RequestOptions): Promise<DocumentResult> {
    const url = new URL(href);
    const { metrics } = this.deps;
    const conditional: Record<string, string> = {};
    if (options.etag) conditional['if-none-match'] = options.etag;
    else if (options.lastModified) conditional['if-modified-since'] = options.lastModified;
    return this.withRetries(url, options.resource, async (timeouts) => {
      let answered = false;
      try {
        const request = this.got(url, {
          headers: this.headersFor(url, { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br', ...conditional }),
          agent: this.agentsFor(url),
          responseType: 'buffer',
          timeout: timeouts,
        });
        // Metadata is buffered: refuse a document that would not fit a sane memory budget.
        let tooLarge = false;
        request.on('downloadProgress', (p: { transferred: number }) => {
          // got reports progress from the response headers on (its 'response' event waits for the whole
          // body): from here a failure is a body cut short, not an unreachable host.
          answered = true;
          if (p.transferred > MAX_DOCUMENT_BYTES && !tooLarge) {
            tooLarge = true;
            request.cancel();
          }
        });
        const res = await request.catch((err: unknown) => {
          if (tooLarge) throw new UpstreamInvalid(`upstream ${options.resource} document is larger than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MB`);
          throw err;
        });
        answered = true;
        const status = res.statusCode;
        if (status === 304) {
          metrics.upstreamRequests.inc({ upstream: this.deps.config.name, resource: options.resource, outcome: 'not_modified' });
          return { kind: 'not_modified' } as const;
        }
        if (status === 404 || status === 410) {
          metrics.upstreamRequests.inc({ upstream: this.deps.config.name, resource: options.resource, outcome: 'not_found' });
          return { kind: 'not_found' } as const;
        }
        if (status < 200 || status >= 300) throw this.statusError(status, header(res.headers['retry-after']));
        metrics.upstreamRequests.inc({ upstream: this.deps.config.name, resource: options.resource, outcome: 'ok' });
        metrics.upstreamBytes.inc({ upstream: this.deps.config.name, resource: options.resource }, res.rawBody.length);
        return {
          kind: 'ok',
          body: res.rawBody,
          etag: header(res.headers['etag']) ?? null,
          lastModified: header(res.headers['last-modified']) ?? null,
          contentType: header(res.headers['content-type']) ?? null,
          url: res.url,
        } as const;
      } catch (err) {
        throw this.classify(err, answered);
      }
    }, options.deadlineAt);
  }

  /**
   * Streams a file from upstream into `target`, checking its length against upstream's Content-Length and
   * its SHA-512 against `x-ms-meta-sha512` when upstream sends one — before the body's end reaches the
   * target, so a writable that sees its end saw checked bytes, and one that is destroyed saw a failed
   * attempt. Memory stays flat: bytes go straight to the target. A failed attempt is retried from
   * scratch, into a fresh writable (a FillSpool never appends a retry to bytes a client already has).
   */
  download(href: string, target: DownloadTarget, options: { resource: Resource; maxBytes: number }): Promise<DownloadResult> {
    const url = new URL(href);
    const { metrics } = this.deps;
    return this.withRetries(url, options.resource, async (timeouts) => {
      let answered = false;
      const stream = this.got.stream(url, {
        headers: this.headersFor(url, { accept: 'application/octet-stream, */*' }),
        agent: this.agentsFor(url),
        timeout: timeouts,
      });
      const response = await new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        stream.once('response', (res: http.IncomingMessage) => {
          answered = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers });
        });
        stream.once('error', (err) => reject(this.classify(err, answered)));
      });
      if (response.status === 404 || response.status === 410) {
        stream.destroy();
        metrics.upstreamRequests.inc({ upstream: this.deps.config.name, resource: options.resource, outcome: 'not_found' });
        return { kind: 'not_found' } as const;
      }
      if (response.status < 200 || response.status >= 300) {
        stream.destroy();
        throw this.statusError(response.status, header(response.headers['retry-after']));
      }
      const encoded = Boolean(response.headers['content-encoding']) && response.headers['content-encoding'] !== 'identity';
      const declared = encoded ? null : Number(response.headers['content-length'] ?? NaN);
      if (declared !== null && Number.isFinite(declared) && declared > options.maxBytes) {
        stream.destroy();
        throw new UpstreamInvalid(`package is ${declared} bytes, more than the configured maximum (${options.maxBytes})`);
      }
      const length = declared !== null && Number.isFinite(declared) ? declared : null;
      const expected = header(response.headers['x-ms-meta-sha512']) ?? null;
      const hash = createHash('sha512');
      let bytes = 0;
      let sha512 = '';
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          if (bytes > options.maxBytes) {
            cb(new UpstreamInvalid(`package exceeds the configured maximum of ${options.maxBytes} bytes`));
            return;
          }
          hash.update(chunk);
          cb(null, chunk);
        },
        // The checks run before the end of the body is passed on.
        flush(cb) {
          if (length !== null && length !== bytes) {
            cb(new AttemptError(`upstream body was truncated (${bytes} of ${length} bytes)`, 'network_error', 'truncated', true, false));
            return;
          }
          sha512 = hash.digest('base64');
          if (expected && expected !== sha512) {
            cb(new AttemptError('upstream body does not match its x-ms-meta-sha512 header', 'invalid', 'invalid', true, false));
            return;
          }
          cb();
        },
      });
      let spoolError: unknown = null;
      try {
        const sink = typeof target === 'string' ? createWriteStream(target) : await target.begin({ declaredBytes: length, sha512: expected });
        sink.once('error', (err: Error) => {
          // pipeline() also destroys the sink with upstream's error (a FillSpool writable then emits it):
          // only the sink's own failure (a write to the local disk) is the proxy's storage.
          if (!(err instanceof AttemptError || err instanceof RequestError || err instanceof ProxyError)) spoolError = err;
        });
        await pipeline(stream, meter, sink);
      } catch (err) {
        stream.destroy();
        if (err instanceof ProxyError) throw err;
        // The local spool file failed (disk full, I/O error): the proxy's storage, never upstream's fault.
        if (spoolError) {
          const code = (spoolError as NodeJS.ErrnoException).code ?? 'EIO';
          throw asStorageError(spoolError, 'cannot spool the download') ?? new StorageError(`cannot spool the download: ${errorMessage(spoolError)}`, code, { cause: spoolError });
        }
        throw this.classify(err, answered);
      } finally {
        metrics.upstreamBytes.inc({ upstream: this.deps.config.name, resource: options.resource }, bytes);
      }
      metrics.upstreamRequests.inc({ upstream: this.deps.config.name, resource: options.resource, outcome: 'ok' });
      return { kind: 'ok', bytes, sha512, contentType: header(response.headers['content-type']) ?? null } as const;
    });
  }

  close(): void {
    for (const a of [this.directAgents, ...this.agents.values()]) {
      for (const agent of [a.http, a.https]) if (agent) agent.destroy();
    }
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
