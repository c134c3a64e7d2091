// Package bodies to clients with memory bounded by configuration, whatever the clients do: at most
// --max-package-streams bodies streamed from storage at once (then a queue, then 503 + Retry-After); each
// read sized to its client's pace and made only once the socket took the previous one; a client that reads
// nothing for --client-stall-timeout-seconds is dropped.
//
// The pace: a read starts at MIN_READ_BYTES and doubles while the socket takes every chunk at once (the
// kernel holds it, not this process), up to MAX_READ_BYTES. Reads above MIN_READ_BYTES borrow from one
// budget shared by all streams (SHARED_READ_BYTES) until the socket has taken them, so a thousand slow
// clients hold a thousand small buffers, never a thousand large ones. Bodies held in the memory tier are
// sent as slices of the one shared buffer: no copy, no slot, no budget.

import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ServiceBusy } from './errors.ts';
import type { Metrics } from './metrics.ts';
import type { BlobReader } from './storage/blob-store.ts';

export type BodySource =
  | { readonly kind: 'memory'; readonly data: Buffer }
  | { readonly kind: 'reader'; readonly reader: BlobReader }
  | { readonly kind: 'stream'; readonly stream: Readable };

/** How a body ended: sent whole, client gone, client stalled, or a storage failure (connection aborted). */
export type SendOutcome = 'done' | 'closed' | 'stalled' | 'failed';

const KiB = 1024;
/**
 * 64 KiB: a thousand slow clients hold 64 MiB at most, and a 100 MB/s aggregate costs 1,600 reads a second
 * through libuv's thread pool, not the 6,400 of 16 KiB reads whose dispatch stalled the event loop (issue 10).
 */
const MIN_READ_BYTES = 64 * KiB;
const MAX_READ_BYTES = 1024 * KiB;
/** Slices of a held buffer cost nothing; they are only cut so that stalls are noticed. */
const MAX_SLICE_BYTES = 4096 * KiB;
const SHARED_READ_BYTES = 64 * 1024 * KiB;
/** A client that needed longer than this to take a chunk sets the pace: the next read is smaller. */
const SLOW_DRAIN_MS = 25;
/** Longer than this in the queue and a client is better served by a 503 and a retry. */
const QUEUE_WAIT_MS = 30_000;
const RETRY_AFTER_SECONDS = 10;

export interface PackageStreamsOptions {
  readonly maxStreams: number;
  readonly queueLength: number;
  readonly stallTimeoutMs: number;
  readonly metrics: Pick<Metrics, 'packageStreams' | 'packageStreamQueue' | 'packageStreamsRejected' | 'stalledClients'>;
  readonly queueWaitMs?: number;
}

interface Waiter {
  readonly grant: (release: () => void) => void;
  readonly refuse: (err: Error) => void;
}

export class PackageStreams {
  private active = 0;
  private readonly queue: Waiter[] = [];
  private sharedFree = SHARED_READ_BYTES;

  constructor(private readonly options: PackageStreamsOptions) {}

  get streaming(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * A stream slot for one body from storage; resolves with its release function. Waits in the queue when
   * every slot is busy; throws ServiceBusy (503) when the queue is full or the wait too long, or when the
   * client hung up (`res` closed) while waiting.
   */
  acquire(res: ServerResponse): Promise<() => void> {
    const { maxStreams, queueLength, metrics } = this.options;
    if (this.active < maxStreams) return Promise.resolve(this.take());
    if (this.queue.length >= queueLength) return Promise.reject(this.busy('every package stream is busy and the queue is full'));
    return new Promise((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        res.off('close', onClose);
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        metrics.packageStreamQueue.set(this.queue.length);
      };
      const waiter: Waiter = {
        grant: (release) => {
          leave();
          resolve(release);
        },
        refuse: (err) => {
          leave();
          reject(err);
        },
      };
      const timer = setTimeout(() => waiter.refuse(this.busy('waited too long for a package stream')), this.options.queueWaitMs ?? QUEUE_WAIT_MS);
      timer.unref();
      const onClose = () => waiter.refuse(new ServiceBusy('the client went away while waiting for a package stream', RETRY_AFTER_SECONDS));
      res.once('close', onClose);
      this.queue.push(waiter);
      metrics.packageStreamQueue.set(this.queue.length);
    });
  }

  private busy(why: string): ServiceBusy {
    this.options.metrics.packageStreamsRejected.inc();
    return new ServiceBusy(`nuget-proxy is busy: ${why}; retry in ${RETRY_AFTER_SECONDS} s`, RETRY_AFTER_SECONDS);
  }

  private take(): () => void {
    this.active++;
    this.options.metrics.packageStreams.set(this.active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const next = this.queue[0];
      if (next) next.grant(this.take());
      this.options.metrics.packageStreams.set(this.active);
    };
  }

  /**
   * Sends `size` bytes of `source` as the body of `res` (status and headers already set, not yet sent)
   * and ends it. Never throws: a failure after the headers aborts the connection, so a client never
   * mistakes a short body for a whole one.
   */
  async send(res: ServerResponse, source: BodySource, size: number): Promise<SendOutcome> {
    try {
      switch (source.kind) {
        case 'memory':
          return await this.sendSlices(res, source.data);
        case 'reader':
          return await this.sendReads(res, source.reader, size);
        case 'stream':
          return await this.sendStream(res, source.stream, size);
        default:
          throw new Error('unknown body source');
      }
    } catch {
      res.destroy();
      return 'failed';
    } finally {
      if (source.kind === 'reader') await source.reader.close();
      if (source.kind === 'stream') source.stream.destroy();
    }
  }

  /** Resolves when the socket took everything written so far, or the client left or stalled. */
  private drained(res: ServerResponse): Promise<'drained' | 'closed' | 'stalled'> {
    if (res.destroyed) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const done = (outcome: 'drained' | 'closed' | 'stalled') => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(outcome);
      };
      const onDrain = () => done('drained');
      const onClose = () => done('closed');
      const timer = setTimeout(() => done('stalled'), this.options.stallTimeoutMs);
      res.once('drain', onDrain);
      res.once('close', onClose);
    });
  }

  private stalled(res: ServerResponse): SendOutcome {
    this.options.metrics.stalledClients.inc();
    res.destroy();
    return 'stalled';
  }

  private finish(res: ServerResponse): Promise<SendOutcome> {
    if (res.destroyed) return Promise.resolve('closed');
    return new Promise((resolve) => {
      res.end(() => resolve('done'));
      res.once('close', () => resolve(res.writableFinished ? 'done' : 'closed'));
    });
  }

  private async sendSlices(res: ServerResponse, data: Buffer): Promise<SendOutcome> {
    let size = MIN_READ_BYTES;
    for (let pos = 0; pos < data.length; ) {
      if (res.destroyed) return 'closed';
      const slice = data.subarray(pos, pos + size);
      pos += slice.length;
      if (res.write(slice)) {
        size = Math.min(size * 2, MAX_SLICE_BYTES);
        continue;
      }
      const outcome = await this.drained(res);
      if (outcome === 'stalled') return this.stalled(res);
      if (outcome === 'closed') return 'closed';
    }
    return this.finish(res);
  }

  private async sendReads(res: ServerResponse, reader: BlobReader, total: number): Promise<SendOutcome> {
    let size = MIN_READ_BYTES;
    for (let pos = 0; pos < total; ) {
      if (res.destroyed) return 'closed';
      // Above the guaranteed minimum, a read borrows from the shared budget until the socket took it.
      const want = Math.min(size, total - pos);
      const borrowed = Math.min(Math.max(0, want - MIN_READ_BYTES), this.sharedFree);
      this.sharedFree -= borrowed;
      try {
        const chunk = await reader.read(Math.min(want, MIN_READ_BYTES + borrowed), pos);
        if (chunk.length === 0) throw new Error('the object ended early');
        pos += chunk.length;
        if (res.write(chunk)) {
          size = Math.min(size * 2, MAX_READ_BYTES);
          continue;
        }
        const started = performance.now();
        const outcome = await this.drained(res);
        if (outcome === 'stalled') return this.stalled(res);
        if (outcome === 'closed') return 'closed';
        if (performance.now() - started > SLOW_DRAIN_MS) size = Math.max(MIN_READ_BYTES, size / 2);
      } finally {
        this.sharedFree += borrowed;
      }
    }
    return this.finish(res);
  }

  private async sendStream(res: ServerResponse, stream: Readable, total: number): Promise<SendOutcome> {
    let sent = 0;
    for await (const c of stream) {
      const chunk = c as Buffer;
      if (res.destroyed) return 'closed';
      sent += chunk.length;
      if (res.write(chunk)) continue;
      const outcome = await this.drained(res);
      if (outcome === 'stalled') return this.stalled(res);
      if (outcome === 'closed') return 'closed';
    }
    if (sent !== total) throw new Error(`the object has ${sent} bytes, expected ${total}`);
    return this.finish(res);
  }
}
