// The only importer of @redis/client: one connection to a Redis server or a Redis Cluster (the URL is then a
// seed node), shared by the metadata store and the fill leases; its health (a failure marks Redis down for a
// while, so callers run on their local fallbacks without waiting on it); and the three lease commands.

import { createClient, createCluster, type RedisClientType, type RedisClusterType } from '@redis/client';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export type RedisClient = RedisClientType | RedisClusterType;
export type RedisState = 'up' | 'down';

/** Redis did not answer (down, unreachable, timed out, or marked down after a recent failure). */
export class RedisUnavailable extends Error {
  readonly code = 'REDIS_UNAVAILABLE';
}

export interface RedisOptions {
  /** redis:// or rediss:// URL; with `cluster`, any one node of the cluster. */
  readonly url: string;
  readonly cluster: boolean;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Upper bound for one operation before Redis counts as down. */
  readonly timeoutMs?: number;
  /** After a failure, how long callers run without Redis before it is tried again. */
  readonly retryMs?: number;
}

const CONNECT_TIMEOUT_MS = 2000;
const reconnectDelay = (retries: number): number => Math.min(200 * (retries + 1), 2000);

// Lease scripts: each runs atomically on the node that owns the key, so they work the same on a cluster.
/** Takes the lease if free: {1} — else {0, remaining ms}. */
const ACQUIRE = `if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('pttl', KEYS[1])}`;
/** Extends the lease only while it is still ours. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0`;
/** Deletes the lease only while it is still ours: a lapsed lease retaken by another holder is left alone. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailable(`redis timed out after ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

export class RedisConnection {
  readonly client: RedisClient;
  readonly cluster: boolean;
  private downUntil = 0;
  private state: RedisState = 'up';
  private closed = false;
  private readonly timeoutMs: number;
  private readonly retryMs: number;
  private readonly firstConnect: Promise<void>;

  constructor(private readonly options: RedisOptions) {
    this.cluster = options.cluster;
    this.timeoutMs = options.timeoutMs ?? 500;
    this.retryMs = options.retryMs ?? 5000;
    // Fail commands at once while disconnected instead of queueing them behind a dead server.
    const socket = { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: reconnectDelay };
    this.client = options.cluster
      ? createCluster({ rootNodes: [{ url: options.url }], defaults: { disableOfflineQueue: true, socket } })
      : createClient({ url: options.url, disableOfflineQueue: true, socket });
    this.client.on('error', () => {
      // Connection errors surface as failed operations (markDown); keep them off stderr.
    });
    options.metrics.redisUp.set(1);
    this.firstConnect = this.connect();
  }

  /**
   * A single server reconnects by itself for ever. A cluster client gives up when no seed node answers its
   * first discovery, so that is retried here until it succeeds or the connection is closed.
   */
  private async connect(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.client.connect();
        return;
      } catch (err) {
        if (this.closed) return;
        if (attempt === 0) this.options.log.warn({ err: String(err) }, 'cannot reach redis yet; retrying in the background');
        await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt)).unref());
      }
    }
  }

  /** Waits (at most `ms`) for the first connection, so a healthy Redis is used from the first request. */
  async ready(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    });
    const ok = await Promise.race([this.firstConnect.then(() => this.client.isOpen), timeout]).finally(() => clearTimeout(timer));
    return ok;
  }

  get status(): RedisState {
    return this.state;
  }

  /** Whether callers should try Redis now (false for `retryMs` after a failure). */
  usable(): boolean {
    return !this.closed && Date.now() >= this.downUntil;
  }

  /**
   * Runs one operation with a time limit. Throws RedisUnavailable at once while Redis is marked down, and
   * marks it down when the operation fails; success marks it up again.
   */
  async run<T>(op: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new RedisUnavailable('the redis connection is closed');
    if (Date.now() < this.downUntil) throw new RedisUnavailable('redis is marked down after a recent failure');
    // A cluster client between discovery attempts is not open (and keyv would try to open it itself).
    if (!this.client.isOpen) {
      const err = new RedisUnavailable('redis is not connected');
      this.markDown(err);
      throw err;
    }
    try {
      const result = await withTimeout(op(this.client), this.timeoutMs);
      this.markUp();
      return result;
    } catch (err) {
      this.markDown(err);
      throw err instanceof RedisUnavailable ? err : new RedisUnavailable(String(err), { cause: err });
    }
  }

  private markUp(): void {
    if (this.state !== 'up') this.options.log.info('redis is back');
    this.state = 'up';
    this.options.metrics.redisUp.set(1);
  }

  private markDown(err: unknown): void {
    if (this.state !== 'down') this.options.log.warn({ err: String(err) }, 'redis unavailable; metadata and fill coordination continue locally');
    this.state = 'down';
    this.options.metrics.redisUp.set(0);
    this.downUntil = Date.now() + this.retryMs;
  }

  /** Takes `key` for `ttlMs` with `token` unless it is held: null when taken, else the holder's remaining ms. */
  async acquireLease(key: string, token: string, ttlMs: number): Promise<number | null> {
    const reply = await this.run((c) => c.eval(ACQUIRE, { keys: [key], arguments: [token, String(ttlMs)] }));
    if (!Array.isArray(reply) || reply.length !== 2) throw new RedisUnavailable(`unexpected reply to the lease script: ${JSON.stringify(reply)}`);
    return Number(reply[0]) === 1 ? null : Math.max(0, Number(reply[1]));
  }

  /** Extends a lease we hold; false when it is no longer ours (it lapsed, and maybe another holder took it). */
  async renewLease(key: string, token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.run((c) => c.eval(RENEW, { keys: [key], arguments: [token, String(ttlMs)] }))) === 1;
  }

  /** Releases a lease we hold; a lease that lapsed and was retaken is left alone. */
  async releaseLease(key: string, token: string): Promise<boolean> {
    return Number(await this.run((c) => c.eval(RELEASE, { keys: [key], arguments: [token] }))) === 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.client.isOpen) await this.client.close().catch(() => this.client.destroy());
  }
}
