// Single HTTP requests from the harness (checks, fills, big documents): never the load itself, which
// comes from wrk.

import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly ms: number;
}

/** GET with a deadline; the whole body in memory. */
export function get(url: string, options: { headers?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<Response> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = client.get(url, { ...(client === http ? { agent } : {}), headers: { ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** GET counting the body's bytes without keeping them. */
export function timedGet(url: string, headers: Readonly<Record<string, string>> = {}, timeoutMs = 120_000): Promise<{ status: number; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent, headers: { ...headers } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The body as a client sees it once decoded. */
export function decoded(r: Response): Buffer {
  switch (String(r.headers['content-encoding'] ?? '').toLowerCase()) {
    case 'gzip':
      return gunzipSync(r.body);
    case 'deflate':
      return inflateSync(r.body);
    case 'br':
      return brotliDecompressSync(r.body);
    default:
      return r.body;
  }
}

export const sha512 = (b: Buffer): string => createHash('sha512').update(b).digest('base64');

/** GET that must answer 200; returns the decoded body. */
export async function getOk(url: string, what: string, headers: Readonly<Record<string, string>> = {}): Promise<Buffer> {
  const r = await get(url, { headers });
  if (r.status !== 200) throw new Error(`${what}: ${url} answered ${r.status}`);
  return decoded(r);
}

/** Where a feed's service index says a resource is (`PackageBaseAddress/3.0.0` …), with a trailing slash. */
export async function resourceOf(serviceIndexUrl: string, type: string, what: string): Promise<string> {
  const index = JSON.parse((await getOk(serviceIndexUrl, what)).toString('utf8')) as { resources?: Array<{ '@id'?: string; '@type'?: string }> };
  const id = index.resources?.find((r) => r['@type'] === type)?.['@id'];
  if (!id) throw new Error(`${what}: no ${type} in ${serviceIndexUrl}`);
  return id.endsWith('/') ? id : `${id}/`;
}

/** A feed's flat container (PackageBaseAddress/3.0.0). */
export const flatContainerOf = (serviceIndexUrl: string, what: string): Promise<string> => resourceOf(serviceIndexUrl, 'PackageBaseAddress/3.0.0', what);
