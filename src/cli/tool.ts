// What every offline tool shares: the dependencies passed in (logger, terminal, metrics, the blob store)
// and the one error they throw for a refusal the user must act on (bad usage, a bundle that fails
// verification), which the CLI prints without a stack trace and turns into an exit code.

import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { createBlobStore } from '../storage/create.ts';
import { Terminal } from './progress.ts';

export interface ToolDeps {
  readonly log: Logger;
  /** Where progress goes; default: nowhere. */
  readonly terminal?: Terminal;
  /** prefetch only (the proxy graph registers its metrics here); default: a fresh registry. */
  readonly metrics?: Metrics;
  /** export and import: the store to work on (the caller closes it); default: the one the configuration names. */
  readonly blobs?: BlobStore;
}

export function terminalOf(deps: ToolDeps): Terminal {
  return deps.terminal ?? Terminal.silent();
}

/** Runs `fn` on the blob store of `deps`, or on the configured one (opened for `fn` and closed after). */
export async function withBlobStore<T>(config: Config, deps: ToolDeps, fn: (blobs: BlobStore) => Promise<T>): Promise<T> {
  if (deps.blobs) return fn(deps.blobs);
  const blobs = await createBlobStore(config);
  try {
    return await fn(blobs);
  } finally {
    await blobs.close();
  }
}

export class ToolError extends Error {
  constructor(
    message: string,
    /** 2: usage; 1: the work was refused or failed. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}
