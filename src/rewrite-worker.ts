// Worker-thread side of rewrite-pool.ts: one job per message — decode, validate and rewrite an upstream
// JSON document; split a stored document into a render template (in shared memory); render a template
// for one public base.

import { parentPort } from 'node:worker_threads';
import { InvalidDocument, makeTemplate, renderTemplate, rewriteJsonText, type PrefixRule, type RenderTemplate } from './nuget/rewrite.ts';

export type WorkerJob =
  | { readonly op: 'rewrite'; readonly body: Uint8Array; readonly rules: readonly PrefixRule[] }
  | { readonly op: 'template'; readonly stored: string }
  | { readonly op: 'render'; readonly template: RenderTemplate; readonly publicBase: string };

export type WorkerResult =
  | { readonly op: 'rewrite'; readonly text: string; readonly separatePages: string[] }
  | { readonly op: 'template'; readonly template: RenderTemplate }
  | { readonly op: 'render'; readonly bytes: Uint8Array };

export type WorkerReply = { id: number; ok: true; result: WorkerResult } | { id: number; ok: false; invalid: boolean; message: string };

const decoder = new TextDecoder('utf-8');

/** Template bytes in shared memory: the event loop and every worker read them without a copy. */
const shared = (n: number): Uint8Array => new Uint8Array(new SharedArrayBuffer(n));

function runJob(job: WorkerJob): { result: WorkerResult; transfer: ArrayBuffer[] } {
  switch (job.op) {
    case 'rewrite': {
      const r = rewriteJsonText(decoder.decode(job.body), job.rules);
      return { result: { op: 'rewrite', text: r.text, separatePages: [...r.separatePages] }, transfer: [] };
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
