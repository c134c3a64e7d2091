// Worker-thread side of rewrite-pool.ts: decode, validate and rewrite one JSON document per message.

import { parentPort } from 'node:worker_threads';
import { InvalidDocument, rewriteJsonText, type PrefixRule } from './nuget/rewrite.ts';

const decoder = new TextDecoder('utf-8');

parentPort?.on('message', (msg: { id: number; body: Uint8Array; rules: PrefixRule[] }) => {
  try {
    const result = rewriteJsonText(decoder.decode(msg.body), msg.rules);
    parentPort?.postMessage({ id: msg.id, ok: true, text: result.text, separatePages: result.separatePages });
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, ok: false, invalid: err instanceof InvalidDocument, message: (err as Error).message });
  }
});
