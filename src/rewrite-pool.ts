// Runs the work on large JSON documents on worker threads — validation and URL rewriting at fill time,
// splitting into a render template and rendering for a public base at serve time — so a multi-megabyte
// registration document never stalls the event loop that serves everyone else.

import { Worker } from 'node:worker_threads';
import { InvalidDocument, makeTemplate, renderTemplate, rewriteJsonText, type PrefixRule, type RenderTemplate, type RewriteResult } from './nuget/rewrite.ts';
import type { Metrics } from './metrics.ts';
import type { WorkerJob, WorkerReply, WorkerResult } from './rewrite-worker.ts';

/** Below this size parsing inline costs less than the hand-off to a worker. */
export const INLINE_LIMIT_BYTES = 64 * 1024;
/** Templates made with a rewrite, kept until their first render asks for them (newest kept, bounded). */
const HANDOVER_ENTRIES = 8;
const HANDOVER_BYTES = 64 * 1024 * 1024;

interface Job {
  readonly id: number;
  readonly resolve: (result: WorkerResult) => void;
  readonly reject: (err: Error) => void;
}

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
  private readonly queue: Array<{ work: WorkerJob; transfer: ArrayBuffer[]; job: Job }> = [];
  private readonly jobs = new Map<Worker, Job>();
  private nextId = 1;
  private closed = false;
  /**
   * Rewritten text → its template, built by the worker that rewrote it. Keyed by the text itself: V8
   * hashes a string this long by its length, and the stored document is usually this very string, so a
   * lookup is cheap; a different string of the same length is compared once.
   */
  private readonly handover = new Map<string, RenderTemplate>();
  private handoverBytes = 0;
  /** Templates found in the hand-over, and built on a worker because they were not there. */
  readonly templateStats = { handedOver: 0, built: 0 };

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
      if (msg.ok) job.resolve(msg.result);
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
      w.postMessage({ id: next.job.id, job: next.work }, next.transfer);
    }
    for (const w of this.idle) w.unref();
  }

  private run(work: WorkerJob, transfer: ArrayBuffer[] = []): Promise<WorkerResult> {
    return new Promise<WorkerResult>((resolve, reject) => {
      this.queue.push({ work, transfer, job: { id: this.nextId++, resolve, reject } });
      this.pump();
    });
  }

  private inline(bytes: number): boolean {
    return bytes < INLINE_LIMIT_BYTES || this.closed || this.size === 0;
  }

  /**
   * Decodes, validates and rewrites an upstream body; inline when small, on a worker when large. A large
   * `body` is transferred to the worker: the caller must not use it afterwards.
   */
  async rewrite(body: Buffer, rules: readonly PrefixRule[]): Promise<RewriteResult> {
    const end = this.metrics.rewriteDuration.startTimer();
    if (this.inline(body.length)) {
      try {
        return rewriteJsonText(body.toString('utf8'), rules);
      } finally {
        end({ mode: 'inline' });
      }
    }
    try {
      // Hand the bytes over without copying when the buffer owns its whole ArrayBuffer.
      const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
      const bytes = whole ? new Uint8Array(body.buffer) : new Uint8Array(body);
      const r = await this.run({ op: 'rewrite', body: bytes, rules }, [bytes.buffer as ArrayBuffer]);
      if (r.op !== 'rewrite') throw new Error(`rewrite worker answered ${r.op}`);
      this.keep(r.text, r.template);
      return { text: r.text, separatePages: r.separatePages };
    } finally {
      end({ mode: 'worker' });
    }
  }

  private keep(text: string, template: RenderTemplate): void {
    const before = this.handover.get(text);
    if (before) {
      this.handover.delete(text);
      this.handoverBytes -= before.bytes.byteLength;
    }
    this.handover.set(text, template);
    this.handoverBytes += template.bytes.byteLength;
    for (const [oldText, old] of this.handover) {
      if (this.handover.size <= HANDOVER_ENTRIES && this.handoverBytes <= HANDOVER_BYTES) break;
      this.handover.delete(oldText);
      this.handoverBytes -= old.bytes.byteLength;
    }
  }

  /**
   * A stored document split at its base markers (see makeTemplate): the one its rewrite made when that
   * is at hand (taken: the caller holds it from then on), else built on a worker when large.
   */
  async template(stored: string): Promise<RenderTemplate> {
    if (this.inline(stored.length)) return makeTemplate(stored);
    const ready = this.handover.get(stored);
    if (ready) {
      this.handover.delete(stored);
      this.handoverBytes -= ready.bytes.byteLength;
      this.templateStats.handedOver++;
      return ready;
    }
    this.templateStats.built++;
    const r = await this.run({ op: 'template', stored });
    if (r.op !== 'template') throw new Error(`rewrite worker answered ${r.op}`);
    return r.template;
  }

  /** The document of `template` for one public base; rendered on a worker when large. */
  async render(template: RenderTemplate, publicBase: string): Promise<Buffer> {
    if (this.inline(template.bytes.length)) return renderTemplate(template, publicBase);
    const r = await this.run({ op: 'render', template, publicBase });
    if (r.op !== 'render') throw new Error(`rewrite worker answered ${r.op}`);
    return Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
