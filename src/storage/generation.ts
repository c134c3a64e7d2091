// A cache-wide generation stamp: tools that change the cache underneath a running proxy (import,
// prefetch, purge) bump it; the proxy notices within a second and drops what it holds in memory.

import { writeBlob, type BlobStore } from './blob-store.ts';
import { GENERATION_KEY } from './layout.ts';

/** Marks the cache as changed by someone other than the proxy serving it. */
export async function bumpGeneration(blobs: BlobStore): Promise<void> {
  await writeBlob(blobs, GENERATION_KEY, `${Date.now()} ${process.pid} ${Math.random()}\n`);
}

const CHECKED: Promise<void> = Promise.resolve();

/** Calls `onChange` (at most once per `intervalMs` of checking) when the stamp changes. */
export class GenerationWatch {
  private lastCheck = 0;
  private lastStamp: string | null = null;

  constructor(
    private readonly blobs: BlobStore,
    private readonly onChange: () => void,
    private readonly intervalMs = 1000,
  ) {}

  /**
   * Never rejects. Between looks (every request on the hit path calls this) it returns a settled promise
   * at once, without making one.
   */
  check(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheck < this.intervalMs) return CHECKED;
    this.lastCheck = now;
    return this.look().catch(() => undefined);
  }

  private async look(): Promise<void> {
    const stamp = await this.blobs.stat(GENERATION_KEY).then((s) => s?.etag ?? 'none', () => this.lastStamp);
    if (stamp === null) return;
    if (this.lastStamp !== null && stamp !== this.lastStamp) this.onChange();
    this.lastStamp = stamp;
  }
}
