// A cache-wide generation stamp: tools that change the cache directory underneath a running proxy
// (import, prefetch) bump it; the proxy notices within a second and drops what it holds in memory.

import { stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'generation';

/** Marks the cache directory as changed by someone other than the proxy serving it. */
export async function bumpGeneration(cacheDir: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  await writeFile(join(cacheDir, FILE), `${Date.now()} ${process.pid}\n`);
}

/** Calls `onChange` (at most once per `intervalMs` of checking) when the stamp changes. */
export class GenerationWatch {
  private lastCheck = 0;
  private lastStamp = -1;

  constructor(
    private readonly cacheDir: string,
    private readonly onChange: () => void,
    private readonly intervalMs = 1000,
  ) {}

  async check(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheck < this.intervalMs) return;
    this.lastCheck = now;
    const stamp = await stat(join(this.cacheDir, FILE)).then((s) => s.mtimeMs, () => 0);
    if (this.lastStamp !== -1 && stamp !== this.lastStamp) this.onChange();
    this.lastStamp = stamp;
  }
}
