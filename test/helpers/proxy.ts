// Starts a real nuget-proxy in-process for a test: same graph as `serve`, a temp cache directory,
// a fresh prom-client registry, logs captured (not printed) so tests can assert on them.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { createMetrics } from '../../src/metrics.ts';

export interface TestProxy extends RunningServer {
  readonly config: Config;
  readonly cacheDir: string;
  /** Every log line written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  /** Stops the server (graceful) — the cache directory stays for restarts. */
  stop(): Promise<void>;
  /** Stops and removes the cache directory. */
  dispose(): Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `nuget-proxy-${prefix}-`));
}

/**
 * `env` uses the same NUGET_PROXY_* names a user sets; defaults for tests: port 0 on 127.0.0.1,
 * short retry delays.
 */
export async function startProxy(env: Record<string, string> = {}, options: { cacheDir?: string } = {}): Promise<TestProxy> {
  const cacheDir = options.cacheDir ?? (await makeTempDir('cache'));
  const { config } = parseConfig('serve', [], {
    NUGET_PROXY_PORT: '0',
    NUGET_PROXY_HOST: '127.0.0.1',
    NUGET_PROXY_CACHE_DIR: cacheDir,
    NUGET_PROXY_UPSTREAM_RETRY_BASE_MS: '20',
    NUGET_PROXY_LOG_LEVEL: 'debug',
    NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '5000',
    ...env,
  });
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) {
          try {
            lines.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            lines.push({ raw: line });
          }
        }
      }
      cb();
    },
  });
  const log = createLogger({ level: config.logLevel, format: 'json' }, sink);
  const running = await startServer(config, { log, metrics: createMetrics({ defaultMetrics: false }) });
  return {
    ...running,
    config,
    cacheDir,
    logs: () => lines,
    stop: running.stop,
    async dispose() {
      await running.stop();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
