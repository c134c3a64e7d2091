// Fill leases in Redis (one server or a cluster): SET key token NX PX, renewed and released only by the
// token's owner (compare-and-expire, compare-and-delete), so a holder whose lease lapsed and was retaken
// never extends or deletes the new holder's lease.

import type { RedisConnection } from '../redis.ts';
import { newLeaseToken, type AcquireResult, type LeaseBackend } from './lease.ts';

/** Redis keys of fill leases: `nuget-proxy:fill:{blob key}` (one key per lease, so any cluster slot will do). */
export function fillLeaseRedisKey(key: string): string {
  return `nuget-proxy:fill:${key}`;
}

/** Allowance for the round trip between Redis reporting a lease's remaining time and this process seeing it. */
const EXPIRY_SLACK_MS = 50;

export class RedisLeases implements LeaseBackend {
  readonly name = 'redis';

  constructor(
    private readonly redis: RedisConnection,
    private readonly leaseMs: number,
  ) {}

  async tryAcquire(key: string, lastExpiresAt: number | null): Promise<AcquireResult> {
    const redisKey = fillLeaseRedisKey(key);
    const token = newLeaseToken();
    // A SET that timed out may still have been applied; such a lease is never renewed and lapses like a
    // crashed holder's.
    const remainingMs = await this.redis.acquireLease(redisKey, token, this.leaseMs);
    if (remainingMs !== null) return { kind: 'busy', expiresAt: Date.now() + remainingMs };
    // A live holder renews every third of the lease, so the expiry a waiter saw is always well ahead; the key
    // vanishing at (or after) that expiry means it lapsed rather than being released.
    const tookOver = lastExpiresAt !== null && Date.now() + EXPIRY_SLACK_MS >= lastExpiresAt;
    return {
      kind: 'acquired',
      tookOver,
      lease: {
        renew: () => this.redis.renewLease(redisKey, token, this.leaseMs),
        release: async () => {
          await this.redis.releaseLease(redisKey, token);
        },
      },
    };
  }
}
