// The primary process under --workers N: forks N serving workers that share one listening port, restarts
// a worker that dies (a bounded number of times), aggregates /metrics over the workers, passes cache
// changes from one worker to the others, and on SIGTERM/SIGINT drains every worker and exits 0.
// It serves nothing itself and builds no proxy graph.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../logger.ts';
import { isOurMessage, type PrimaryMessage, type WorkerMessage } from './link.ts';
import { withNodeFlags } from './node-flags.ts';

export interface PrimaryOptions {
  readonly workers: number;
  /** A worker's own drain limit (--shutdown-timeout-ms); the primary waits a little longer before SIGKILL. */
  readonly shutdownTimeoutMs: number;
  readonly tls: boolean;
  readonly log: Logger;
}

/** More deaths than this within RESTART_WINDOW_MS: something is wrong with the host or the build; give up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** Pause before a dead worker's replacement starts (a crash loop does not spin a core). */
const RESTART_DELAY_MS = 500;
/** How long past a worker's own drain limit the primary waits before it kills the worker. */
const KILL_GRACE_MS = 5_000;

interface Slot {
  /** 1-based; slot 1 is the keeper (see ClusterLink.keeper). */
  readonly index: number;
  worker: Worker | null;
  listening: boolean;
}

/**
 * Chooses how connections reach the workers; must be set before the first fork. Round-robin in the
 * primary (Node's default on Linux) rather than SCHED_NONE, where every worker accept()s on the shared
 * socket and the kernel wakes whichever it likes: measured with wrk on 2 cores, round-robin gives the
 * same throughput with keep-alive and spreads connections evenly, while SCHED_NONE piles most
 * connections on one worker (docs/deployment.md, "Every core: workers").
 */
export const SCHEDULING_POLICY = cluster.SCHED_RR;

/** Runs the workers until a signal stops them; resolves with the exit code. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log, workers: count } = options;
  cluster.schedulingPolicy = SCHEDULING_POLICY;
  // Workers run with the serving process's V8 settings even when the primary was started without them.
  cluster.setupPrimary({ execArgv: withNodeFlags(process.execArgv) });
  const aggregator = new AggregatorRegistry();
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({ index: i + 1, worker: null, listening: false }));
  const slotOf = new Map<number, Slot>();
  const deaths: number[] = [];
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const send = (worker: Worker, message: PrimaryMessage) => {
    if (worker.isConnected()) worker.send(message);
  };

  const fork = (slot: Slot) => {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.listening = false;
    slotOf.set(worker.id, slot);
  };

  cluster.on('listening', (worker, address) => {
    const slot = slotOf.get(worker.id);
    if (!slot) return;
    slot.listening = true;
    if (announced) {
      log.info({ slot: slot.index, pid: worker.process.pid }, 'worker restarted');
      return;
    }
    if (!slots.every((s) => s.listening)) return;
    announced = true;
    const host = address.addressType === 6 ? `[${address.address}]` : address.address;
    const url = `${options.tls ? 'https' : 'http'}://${host}:${address.port}`;
    log.info({ url, workers: count, pids: slots.map((s) => s.worker?.process.pid) }, 'workers listening');
  });

  cluster.on('message', (worker, message: unknown) => {
    if (!isOurMessage<WorkerMessage>(message)) return;
    const slot = slotOf.get(worker.id);
    switch (message.type) {
      case 'nuget-proxy:hello':
        if (slot) send(worker, { type: 'nuget-proxy:role', slot: slot.index, keeper: slot.index === 1 });
        return;
      case 'nuget-proxy:metrics-request':
        aggregator.clusterMetrics().then(
          (text) => send(worker, { type: 'nuget-proxy:metrics', id: message.id, text }),
          (err: unknown) => send(worker, { type: 'nuget-proxy:metrics', id: message.id, error: (err as Error).message }),
        );
        return;
      case 'nuget-proxy:change':
        for (const other of Object.values(cluster.workers ?? {})) if (other && other !== worker) send(other, message);
        return;
    }
  });

  return new Promise<number>((resolve) => {
    let killTimer: NodeJS.Timeout | null = null;
    const alive = () => slots.filter((s) => s.worker !== null);
    const finishIfDone = () => {
      if (!stopping || alive().length > 0) return;
      if (killTimer) clearTimeout(killTimer);
      log.info({ exitCode }, 'all workers stopped');
      resolve(exitCode);
    };

    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason, workers: alive().length, timeoutMs: options.shutdownTimeoutMs }, 'stopping workers: draining in-flight requests and fills');
      for (const s of alive()) s.worker?.process.kill('SIGTERM');
      killTimer = setTimeout(() => {
        for (const s of alive()) {
          log.error({ slot: s.index, pid: s.worker?.process.pid }, 'worker did not stop in time; killing it');
          exitCode = 1;
          s.worker?.process.kill('SIGKILL');
        }
      }, options.shutdownTimeoutMs + KILL_GRACE_MS);
      finishIfDone();
    };

    cluster.on('exit', (worker, code, signal) => {
      const slot = slotOf.get(worker.id);
      slotOf.delete(worker.id);
      if (!slot || slot.worker !== worker) return;
      const wasListening = slot.listening;
      slot.worker = null;
      slot.listening = false;
      const pid = worker.process.pid;
      if (stopping) {
        // A worker that was still starting when the signal came has nothing to drain.
        const clean = code === 0 || (!wasListening && signal === 'SIGTERM');
        if (!clean) exitCode = 1;
        log.info({ slot: slot.index, pid, code, signal }, 'worker stopped');
        finishIfDone();
        return;
      }
      log.error({ slot: slot.index, pid, code, signal }, 'worker died');
      if (!announced && !wasListening) {
        // It never started (port taken, unreadable cache directory …): restarting will not help.
        exitCode = 1;
        log.fatal({ slot: slot.index }, 'a worker failed to start; stopping');
        stop('worker failed to start');
        return;
      }
      const now = Date.now();
      deaths.push(now);
      while (deaths.length > 0 && (deaths[0] ?? now) < now - RESTART_WINDOW_MS) deaths.shift();
      if (deaths.length > MAX_RESTARTS) {
        exitCode = 1;
        log.fatal({ deaths: deaths.length, windowMs: RESTART_WINDOW_MS }, 'workers keep dying; stopping');
        stop('workers keep dying');
        return;
      }
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, RESTART_DELAY_MS);
    });

    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    log.info({ workers: count, pid: process.pid }, 'starting workers');
    for (const slot of slots) fork(slot);
  });
}
