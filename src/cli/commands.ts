// prefetch, export, import and the cache commands as CLI commands: wire a logger and the terminal, run the
// tool, print its summary on stdout, and turn the outcome into an exit code (0 ok, 1 failures or a refused
// bundle, 2 usage). parseConfig has refused extra arguments; missing ones are each tool's to say.

import type { Command, Config } from '../config.ts';
import { createLogger, type Logger } from '../logger.ts';
import { exportBundle, formatExportSummary } from '../bundles/export.ts';
import { formatImportSummary, importBundle } from '../bundles/import.ts';
import { formatPrefetchSummary, prefetch } from '../prefetch/prefetch.ts';
import { runCacheCommand } from './cache.ts';
import { Terminal, type TextSink } from './progress.ts';
import { ToolError } from './tool.ts';

export interface CommandIo {
  /** Progress and log lines (stderr). */
  readonly terminal: Terminal;
  /** Where the summary goes (stdout). */
  readonly out: TextSink;
  /** Defaults to a logger writing through the terminal at the configured level. */
  readonly log?: Logger;
}

function defaultIo(): CommandIo {
  return { terminal: Terminal.stderr(), out: process.stdout };
}

export async function run(command: Exclude<Command, 'serve'>, config: Config, positionals: readonly string[], io: CommandIo = defaultIo()): Promise<number> {
  const log =
    io.log ??
    // Pretty printing needs a transport (a worker) that would bypass the terminal; tools log JSON lines.
    createLogger({ level: config.logLevel, format: 'json' }, io.terminal.logDestination());
  const deps = { log, terminal: io.terminal };
  const print = (text: string) => io.out.write(`${text}\n`);
  try {
    switch (command) {
      case 'prefetch': {
        if (positionals.length === 0)
          throw new ToolError('give at least one input: packages.lock.json, project.assets.json, a project, Directory.Packages.props, packages.config, an id@version list or a directory', 2);
        const result = await prefetch(config, positionals, deps);
        print(formatPrefetchSummary(result));
        return result.failures.length > 0 ? 1 : 0;
      }
      case 'export': {
        print(formatExportSummary(await exportBundle(config, deps)));
        return 0;
      }
      case 'import': {
        const [bundle] = positionals;
        if (bundle === undefined) throw new ToolError('import takes exactly one bundle file', 2);
        print(formatImportSummary(await importBundle(config, bundle, deps)));
        return 0;
      }
      default:
        return await runCacheCommand(command, config, positionals, { terminal: io.terminal, out: io.out });
    }
  } catch (err) {
    if (err instanceof ToolError) {
      io.terminal.note(`nuget-proxy ${command}: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}
