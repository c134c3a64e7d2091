// Shared pieces of the benchmarks: a proxy child process, a keep-alive HTTP load loop bounded in count
// and time, percentiles and a plain-text table.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ProxyProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The proxy as production runs it: the compiled build (`npm run bench` builds first), without the
 * TypeScript loader's overhead.
 */
export const PROXY_ENTRY = ['dist/src/cli/nuget-proxy.js'];

/** Starts `nuget-proxy serve` as a separate process (its own event loop), on 127.0.0.1. */
export async function spawnProxy(env: Record<string, string>): Promise<ProxyProcess> {
  const prof = process.env['BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`] : [];
  const child = spawn(process.execPath, [...prof, ...PROXY_ENTRY, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, NUGET_PROXY_HOST: '127.0.0.1', NUGET_PROXY_PORT: '0', NUGET_PROXY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = /"url":"(http[^"]+)"/.exec(buf);
      if (m?.[1]) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`proxy exited with ${code}: ${buf}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** GET, read the whole body, return status, bytes and milliseconds. */
export function timedGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    http
      .get(url, { agent, headers }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - started }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * Runs `fn` from `concurrency` loops until `maxCount` calls or `maxMs` elapse, whichever first.
 * Returns each call's latency.
 */
export async function loadLoop(fn: () => Promise<number>, options: { concurrency: number; maxCount: number; maxMs: number }): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = performance.now() + options.maxMs;
  let issued = 0;
  const worker = async () => {
    while (issued < options.maxCount && performance.now() < deadline) {
      issued++;
      latencies.push(await fn());
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return latencies;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function table(headers: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(1)) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: readonly (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}
