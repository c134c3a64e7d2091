// A serving process's link to its siblings under --workers: which worker it is, whether it keeps the
// once-per-host chores, the /metrics exposition aggregated over every worker, and cache changes passed on
// to the other workers. One process alone (--workers 1, tools, tests) gets the solo link: keeper, own
// registry, nobody to tell.

import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** A package version that entered or left the cache in one worker (the others update their views). */
export interface CacheChange {
  readonly kind: 'filled' | 'removed';
  readonly lowerId: string;
  readonly lowerVersion: string;
  /** Bytes of the .nupkg (fills). */
  readonly bytes?: number;
}

export interface ClusterLink {
  /** 1-based worker slot (a restarted worker takes its predecessor's); 0 when the proxy runs as one process. */
  readonly slot: number;
  /**
   * Whether this process does the chores one process per host must do: retention sweeps (with the
   * folding of access records) and the storage gauges. Slot 1 under --workers; the process itself otherwise.
   */
  readonly keeper: boolean;
  /** Registry whose metrics this process contributes. */
  attachMetrics(registry: Registry): void;
  /** The Prometheus text for /metrics: every worker's metrics aggregated, or this process's own. */
  exposition(): Promise<string>;
  /** Tells the other workers about a change this process made to the cache. */
  publish(change: CacheChange): void;
  /** Calls `listener` for every change another worker published. */
  onChange(listener: (change: CacheChange) => void): void;
}

/** The link of a process that serves alone. */
export function soloLink(): ClusterLink {
  let registry: Registry | null = null;
  return {
    slot: 0,
    keeper: true,
    attachMetrics(r) {
      registry = r;
    },
    async exposition() {
      return registry ? registry.metrics() : '';
    },
    publish() {},
    onChange() {},
  };
}

// Messages between the primary and its workers over the cluster's IPC channel (JSON). prom-client's
// AggregatorRegistry uses the same channel with its own message types.
export const MESSAGE_PREFIX = 'nuget-proxy:';

export type WorkerMessage =
  | { readonly type: 'nuget-proxy:hello' }
  | { readonly type: 'nuget-proxy:metrics-request'; readonly id: number }
  | { readonly type: 'nuget-proxy:change'; readonly change: CacheChange };

export type PrimaryMessage =
  | { readonly type: 'nuget-proxy:role'; readonly slot: number; readonly keeper: boolean }
  | { readonly type: 'nuget-proxy:metrics'; readonly id: number; readonly text?: string; readonly error?: string }
  | { readonly type: 'nuget-proxy:change'; readonly change: CacheChange };

export function isOurMessage<T extends { readonly type: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' && (message as { type: string }).type.startsWith(MESSAGE_PREFIX);
}

const ROLE_WAIT_MS = 10_000;
const METRICS_WAIT_MS = 10_000;

/** Joins the primary as a cluster worker: asks for this worker's role, then answers metric requests. */
export async function joinCluster(): Promise<ClusterLink> {
  if (!cluster.isWorker || !process.send) throw new Error('joinCluster() outside a cluster worker');
  const send = (m: WorkerMessage) => process.send?.(m);
  const listeners: Array<(change: CacheChange) => void> = [];
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let gotRole: ((role: { slot: number; keeper: boolean }) => void) | null = null;
  process.on('message', (message: unknown) => {
    if (!isOurMessage<PrimaryMessage>(message)) return;
    switch (message.type) {
      case 'nuget-proxy:role':
        gotRole?.({ slot: message.slot, keeper: message.keeper });
        return;
      case 'nuget-proxy:metrics': {
        const p = pending.get(message.id);
        if (!p) return;
        pending.delete(message.id);
        clearTimeout(p.timer);
        if (message.text !== undefined) p.resolve(message.text);
        else p.reject(new Error(message.error ?? 'metrics aggregation failed'));
        return;
      }
      case 'nuget-proxy:change':
        for (const l of listeners) l(message.change);
        return;
    }
  });
  // Asked for, not pushed: a message that arrives before this module listens would be lost.
  const assigned = await new Promise<{ slot: number; keeper: boolean }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the cluster primary did not assign a worker slot')), ROLE_WAIT_MS);
    gotRole = (role) => {
      clearTimeout(timer);
      gotRole = null;
      resolve(role);
    };
    send({ type: 'nuget-proxy:hello' });
  });
  return {
    slot: assigned.slot,
    keeper: assigned.keeper,
    attachMetrics(registry) {
      // prom-client's worker side: answers the primary's requests with this registry's metrics.
      AggregatorRegistry.setRegistries([registry]);
      new AggregatorRegistry();
    },
    exposition() {
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the cluster primary did not answer the metrics request'));
        }, METRICS_WAIT_MS);
        pending.set(id, { resolve, reject, timer });
        send({ type: 'nuget-proxy:metrics-request', id });
      });
    },
    publish(change) {
      send({ type: 'nuget-proxy:change', change });
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
