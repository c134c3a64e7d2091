// The local temp area under --cache-dir (tmp/): spooled downloads, a disk store's uncommitted writes and
// import staging. Every temp file the proxy writes is here, in a directory of the process that writes it
// (tmp/p-{host}-{pid}/), so start-up can remove what a crashed process left without touching the files of
// processes still running on the same directory (workers, replicas on a shared volume, a prefetch) —
// and keeps an import's staging directory young enough to belong to an import running right now.

import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { IMPORT_STAGING_PREFIX, localTempDir } from './layout.ts';

const LIVE_IMPORT_MS = 3600_000;
/** A directory of a process on another host that has not changed for this long belongs to a dead process. */
const OTHER_HOST_STALE_MS = 6 * 3600_000;
const PROCESS_DIR_PREFIX = 'p-';
const HOST = hostname().replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 100);

function processDirName(pid: number): string {
  return `${PROCESS_DIR_PREFIX}${HOST}-${pid}`;
}

/** Host and pid of a process directory name, or null for other names. */
function parseProcessDir(name: string): { host: string; pid: number } | null {
  const m = /^p-(.+)-([0-9]+)$/.exec(name);
  return m?.[1] && m[2] ? { host: m[1], pid: Number(m[2]) } : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LocalTemp {
  readonly dir: string;
  /** This process's own directory in the area. */
  readonly ownDir: string;

  constructor(cacheDir: string) {
    this.dir = localTempDir(cacheDir);
    this.ownDir = join(this.dir, processDirName(process.pid));
  }

  /**
   * Creates the area and removes what dead processes left behind: this process's own directory (a
   * restarted container reuses host name and pid), directories of pids no longer alive on this host,
   * directories of other hosts unchanged for hours, loose files, and import staging older than an hour.
   */
  async init(): Promise<{ removed: number }> {
    await mkdir(this.dir, { recursive: true });
    const now = Date.now();
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const owner = parseProcessDir(name);
      if (owner && path !== this.ownDir) {
        if (owner.host === HOST ? alive(owner.pid) : await youngerThan(path, now, OTHER_HOST_STALE_MS)) continue;
      } else if (name.startsWith(IMPORT_STAGING_PREFIX)) {
        if (await youngerThan(path, now, LIVE_IMPORT_MS)) continue;
      }
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    await mkdir(this.ownDir, { recursive: true });
    return { removed };
  }

  /** A fresh file path in this process's directory (the directory exists; the file does not). */
  path(hint: string): string {
    mkdirSync(this.ownDir, { recursive: true });
    return join(this.ownDir, `${randomBytes(8).toString('hex')}-${hint.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}`);
  }

  /** A fresh staging directory for an import (created). */
  async stagingDir(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    return mkdtemp(join(this.dir, IMPORT_STAGING_PREFIX));
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  /** Removes a temp file (one unlink; nothing when it is gone already). */
  async removeFile(path: string): Promise<void> {
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

async function youngerThan(path: string, now: number, ms: number): Promise<boolean> {
  const s = await stat(path).catch(() => null);
  return s !== null && now - s.mtimeMs < ms;
}
