// What a fill lease backend (a Redis key, a lock file in the cache directory) offers the fill coordinator.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { LeaseBackendName } from '../metrics.ts';

export interface HeldLease {
  /** Extends the lease by the lease length; false when it is no longer ours. Throws when the backend cannot tell. */
  renew(): Promise<boolean>;
  /** Gives the lease up if it is still ours. */
  release(): Promise<void>;
}

export type AcquireResult =
  /** `tookOver`: the previous holder stopped renewing and its lease lapsed or was broken. */
  | { readonly kind: 'acquired'; readonly lease: HeldLease; readonly tookOver: boolean }
  /** Another holder has it until `expiresAt` (ms since epoch, this process's clock) unless it renews. */
  | { readonly kind: 'busy'; readonly expiresAt: number };

export interface LeaseBackend {
  readonly name: LeaseBackendName;
  /**
   * Takes the lease on `key` when it is free or its holder's lease has run out. `lastExpiresAt` is what the
   * previous attempt of the same wait saw (null on the first). Throws when the backend cannot answer.
   */
  tryAcquire(key: string, lastExpiresAt: number | null): Promise<AcquireResult>;
}

/**
 * A holder's identity, written into the lease: unique per acquisition, and naming the host and process for
 * whoever inspects a lease by hand.
 */
export function newLeaseToken(): string {
  return `${hostname()}:${process.pid}:${randomBytes(8).toString('hex')}`;
}
