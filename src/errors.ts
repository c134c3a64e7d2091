// The proxy's error hierarchy: every expected failure carries an HTTP status, a stable code and whether
// its message may be shown to the client (4xx: yes; 5xx: a fixed, safe message).

export class ProxyError extends Error {
  readonly status: number;
  readonly code: string;
  /** When true the message is safe to send to the client. */
  readonly expose: boolean;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { cause?: unknown; expose?: boolean; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.expose = options.expose ?? status < 500;
    this.headers = options.headers ?? {};
  }
}

export class BadRequest extends ProxyError {
  constructor(message: string) {
    super(400, 'BAD_REQUEST', message);
  }
}

export class NotFound extends ProxyError {
  constructor(message = 'Not found.') {
    super(404, 'NOT_FOUND', message);
  }
}

export class MethodNotAllowed extends ProxyError {
  constructor() {
    super(405, 'METHOD_NOT_ALLOWED', 'Only GET and HEAD are supported.', { headers: { Allow: 'GET, HEAD' } });
  }
}

/**
 * Upstream could not give us what we need and we have nothing cached. Always 5xx: a 404 here would make
 * restore silently pick another version (protocol digest §16 pitfall 10). The message is written for
 * the person reading restore output, so it is exposed.
 */
export class UpstreamUnavailable extends ProxyError {
  constructor(status: 502 | 503 | 504, code: string, message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(status, code, message, {
      cause: options.cause,
      expose: true,
      headers: options.retryAfterSeconds ? { 'Retry-After': String(Math.ceil(options.retryAfterSeconds)) } : {},
    });
  }
}

/** The proxy is at a configured limit (e.g. every package stream busy): try again shortly. */
export class ServiceBusy extends ProxyError {
  constructor(message: string, retryAfterSeconds: number) {
    super(503, 'BUSY', message, { expose: true, headers: { 'Retry-After': String(Math.ceil(retryAfterSeconds)) } });
  }
}

/** Upstream sent something that is not what the protocol promises (bad JSON, a corrupt package). */
export class UpstreamInvalid extends ProxyError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(502, 'UPSTREAM_INVALID', message, { cause: options.cause, expose: true });
  }
}

/** Storage codes (errno, or the S3 store's) that mean "no room left", as opposed to "cannot write at all". */
const FULL_STORAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'S3_QUOTA_EXCEEDED']);

/** How long a client should wait before asking again for something the cache could not store. */
export const CACHE_RETRY_AFTER_SECONDS = 60;

/**
 * The proxy's own storage failed while filling (disk full, read-only, I/O error, object store refusing):
 * not upstream's fault, so no upstream retry helps. 507 when the cache is full, 503 otherwise; the message
 * names the cache, for the person reading restore output.
 */
export class CacheUnavailable extends ProxyError {
  readonly storageCode: string;

  constructor(storageCode: string, cache: string, options: { cause?: unknown } = {}) {
    const full = FULL_STORAGE_CODES.has(storageCode);
    const state = full ? 'full' : 'not writable';
    super(full ? 507 : 503, full ? 'CACHE_FULL' : 'CACHE_NOT_WRITABLE', `nuget-proxy's cache (${cache}) is ${state} (${storageCode}): this could not be stored; try again later`, {
      cause: options.cause,
      expose: true,
      headers: { 'Retry-After': String(CACHE_RETRY_AFTER_SECONDS) },
    });
    this.storageCode = storageCode;
  }
}

export function isProxyError(err: unknown): err is ProxyError {
  return err instanceof ProxyError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The policy refuses this package version. 403 with the reason as the body and as X-NuGet-Warning, which
 * NuGet clients print (the body they do not show); a refusal is meant to fail the restore and say why.
 */
export class PolicyRefused extends ProxyError {
  constructor(reason: string) {
    super(403, 'POLICY_REFUSED', `nuget-proxy policy: ${reason}`, { headers: { 'X-NuGet-Warning': `nuget-proxy policy: ${reason}` } });
  }
}
