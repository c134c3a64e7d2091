#!/usr/bin/env node
// The nuget-proxy command line: subcommands, help (--help, -h, help <command>), --version, configuration
// errors and notes, exit codes (0 ok, 1 failed, 2 usage).

import cluster from 'node:cluster';
import { joinCluster } from '../cluster/link.ts';
import { missingNodeFlags } from '../cluster/node-flags.ts';
import { runPrimary } from '../cluster/primary.ts';
import { COMMANDS, ConfigError, parseConfig, renderOptionsHelp, type CacheCommand, type Command, type ConfigNote } from '../config.ts';
import { createLogger } from '../logger.ts';
import { startServer } from '../main.ts';
import { closestMatch } from '../suggest.ts';
import { VERSION } from '../version.ts';

const ALL_COMMANDS = Object.keys(COMMANDS) as Command[];
const CACHE_ACTIONS = ALL_COMMANDS.filter((c) => c.startsWith('cache ')).map((c) => c.slice('cache '.length));
/** The first words a command line may start with. */
const TOP_WORDS = [...ALL_COMMANDS.filter((c) => !c.startsWith('cache ')), 'cache', 'help'];

class UsageError extends Error {}

function commandLines(commands: readonly Command[]): string[] {
  return commands.map((c) => `  ${c.padEnd(14)}${COMMANDS[c].summary}`);
}

function mainHelp(): string {
  return [
    `nuget-proxy ${VERSION} — a NuGet V3 pull-through cache for dotnet restore, nuget.exe and Visual Studio.`,
    '',
    'Usage: nuget-proxy <command> [options]',
    '',
    'Commands:',
    ...commandLines(ALL_COMMANDS),
    '',
    "Run 'nuget-proxy help <command>' (or 'nuget-proxy <command> --help') for a command's options. Every option",
    'can also be set with the environment variable shown in its help (NUGET_PROXY_<OPTION>); flags win over',
    'the environment. Options take two dashes (--port 5000 or --port=5000). --version prints the version.',
  ].join('\n');
}

function cacheHelp(): string {
  return [
    'Usage: nuget-proxy cache <list|stats|verify|purge|pin|unpin> [options] [<id>[@<version>]...]',
    '',
    'Work on the cache of a proxy (running or not) through its blob store: the same --cache-dir or',
    '--blob-store settings as serve. Patterns: an id or id@version, * matches any run of characters',
    "(Contoso.*, Newtonsoft.Json@13.*, *@*-beta*); a version without * matches its normalized form (1.0 = 1.0.0).",
    '',
    ...commandLines(ALL_COMMANDS.filter((c) => c.startsWith('cache '))),
    '',
    "Run 'nuget-proxy help cache <action>' for an action's options.",
  ].join('\n');
}

function commandHelp(command: Command): string {
  const { args, summary } = COMMANDS[command];
  return [`Usage: nuget-proxy ${command} [options]${args ? ` ${args}` : ''}`, '', summary, renderOptionsHelp(command)].join('\n');
}

function unknownWord(kind: string, word: string, candidates: readonly string[]): UsageError {
  const near = closestMatch(word, candidates);
  return new UsageError(`unknown ${kind} '${word}'${near ? `; did you mean '${near}'?` : ''} (one of: ${candidates.join(', ')})`);
}

/** `serve …` → serve; `cache verify …` → cache verify; with the arguments after the command words. */
function resolveCommand(words: readonly string[]): { command: Command | 'cache'; rest: string[] } {
  const [first = '', second, ...after] = words;
  if (first === 'cache') {
    if (second === undefined || second.startsWith('-')) return { command: 'cache', rest: words.slice(1) };
    if (!CACHE_ACTIONS.includes(second)) throw unknownWord('cache action', second, CACHE_ACTIONS);
    return { command: `cache ${second}` as CacheCommand, rest: after };
  }
  if (first in COMMANDS) return { command: first as Command, rest: words.slice(1) };
  throw unknownWord('command', first, TOP_WORDS);
}

function printNotes(command: Command, notes: readonly ConfigNote[]): void {
  for (const n of notes) console.error(`nuget-proxy ${command}: ${n.level === 'warn' ? 'warning' : 'note'}: ${n.detail}`);
}

async function runServe(argv: string[]): Promise<number> {
  const { config, notes } = parseConfig('serve', argv, process.env);
  if (cluster.isPrimary && config.workers > 1) {
    const log = createLogger({ level: config.logLevel, format: config.logFormat });
    // The notes are logged once, by the primary; workers parse the same configuration again.
    for (const n of notes) log[n.level]({ variable: n.variable, suggestion: n.suggestion, detail: n.detail }, n.msg);
    return runPrimary({ workers: config.workers, shutdownTimeoutMs: config.shutdownTimeoutMs, tls: config.tlsCert !== null, log });
  }
  // serve logs the notes (JSON lines, like everything it says), other commands print them on stderr.
  const running = await startServer(config, cluster.isWorker ? { cluster: await joinCluster() } : { notes });
  const missing = missingNodeFlags(process.execArgv);
  if (missing.length > 0) {
    running.proxy.log.info({ missing }, 'node was started without nuget-proxy\'s heap settings: more garbage collection under load (docs/performance.md, "Heap settings")');
  }
  const onSignal = (signal: NodeJS.Signals) => {
    running.proxy.log.info({ signal }, 'signal received');
    void running.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return new Promise<number>(() => {
    // Runs until a signal stops it.
  });
}

async function runTool(command: Exclude<Command, 'serve'>, argv: string[]): Promise<number> {
  const { config, positionals, notes } = parseConfig(command, argv, process.env);
  printNotes(command, notes);
  const tools = await import('./commands.ts');
  return tools.run(command, config, positionals);
}

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    console.error(mainHelp());
    return 2;
  }
  if (first === '--help' || first === '-h') {
    console.log(mainHelp());
    return 0;
  }
  if (first === '--version' || first === 'version') {
    console.log(`nuget-proxy ${VERSION}`);
    return 0;
  }
  try {
    if (first === 'help') {
      const words = argv.slice(1);
      if (words.length === 0) console.log(mainHelp());
      else {
        const { command, rest } = resolveCommand(words);
        if (rest.length > 0) throw new UsageError(`help takes a command, not '${rest.join(' ')}'`);
        console.log(command === 'cache' ? cacheHelp() : commandHelp(command));
      }
      return 0;
    }
    const { command, rest } = resolveCommand(argv);
    // Only what comes before `--` can be an option: after it, `--help` would be a file name.
    const end = rest.indexOf('--');
    const options = end >= 0 ? rest.slice(0, end) : rest;
    const wantsHelp = options.includes('--help') || options.includes('-h');
    if (command === 'cache') {
      console[wantsHelp ? 'log' : 'error'](cacheHelp());
      return wantsHelp ? 0 : 2;
    }
    if (wantsHelp) {
      console.log(commandHelp(command));
      return 0;
    }
    if (options.includes('--version')) {
      console.log(`nuget-proxy ${VERSION}`);
      return 0;
    }
    try {
      return command === 'serve' ? await runServe(rest) : await runTool(command, rest);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`nuget-proxy ${command}: ${err.message}`);
        return 2;
      }
      console.error(`nuget-proxy ${command}: ${(err as Error).message}`);
      return 1;
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`nuget-proxy: ${err.message}\nRun 'nuget-proxy --help' for the commands.`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  // Exit once stdout has taken everything (a long --json document into a pipe).
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
