// The local temp area under --cache-dir (tmp/): spooled downloads, a disk store's uncommitted writes and
// import staging. Every temp file the proxy writes is here, so start-up can remove what a crash left —
// except an import's staging directory young enough to belong to an import running right now.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IMPORT_STAGING_PREFIX, localTempDir } from './layout.ts';

const LIVE_IMPORT_MS = 3600_000;

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
      if (name.startsWith(IMPORT_STAGING_PREFIX)) {
        const s = await stat(path).catch(() => null);
        if (s && now - s.mtimeMs < LIVE_IMPORT_MS) continue;
      }
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
