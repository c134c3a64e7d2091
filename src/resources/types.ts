// What every resource needs to know about the request it answers, decided once by routes.ts.

import type { Logger } from '../logger.ts';

export interface RequestContext {
  /** The externally visible base URL, no trailing slash. */
  readonly publicBase: string;
  /** Whether clients reach the proxy over https (decides RepositorySignatures). */
  readonly https: boolean;
  readonly log: Logger;
}
