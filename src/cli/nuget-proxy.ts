#!/usr/bin/env node
// The nuget-proxy command line: subcommands, --help, configuration errors, exit codes.

import cluster from 'node:cluster';
import { joinCluster } from '../cluster/link.ts';
import { runPrimary } from '../cluster/primary.ts';
import { ConfigError, parseConfig, renderOptionsHelp, type Command } from '../config.ts';
import { createLogger } from '../logger.ts';
import { startServer } from '../main.ts';

const COMMANDS: Record<Command, string> = {
  serve: 'Run the proxy (HTTP or HTTPS) in front of the upstream feed.',
  prefetch: 'Warm the cache from lock files, projects, package lists or directories (connected side).',
  export: 'Write the cache (or a prefetch selection) into one bundle file with SHA-512 checksums.',
  import: 'Verify a bundle and merge it into the cache (air-gapped side).',
};

const USAGE: Record<Command, string> = {
  serve: 'nuget-proxy serve [options]',
  prefetch: 'nuget-proxy prefetch [options] <input>... (packages.lock.json, project.assets.json, *.csproj, Directory.Packages.props, packages.config, id@version lists, directories)',
  export: 'nuget-proxy export --output <bundle> [--selection <file>] [options]',
  import: 'nuget-proxy import [options] <bundle>',
};

function mainHelp(): string {
  const lines = [
    'nuget-proxy — a NuGet V3 pull-through cache for dotnet restore, nuget.exe and Visual Studio.',
    '',
    'Usage: nuget-proxy <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(10)}${d}`),
    '',
    "Run 'nuget-proxy <command> --help' for a command's options. Every option can also be set with the",
    'environment variable shown in its help (NUGET_PROXY_<OPTION>); flags win over the environment.',
  ];
  return lines.join('\n');
}

function commandHelp(command: Command): string {
  return [`Usage: ${USAGE[command]}`, '', COMMANDS[command], renderOptionsHelp(command)].join('\n');
}

async function runServe(argv: string[]): Promise<number> {
  const { config } = parseConfig('serve', argv, process.env);
  if (cluster.isPrimary && config.workers > 1) {
    const log = createLogger({ level: config.logLevel, format: config.logFormat });
    return runPrimary({ workers: config.workers, shutdownTimeoutMs: config.shutdownTimeoutMs, tls: config.tlsCert !== null, log });
  }
  const running = await startServer(config, cluster.isWorker ? { cluster: await joinCluster() } : {});
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
  const { config, positionals } = parseConfig(command, argv, process.env);
  const tools = await import('./commands.ts');
  return tools.run(command, config, positionals);
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    console.log(mainHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version') {
    console.log('nuget-proxy 0.1.0');
    return 0;
  }
  if (!(first in COMMANDS)) {
    console.error(`nuget-proxy: unknown command '${first}'\n\n${mainHelp()}`);
    return 2;
  }
  const command = first as Command;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(command));
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
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
