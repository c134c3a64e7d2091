// A fill's local spool that clients read while upstream is still sending it. Every upstream attempt
// writes its own temp file; a client follows the attempt it joined, reading what is on disk at its own
// pace (a slow client holds back neither the fill nor memory; one keeping up takes the bytes of the last
// write from memory instead of reading them back), and never gets the attempt's last byte
// until the fill releases it — after the checks — so no client can see a complete response whose bytes
// fail them. When an attempt breaks off and the retry announces the same body (the same Content-Length,
// and the same x-ms-meta-sha512 when either sends one: a package is immutable), its readers carry on from
// where they are in the retry's file; otherwise, and when the fill fails or is rejected, they are destroyed
// (their connections are aborted, and NuGet clients retry). A reader going away never affects the fill.

import { open, type FileHandle } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { asStorageError } from './blob-store.ts';
import type { LocalTemp } from './local-temp.ts';

/** What upstream announced for an attempt, before its body. */
export interface AttemptHeaders {
  /** The identity Content-Length; null when upstream streams without one (or compressed). */
  readonly declaredBytes: number | null;
  /** Upstream's x-ms-meta-sha512 (base64), when sent: the download is checked against it. */
  readonly sha512: string | null;
}

/** A client's view of a fill in progress. */
export interface FollowedFill extends AttemptHeaders {
  readonly stream: Readable;
}

const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Whether a retry's bytes can continue a broken-off attempt's: the same known length, and the same
 * x-ms-meta-sha512 when either announced one (the final checks then cover every byte a reader gets).
 */
function sameBody(a: AttemptHeaders, b: AttemptHeaders): boolean {
  return a.declaredBytes !== null && a.declaredBytes === b.declaredBytes && a.sha512 === b.sha512;
}

class Attempt {
  written = 0;
  /**
   * The bytes of the last completed write (and the last byte of the one before, denied to readers until then),
   * at [heldStart, written): readers keeping up with the download (most of them) take these from memory
   * instead of reading back what was just written. Held until the next write completes: no more memory
   * than the write itself took.
   */
  private held: readonly Buffer[] = [];
  private heldStart = 0;
  state: 'receiving' | 'released' | 'failed' = 'receiving';
  error: Error | null = null;
  /** A failed attempt: the retry its readers carry on with, once there is one. */
  successor: Attempt | null = null;
  /** A failed attempt with no retry to carry on with: its readers are destroyed. */
  final = false;
  /** The spool is done with this attempt's file: close it once the last reader leaves. */
  retired = false;
  private readonly readers = new Set<SpoolReader>();
  private closing: Promise<void> | null = null;

  constructor(
    readonly path: string,
    readonly handle: FileHandle,
    readonly headers: AttemptHeaders,
  ) {}

  attach(): SpoolReader {
    const reader = new SpoolReader(this);
    this.readers.add(reader);
    return reader;
  }

  detach(reader: SpoolReader): void {
    this.readers.delete(reader);
    this.closeIfIdle();
  }

  /** `bytesWritten` bytes of `buffers` are in the file at `at`: remember them and wake the readers. */
  wrote(buffers: readonly Buffer[], at: number, bytesWritten: number): void {
    // The previous write's last byte too: readers got all of it but that one (withheld until release).
    const previousLast = this.held.at(-1);
    const carried = previousLast && previousLast.length > 0 && this.written === at ? previousLast.subarray(-1) : null;
    const held: Buffer[] = carried ? [carried] : [];
    let left = bytesWritten;
    for (const b of buffers) {
      if (left <= 0) break;
      held.push(b.length <= left ? b : b.subarray(0, left));
      left -= b.length;
    }
    this.held = held;
    this.heldStart = carried ? at - 1 : at;
    this.written = at + bytesWritten;
    this.wake();
  }

  /** Bytes at `position` (up to `limit`) still held from the last write, without copying; null if not held. */
  heldAt(position: number, limit: number): Buffer | null {
    if (position < this.heldStart) return null;
    let offset = this.heldStart;
    for (const b of this.held) {
      if (position < offset + b.length) {
        const end = Math.min(b.length, limit - offset);
        const start = position - offset;
        return end > start ? b.subarray(start, end) : null;
      }
      offset += b.length;
    }
    return null;
  }

  /** New bytes, a release or a failure: readers waiting for one look again. */
  wake(): void {
    for (const r of this.readers) r.pump();
  }

  /**
   * The attempt broke off (`final` false: its readers wait for a retry to carry on with), or the fill is
   * over without its bytes (`final`: they are destroyed).
   */
  fail(error: Error, final: boolean): void {
    if (this.state === 'released') return;
    if (this.state !== 'failed') {
      this.state = 'failed';
      this.error = error;
    }
    if (final) this.final = true;
    this.wake();
  }

  /** Readers of this failed attempt carry on with `next` (same announced body). */
  handOver(next: Attempt): void {
    this.successor = next;
    this.wake();
  }

  /** Moves a reader to this attempt (from a failed one it followed). */
  adopt(reader: SpoolReader): void {
    this.readers.add(reader);
  }

  release(): void {
    if (this.state !== 'receiving') return;
    this.state = 'released';
    this.wake();
  }

  retire(): Promise<void> {
    this.retired = true;
    return this.closeIfIdle();
  }

  private closeIfIdle(): Promise<void> {
    if (!this.retired || this.readers.size > 0) return this.closing ?? Promise.resolve();
    this.closing ??= this.handle.close().catch(() => undefined);
    return this.closing;
  }

  /** Bytes a reader may have now: all once released, else all but the last. */
  get readable(): number {
    return this.state === 'released' ? this.written : Math.max(0, this.written - 1);
  }
}

class SpoolReader extends Readable {
  private position = 0;
  private reading = false;

  constructor(private attempt: Attempt) {
    super({ highWaterMark: READ_CHUNK_BYTES });
  }

  override _read(): void {
    this.pump();
  }

  /** Reads what the attempt allows, or ends, or fails; otherwise waits for the attempt's next wake(). */
  pump(): void {
    if (this.reading || this.destroyed) return;
    const a = this.attempt;
    if (a.state === 'failed') {
      if (a.successor) {
        // The retry sends the same bytes: read on from this position in its file.
        this.attempt = a.successor;
        a.successor.adopt(this);
        a.detach(this);
        this.pump();
      } else if (a.final) {
        this.destroy(a.error ?? new Error('the download failed'));
      }
      return;
    }
    const limit = a.readable;
    // What the last write still holds in memory: no read back from the file.
    for (let held = a.heldAt(this.position, limit); held; held = a.heldAt(this.position, limit)) {
      this.position += held.length;
      if (!this.push(held)) return;
    }
    if (this.position < limit) {
      const n = Math.min(READ_CHUNK_BYTES, limit - this.position);
      const buf = Buffer.allocUnsafe(n);
      this.reading = true;
      a.handle.read(buf, 0, n, this.position).then(
        ({ bytesRead }) => {
          this.reading = false;
          if (this.destroyed) return;
          if (bytesRead === 0) {
            this.destroy(new Error('the spool file is shorter than what was written to it'));
            return;
          }
          this.position += bytesRead;
          if (this.push(bytesRead === n ? buf : buf.subarray(0, bytesRead))) this.pump();
        },
        (err: unknown) => {
          this.reading = false;
          this.destroy(err as Error);
        },
      );
      return;
    }
    if (a.state === 'released' && this.position >= a.written) this.push(null);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.attempt.detach(this);
    cb(err);
  }
}

export class FillSpool {
  private readonly attempts: Attempt[] = [];
  private current: Attempt | null = null;
  private followers: Array<(followed: FollowedFill | null) => void> = [];
  private closed = false;

  constructor(
    private readonly temp: LocalTemp,
    private readonly hint: string,
  ) {}

  /** The file of the attempt in progress (or of the last one): what the fill verifies and commits. */
  get path(): string | null {
    return this.current?.path ?? null;
  }

  /**
   * The file of the attempt in progress (or of the last one), open for reading: the fill's checks read it
   * through this handle instead of opening the file again. It stays open until the spool is closed and its
   * last reader is gone; whoever borrows it must not close it.
   */
  get handle(): FileHandle | null {
    return this.current?.handle ?? null;
  }

  /** Flushes the current attempt's file to stable storage through its open handle (before it is committed). */
  async flush(): Promise<void> {
    if (!this.current) throw new Error('nothing was spooled');
    try {
      await this.current.handle.sync();
    } catch (err) {
      throw asStorageError(err, 'cannot flush the downloaded package') ?? err;
    }
  }

  /**
   * Starts an attempt: a fresh file, and the writable the body goes into. The previous attempt failed
   * (that is why there is another): its readers carry on with this one when it announces the same body,
   * else they are aborted. Readers waiting to follow join this one.
   */
  async begin(headers: AttemptHeaders): Promise<Writable> {
    if (this.closed) throw new Error('the fill spool is closed');
    const previous = this.current;
    const path = this.temp.path(this.hint);
    const handle = await open(path, 'w+');
    const attempt = new Attempt(path, handle, headers);
    this.attempts.push(attempt);
    this.current = attempt;
    if (previous) {
      const retryError = new Error('the upstream download failed and is being retried');
      previous.fail(retryError, false);
      if (sameBody(previous.headers, headers)) previous.handOver(attempt);
      else previous.fail(new Error('the upstream download failed; its retry announced a different body'), true);
    }
    const waiting = this.followers;
    this.followers = [];
    for (const resolve of waiting) resolve({ ...headers, stream: attempt.attach() });
    return new Writable({
      highWaterMark: READ_CHUNK_BYTES,
      writev(chunks, cb) {
        const buffers = chunks.map((c) => c.chunk as Buffer);
        const at = attempt.written;
        handle.writev(buffers, at).then(
          ({ bytesWritten }) => {
            attempt.wrote(buffers, at, bytesWritten);
            cb();
          },
          (err: unknown) => cb(err as Error),
        );
      },
      destroy(err, cb) {
        // A body that broke off, or failed the length/digest checks on its way in: readers wait for a retry.
        if (err) attempt.fail(err, false);
        cb(err);
      },
    });
  }

  /**
   * Follows the fill from its first byte: resolves with a reader of the attempt in progress (or of the
   * next one, when between attempts), or with null once the spool closes without one to follow — the
   * fill happened elsewhere or failed before upstream answered; the caller then awaits the fill itself.
   */
  follow(): Promise<FollowedFill | null> {
    const a = this.current;
    if (a && a.state !== 'failed') return Promise.resolve({ ...a.headers, stream: a.attach() });
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.followers.push(resolve));
  }

  /** The bytes passed every check: readers may have the last of them and end. */
  release(): void {
    this.current?.release();
  }

  /** The fill is rejected: abort every reader of the current attempt. */
  fail(error: Error): void {
    this.current?.fail(error, true);
  }

  /**
   * The fill is over: readers of an unreleased attempt are aborted, files are removed (readers still
   * streaming a released attempt keep reading through its open handle, closed when the last one leaves).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current?.fail(new Error('the fill ended before its bytes were verified'), true);
    const waiting = this.followers;
    this.followers = [];
    for (const resolve of waiting) resolve(null);
    await Promise.all(this.attempts.map(async (a) => {
      await this.temp.removeFile(a.path);
      await a.retire();
    }));
  }
}
