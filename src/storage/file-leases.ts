// Fill leases as lock files under the cache directory's locks/, for processes and replicas that share one
// cache directory without Redis: exclusive create, a heartbeat (mtime refresh) while the fill runs, and
// recovery of a stale lock (mtime older than the lease: its holder crashed).
//
// Breaking a stale lock is the racy part: two waiters that both see it stale must not both break it, or
// the second would delete the fresh lock the first just created. So a breaker first takes a guard file
// (exclusive create), checks again under the guard that the lock is still stale, and only then deletes
// it; a waiter that cannot take the guard goes back to waiting. A guard older than the lease is left over
// from a breaker that crashed within those few milliseconds and is removed. The remaining windows (that
// removal, a holder paused for longer than the lease) can at worst let two processes fill the same object,
// which wastes one download but stays correct: commits are atomic and both write the same verified bytes.
//
// mtimes are set explicitly from the holder's clock, so replicas on different hosts sharing a network
// volume need clocks in step to well within the lease (NTP is plenty).

import { mkdir, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { newLeaseToken, type AcquireResult, type HeldLease, type LeaseBackend } from '../coordination/lease.ts';
import { fillLockPaths, localLocksDir } from './layout.ts';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

async function mtimeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => {
    if (errno(err) !== 'ENOENT') throw err;
  });
}

async function contentOf(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

class FileLease implements HeldLease {
  constructor(
    private readonly path: string,
    private readonly content: string,
  ) {}

  async renew(): Promise<boolean> {
    if ((await contentOf(this.path)) !== this.content) return false;
    const now = new Date();
    await utimes(this.path, now, now);
    return true;
  }

  async release(): Promise<void> {
    if ((await contentOf(this.path)) === this.content) await unlinkIfPresent(this.path);
  }
}

export class FileLeases implements LeaseBackend {
  readonly name = 'file';
  /** locks/ was there at the last acquisition: not created again before each one (see create). */
  private dirMade = false;

  constructor(
    private readonly cacheDir: string,
    private readonly leaseMs: number,
  ) {}

  async tryAcquire(key: string): Promise<AcquireResult> {
    const paths = fillLockPaths(this.cacheDir, key);
    let tookOver = false;
    // Bounded: each round either returns or follows a lock that vanished or was broken under us.
    for (let round = 0; round < 3; round++) {
      const lease = await this.create(paths.lock, key);
      if (lease) return { kind: 'acquired', lease, tookOver };
      const mtime = await mtimeOf(paths.lock);
      if (mtime === null) continue;
      const expiresAt = mtime + this.leaseMs;
      if (Date.now() < expiresAt) return { kind: 'busy', expiresAt };
      const broken = await this.breakStale(paths);
      if (broken === 'busy') return { kind: 'busy', expiresAt };
      if (broken === 'broken') tookOver = true;
    }
    return { kind: 'busy', expiresAt: Date.now() };
  }

  /**
   * Creates the lock file with our token, or returns null when it exists. locks/ is created when missing:
   * the first time, and again if something removed it.
   */
  private async create(path: string, key: string): Promise<FileLease | null> {
    let fh;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.dirMade) {
          await mkdir(localLocksDir(this.cacheDir), { recursive: true });
          this.dirMade = true;
        }
        fh = await open(path, 'wx');
        break;
      } catch (err) {
        if (errno(err) === 'EEXIST') return null;
        // locks/ went away since it was made: made again, once.
        if (errno(err) !== 'ENOENT' || attempt > 0) throw err;
        this.dirMade = false;
      }
    }
    const content = `${JSON.stringify({ token: newLeaseToken(), key, pid: process.pid, at: new Date().toISOString() })}\n`;
    try {
      await fh.writeFile(content);
      const now = new Date();
      await fh.utimes(now, now);
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlinkIfPresent(path).catch(() => undefined);
      throw err;
    }
    return new FileLease(path, content);
  }

  /** Deletes a stale lock under the guard; busy when another process is breaking it or it came alive. */
  private async breakStale(paths: { readonly lock: string; readonly breakGuard: string }): Promise<'broken' | 'gone' | 'busy'> {
    try {
      await (await open(paths.breakGuard, 'wx')).close();
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
      const guardMtime = await mtimeOf(paths.breakGuard);
      if (guardMtime !== null && Date.now() - guardMtime > this.leaseMs) await unlinkIfPresent(paths.breakGuard);
      return 'busy';
    }
    try {
      const mtime = await mtimeOf(paths.lock);
      if (mtime === null) return 'gone';
      // Renewed, or replaced by a new holder, since we looked.
      if (Date.now() < mtime + this.leaseMs) return 'busy';
      await unlinkIfPresent(paths.lock);
      return 'broken';
    } finally {
      await unlinkIfPresent(paths.breakGuard).catch(() => undefined);
    }
  }
}
