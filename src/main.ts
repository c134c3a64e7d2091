// Composition root for `serve`: config → logger, metrics → proxy graph → app → listen; readiness; and
// the SIGTERM drain (stop accepting, finish in-flight responses and fills, exit within a bounded time).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { createApp } from './app.ts';
import { soloLink, type ClusterLink } from './cluster/link.ts';
import { redactConfig, type Config, type ConfigNote } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createProxy, type Proxy } from './proxy.ts';
import { storageCodeOf, writeBlob } from './storage/blob-store.ts';
import { GENERATION_KEY, readinessProbeKey } from './storage/layout.ts';

export interface RunningServer {
  readonly url: string;
  readonly proxy: Proxy;
  readonly server: http.Server | https.Server;
  /** Graceful stop: refuse new work, finish in-flight requests and fills (bounded), release everything. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  readonly metrics?: Metrics;
  /** What parsing the configuration noticed (unknown NUGET_PROXY_* variables, ignored service links): logged at start. */
  readonly notes?: readonly ConfigNote[];
  /** This process's place among --workers (default: serving alone). */
  readonly cluster?: ClusterLink;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const link = options.cluster ?? soloLink();
  const baseLog = options.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // Under --workers every line says which worker wrote it (bindings are serialized once, not per line).
  const log = link.slot > 0 ? baseLog.child({ worker: link.slot, pid: process.pid }) : baseLog;
  const metrics = options.metrics ?? createMetrics();
  for (const n of options.notes ?? []) log[n.level]({ variable: n.variable, suggestion: n.suggestion, detail: n.detail }, n.msg);
  link.attachMetrics(metrics.registry);
  const proxy = await createProxy(config, log, metrics, { cluster: link });
  let shuttingDown = false;
  let storageCheck: { at: number; writable: boolean; readable: boolean; code?: string; error?: string } = { at: 0, writable: true, readable: true };

  /** Writes and deletes a probe object (every 5 s; every second while it fails), and reads when writing fails. */
  const checkStorage = async (): Promise<void> => {
    if (Date.now() - storageCheck.at <= (storageCheck.writable ? 5000 : 1000)) return;
    const probe = readinessProbeKey(`${hostname()}-${process.pid}`);
    const wasWritable = storageCheck.writable;
    try {
      await writeBlob(proxy.blobs, probe, 'ok', { durable: false });
      await proxy.blobs.delete(probe);
      storageCheck = { at: Date.now(), writable: true, readable: true };
      if (!wasWritable) log.info({ cache: proxy.blobs.description }, 'cache writable again');
      return;
    } catch (err) {
      const code = storageCodeOf(err);
      let readable = true;
      try {
        await proxy.blobs.stat(GENERATION_KEY);
      } catch {
        readable = false;
      }
      storageCheck = { at: Date.now(), writable: false, readable, code, error: (err as Error).message };
      metrics.storageErrors.inc({ operation: 'readiness', code });
      if (wasWritable) log.error({ cache: proxy.blobs.description, code, readable, err: (err as Error).message }, 'cache not writable');
    }
  };

  const readiness = async () => {
    await checkStorage();
    const redis = await proxy.store.checkShared();
    // Per upstream (by configured name): its breakers per host; degraded when any is not closed.
    const upstreams: Record<string, { kind: string; status: 'ok' | 'degraded'; hosts: ReturnType<typeof proxy.feeds.first.breaker.snapshot> }> = {};
    const openBreakers: string[] = [];
    for (const feed of proxy.feeds.all) {
      const hosts = feed.breaker.snapshot();
      const open = Object.entries(hosts).filter(([, b]) => b.state !== 'closed');
      upstreams[feed.name] = { kind: feed.spec.kind, status: open.length > 0 ? 'degraded' : 'ok', hosts };
      for (const [host, b] of open) openBreakers.push(`upstream ${feed.name} (${host}) breaker ${b.state.replace('_', '-')}`);
    }
    // Only a proxy that cannot serve is unready. A dead upstream or Redis, or a full cache, degrades it
    // but it still serves what it holds — taking every replica out of the Service then would turn an
    // upstream outage or a full disk into a complete one.
    const ready = !shuttingDown && (storageCheck.writable || storageCheck.readable);
    const problems = [
      ...(storageCheck.writable ? [] : [`cache not writable (${storageCheck.code ?? 'error'})`]),
      ...(storageCheck.readable ? [] : ['cache not readable']),
      ...(redis === 'down' ? ['redis down'] : []),
      ...openBreakers,
    ];
    return {
      ready,
      body: {
        status: !ready ? 'unready' : problems.length > 0 ? 'degraded' : 'ok',
        problems,
        shuttingDown,
        // Where blobs are (a directory, or s3://bucket/prefix/ at an endpoint's origin: never credentials).
        storage: proxy.blobs.description,
        storageState: storageCheck.writable ? 'writable' : `not writable: ${storageCheck.error ?? ''}`,
        redis,
        offline: config.offline,
        upstreams,
      },
    };
  };

  const tls = config.tlsCert !== null && config.tlsKey !== null;
  const app = createApp({ proxy, tls, readiness, draining: () => shuttingDown, exposition: () => link.exposition() });
  const handler = app.callback();
  const server = tls
    ? https.createServer({ cert: readFileSync(config.tlsCert as string), key: readFileSync(config.tlsKey as string) }, handler)
    : http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
  proxy.access.start();
  // Sweeps (and the folding of every process's access records) need one process per host, not one per worker.
  if (link.keeper) proxy.retention.start(config.retentionIntervalSeconds * 1000);
  log.info({ url, serviceIndex: `${config.publicUrl?.replace(/\/+$/, '') ?? url}/v3/index.json`, config: redactConfig(config) }, 'nuget-proxy listening');

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      shuttingDown = true;
      log.info({ timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests and fills');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections that finish their last response during the drain are closed as they go
      // idle, instead of lingering for the keep-alive timeout.
      server.closeIdleConnections();
      const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
      idleSweep.unref();
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref());
      const outcome = await Promise.race([closed.then(() => proxy.close()).then(() => 'done' as const), timer]);
      clearInterval(idleSweep);
      if (outcome === 'timeout') {
        log.warn('shutdown timeout reached; closing remaining connections');
        server.closeAllConnections();
      }
      log.info('stopped');
    })();
    return stopping;
  };
  return { url, proxy, server, stop };
}
