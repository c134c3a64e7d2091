// Worker-thread side of rewrite-pool.ts: one job per message — decode, validate and rewrite an upstream
// JSON document; split a stored document into a render template (in shared memory); render a template
// for one public base.

import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { InvalidDocument, makeTemplate, renderTemplate, rewriteJsonText, type PrefixRule, type RenderTemplate } from './nuget/rewrite.ts';

export type WorkerJob =
  | { readonly op: 'rewrite'; readonly body: Uint8Array; readonly rules: readonly PrefixRule[] }
  | { readonly op: 'template'; readonly stored: string }
  | { readonly op: 'render'; readonly template: RenderTemplate; readonly publicBase: string };

export type WorkerResult =
  | { readonly op: 'rewrite'; readonly text: string; readonly separatePages: string[]; readonly template: RenderTemplate }
  | { readonly op: 'template'; readonly template: RenderTemplate }
  | { readonly op: 'render'; readonly bytes: Uint8Array };

export type WorkerReply = { id: number; ok: true; result: WorkerResult } | { id: number; ok: false; invalid: boolean; message: string };

const decoder = new TextDecoder('utf-8');

/** How much lower than the event loop a rewrite thread runs (a nice value; 19 is the lowest). */
const THREAD_NICE = 10;

/**
 * A rewrite thread yields the CPU to the event loop that serves every request: where cores are few, a
 * multi-megabyte parse would otherwise take turns with it. Linux only (a thread's own nice value, set
 * through its id from /proc/thread-self); elsewhere, or where not permitted, the thread keeps its priority.
 */
function lowerThisThreadsPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, THREAD_NICE);
  } catch {
    // Not Linux, or not permitted: nothing changes.
  }
}

if (parentPort) lowerThisThreadsPriority();

/** Template bytes in shared memory: the event loop and every worker read them without a copy. */
const shared = (n: number): Uint8Array => new Uint8Array(new SharedArrayBuffer(n));

function runJob(job: WorkerJob): { result: WorkerResult; transfer: ArrayBuffer[] } {
  switch (job.op) {
    case 'rewrite': {
      const r = rewriteJsonText(decoder.decode(job.body), job.rules);
      // Its render template too, while the text is here: the first render then needs no hand-off of the
      // whole text to a worker (the event loop's largest cost while big documents were filled).
      return { result: { op: 'rewrite', text: r.text, separatePages: [...r.separatePages], template: makeTemplate(r.text, shared) }, transfer: [] };
    }
    case 'template':
      return { result: { op: 'template', template: makeTemplate(job.stored, shared) }, transfer: [] };
    case 'render': {
      const out = renderTemplate(job.template, job.publicBase);
      // A fresh buffer that owns its memory is handed over, not copied.
      const whole = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength && out.buffer instanceof ArrayBuffer;
      const bytes = whole ? new Uint8Array(out.buffer as ArrayBuffer) : new Uint8Array(out);
      return { result: { op: 'render', bytes }, transfer: [bytes.buffer as ArrayBuffer] };
    }
  }
}

parentPort?.on('message', (msg: { id: number; job: WorkerJob }) => {
  try {
    const { result, transfer } = runJob(msg.job);
    parentPort?.postMessage({ id: msg.id, ok: true, result } satisfies WorkerReply, transfer);
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, ok: false, invalid: err instanceof InvalidDocument, message: (err as Error).message } satisfies WorkerReply);
  }
});
