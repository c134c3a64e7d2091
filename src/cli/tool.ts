// What every offline tool shares: the dependencies passed in (logger, terminal, metrics) and the one error
// they throw for a refusal the user must act on (bad usage, a bundle that fails verification), which the
// CLI prints without a stack trace and turns into an exit code.

import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { Terminal } from './progress.ts';

export interface ToolDeps {
  readonly log: Logger;
  /** Where progress goes; default: nowhere. */
  readonly terminal?: Terminal;
  /** prefetch only (the proxy graph registers its metrics here); default: a fresh registry. */
  readonly metrics?: Metrics;
}

export function terminalOf(deps: ToolDeps): Terminal {
  return deps.terminal ?? Terminal.silent();
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
