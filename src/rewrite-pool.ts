// Runs JSON validation + URL rewriting of large documents on worker threads, so a multi-megabyte
// registration document never stalls the event loop that serves everyone else.

import { Worker } from 'node:worker_threads';
import { cpus } from 'node:os';
import { rewriteJsonText, type PrefixRule, InvalidDocument } from './nuget/rewrite.ts';
import type { Metrics } from './metrics.ts';

/** Below this size parsing inline costs less than the hand-off to a worker. */
export const INLINE_LIMIT_BYTES = 64 * 1024;

interface Job {
  readonly id: number;
  readonly resolve: (text: string) => void;
  readonly reject: (err: Error) => void;
}

type WorkerReply = { id: number; ok: true; text: string } | { id: number; ok: false; invalid: boolean; message: string };

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
  private readonly queue: Array<{ text: string; rules: readonly PrefixRule[]; job: Job }> = [];
  private readonly jobs = new Map<Worker, Job>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly metrics: Metrics,
    private readonly size = Math.max(1, Math.min(4, cpus().length - 1)),
  ) {}

  private spawn(): Worker {
    const w = createWorker();
    w.unref();
    w.on('message', (msg: WorkerReply) => {
      const job = this.jobs.get(w);
      this.jobs.delete(w);
      this.release(w);
      if (!job) return;
      if (msg.ok) job.resolve(msg.text);
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
      w.postMessage({ id: next.job.id, text: next.text, rules: next.rules });
    }
    for (const w of this.idle) w.unref();
  }

  /** Validates and rewrites `text`; inline when small, on a worker when large. */
  async rewrite(text: string, rules: readonly PrefixRule[]): Promise<string> {
    const end = this.metrics.rewriteDuration.startTimer();
    if (text.length < INLINE_LIMIT_BYTES || this.closed) {
      try {
        return rewriteJsonText(text, rules);
      } finally {
        end({ mode: 'inline' });
      }
    }
    try {
      return await new Promise<string>((resolve, reject) => {
        this.queue.push({ text, rules, job: { id: this.nextId++, resolve, reject } });
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
