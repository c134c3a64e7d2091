// Runs JSON validation + URL rewriting of large documents on worker threads, so a multi-megabyte
// registration document never stalls the event loop that serves everyone else.

import { Worker } from 'node:worker_threads';
import { rewriteJsonText, type PrefixRule, type RewriteResult, InvalidDocument } from './nuget/rewrite.ts';
import type { Metrics } from './metrics.ts';

/** Below this size parsing inline costs less than the hand-off to a worker. */
export const INLINE_LIMIT_BYTES = 64 * 1024;

interface Job {
  readonly id: number;
  readonly resolve: (result: RewriteResult) => void;
  readonly reject: (err: Error) => void;
}

type WorkerReply =
  | { id: number; ok: true; text: string; separatePages: string[] }
  | { id: number; ok: false; invalid: boolean; message: string };

function createWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./rewrite-worker.js', import.meta.url));
  // Running from TypeScript sources (tests, `npm run dev`): loader hooks do not reach worker threads, so
  // the worker registers tsx itself before loading its module.
  const url = new URL('./rewrite-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url)}); });`, { eval: true });
}

export class RewritePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ body: Buffer; rules: readonly PrefixRule[]; job: Job }> = [];
  private readonly jobs = new Map<Worker, Job>();
  private nextId = 1;
  private closed = false;

  /** `size` 0 rewrites every document inline (no worker threads). */
  constructor(
    private readonly metrics: Metrics,
    private readonly size: number,
  ) {}

  private spawn(): Worker {
    const w = createWorker();
    w.unref();
    w.on('message', (msg: WorkerReply) => {
      const job = this.jobs.get(w);
      this.jobs.delete(w);
      this.release(w);
      if (!job) return;
      if (msg.ok) job.resolve({ text: msg.text, separatePages: msg.separatePages });
      else job.reject(msg.invalid ? new InvalidDocument(msg.message) : new Error(msg.message));
    });
    w.on('error', (err) => {
      const job = this.jobs.get(w);
      this.jobs.delete(w);
      this.workers.splice(this.workers.indexOf(w), 1);
      job?.reject(err);
      this.pump();
    });
    this.workers.push(w);
    return w;
  }

  private release(w: Worker): void {
    this.idle.push(w);
    this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w && this.workers.length < this.size) w = this.spawn();
      if (!w) return;
      const next = this.queue.shift();
      if (!next) {
        this.idle.push(w);
        return;
      }
      this.jobs.set(w, next.job);
      w.ref();
      // Hand the bytes over without copying when the buffer owns its whole ArrayBuffer.
      const b = next.body;
      const whole = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;
      const body = whole ? new Uint8Array(b.buffer) : new Uint8Array(b);
      w.postMessage({ id: next.job.id, body, rules: next.rules }, [body.buffer as ArrayBuffer]);
    }
    for (const w of this.idle) w.unref();
  }

  /**
   * Decodes, validates and rewrites an upstream body; inline when small, on a worker when large. A large
   * `body` is transferred to the worker: the caller must not use it afterwards.
   */
  async rewrite(body: Buffer, rules: readonly PrefixRule[]): Promise<RewriteResult> {
    const end = this.metrics.rewriteDuration.startTimer();
    if (body.length < INLINE_LIMIT_BYTES || this.closed || this.size === 0) {
      try {
        return rewriteJsonText(body.toString('utf8'), rules);
      } finally {
        end({ mode: 'inline' });
      }
    }
    try {
      return await new Promise<RewriteResult>((resolve, reject) => {
        this.queue.push({ body, rules, job: { id: this.nextId++, resolve, reject } });
        this.pump();
      });
    } finally {
      end({ mode: 'worker' });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
