// Worker-thread side of rewrite-pool.ts: validate and rewrite one JSON document per message.

import { parentPort } from 'node:worker_threads';
import { InvalidDocument, rewriteJsonText, type PrefixRule } from './nuget/rewrite.ts';

parentPort?.on('message', (msg: { id: number; text: string; rules: PrefixRule[] }) => {
  try {
    parentPort?.postMessage({ id: msg.id, ok: true, text: rewriteJsonText(msg.text, msg.rules) });
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, ok: false, invalid: err instanceof InvalidDocument, message: (err as Error).message });
  }
});
