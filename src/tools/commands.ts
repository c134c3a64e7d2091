// prefetch, export and import: the offline tools (filled in by the air-gap work).

import type { Command, Config } from '../config.ts';

export async function run(command: Exclude<Command, 'serve'>, _config: Config, _positionals: readonly string[]): Promise<number> {
  console.error(`nuget-proxy ${command}: not available yet`);
  return 2;
}
