// The local temp area under --cache-dir (tmp/): spooled downloads, a disk store's uncommitted writes and
// import staging. Every temp file the proxy writes is here, so start-up can remove what a crash left —
// but only what nobody has written to for a while: replicas sharing one cache directory share this area,
// and a replica starting must not delete the spool file of a fill another replica is running right now.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IMPORT_STAGING_PREFIX, localTempDir } from './layout.ts';

const LIVE_IMPORT_MS = 3600_000;
/**
 * A fill writes its spool file continuously and fails after --upstream-idle-timeout-ms without a byte, so
 * a file untouched for this long belongs to no live fill.
 */
const ABANDONED_MS = 15 * 60_000;

export class LocalTemp {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = localTempDir(cacheDir);
  }

  /** Creates the area and removes what earlier processes left behind. */
  async init(): Promise<{ removed: number }> {
    await mkdir(this.dir, { recursive: true });
    const now = Date.now();
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const s = await stat(path).catch(() => null);
      if (s && now - s.mtimeMs < (name.startsWith(IMPORT_STAGING_PREFIX) ? LIVE_IMPORT_MS : ABANDONED_MS)) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return { removed };
  }

  /** A fresh file path in the area (not created). */
  path(hint: string): string {
    return join(this.dir, `${randomBytes(8).toString('hex')}-${hint.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}`);
  }

  /** A fresh staging directory for an import (created). */
  async stagingDir(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    return mkdtemp(join(this.dir, IMPORT_STAGING_PREFIX));
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}
