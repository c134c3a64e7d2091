// When each package version was last served, tracked cheaply for retention: a hit only sets a number in
// memory; every flush writes the versions touched since the last one as ONE small delta object in the
// blob store (works on every backend and across replicas, never a write per hit). A sweep folds the
// deltas into the index object (see sweeper.ts).

import { randomBytes } from 'node:crypto';
import { readBlob, writeBlob, type BlobStore } from '../storage/blob-store.ts';
import { ACCESS_INDEX_KEY, ACCESS_PREFIX, accessDeltaKey, isAccessDeltaKey } from '../storage/layout.ts';
import type { Logger } from '../logger.ts';

/** `{lowerId}/{lowerVersion}` → last served (ms since epoch). */
export type AccessMap = Map<string, number>;

/** A bound on versions remembered between two flushes; past it the flush happens early. */
const MAX_PENDING = 50_000;

export function accessId(lowerId: string, lowerVersion: string): string {
  return `${lowerId}/${lowerVersion}`;
}

export function parseAccessObject(data: Buffer | null): AccessMap {
  const out: AccessMap = new Map();
  if (!data) return out;
  try {
    const doc: unknown = JSON.parse(data.toString('utf8'));
    const entries = (doc as { served?: unknown } | null)?.served;
    if (entries && typeof entries === 'object') {
      for (const [k, v] of Object.entries(entries as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v)) out.set(k, v);
    }
  } catch {
    // A damaged record only costs accuracy: those versions fall back to their fill time.
  }
  return out;
}

export function serializeAccessMap(map: AccessMap): string {
  return JSON.stringify({ served: Object.fromEntries(map) });
}

export async function readAccessIndex(blobs: BlobStore): Promise<AccessMap> {
  return parseAccessObject(await readBlob(blobs, ACCESS_INDEX_KEY));
}

/**
 * Every record there is: the folded index with the deltas not folded yet merged in (the newest time wins),
 * and the keys of those deltas (a sweep deletes them once it has written the merged index).
 */
export async function readAccessRecords(blobs: BlobStore): Promise<{ served: AccessMap; deltaKeys: string[] }> {
  const served = await readAccessIndex(blobs);
  const deltaKeys: string[] = [];
  for await (const o of blobs.list(ACCESS_PREFIX)) {
    if (!isAccessDeltaKey(o.key)) continue;
    for (const [k, v] of parseAccessObject(await readBlob(blobs, o.key))) if ((served.get(k) ?? 0) < v) served.set(k, v);
    deltaKeys.push(o.key);
  }
  return { served, deltaKeys };
}

export class AccessLog {
  private pending: AccessMap = new Map();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly unique = `${process.pid}-${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: Logger,
    private readonly flushIntervalMs: number,
  ) {}

  /** Records that a version was served now. */
  touch(lowerId: string, lowerVersion: string): void {
    this.pending.set(accessId(lowerId, lowerVersion), Date.now());
    if (this.pending.size >= MAX_PENDING) void this.flush();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes what was touched since the last flush as one delta object (nothing when nothing was). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await writeBlob(this.blobs, accessDeltaKey(Date.now(), `${this.unique}-${randomBytes(3).toString('hex')}`), serializeAccessMap(batch), { durable: false });
      } catch (err) {
        // Keep the batch for the next flush (newer touches win).
        for (const [k, v] of batch) if ((this.pending.get(k) ?? 0) < v) this.pending.set(k, v);
        this.log.warn({ err: (err as Error).message, versions: batch.size }, 'could not record package access times; will retry');
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
