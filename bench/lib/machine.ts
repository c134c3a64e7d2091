// What a table was measured on: the code's commit, the CPUs, how busy the machine was.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { ROOT } from './processes.ts';

/** `abc1234` (or `abc1234+changes` for a dirty tree) of the code being measured. */
export function commitOf(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const dirty = (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout ?? '').trim() !== '';
  return dirty ? `${head}+changes` : head;
}

/** "2 CPUs (AMD EPYC …), load average 5.8 at start". */
export function machineLine(): string {
  let model = '';
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    model = '';
  }
  const load = loadavg()[0] ?? NaN;
  return `${availableParallelism()} CPUs${model ? ` (${model})` : ''}, load average ${load.toFixed(1)} at start${load > availableParallelism() * 0.5 ? ' — a busy machine: figures are noisy' : ''}`;
}

export interface MachineFeed {
  /** The source's name in the machine's NuGet configuration (its address is never printed). */
  readonly name: string;
  readonly url: string;
}

/**
 * The first enabled V3 source of this machine's own NuGet configuration (`dotnet nuget list source`
 * with the user's real HOME), or null. Found at run time only: its address stays out of the repository
 * and out of the printed tables.
 */
export function machineNuGetFeed(): MachineFeed | null {
  const out = spawnSync('dotnet', ['nuget', 'list', 'source'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOTNET_NOLOGO: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1' } }).stdout ?? '';
  const lines = out.split('\n');
  for (let i = 0; i < lines.length - 1; i++) {
    const source = /^\s*\d+\.\s+(.+?)\s+\[Enabled\]\s*$/.exec(lines[i] as string);
    const url = (lines[i + 1] as string).trim();
    if (source?.[1] && /^https?:\/\/\S+\.json$/.test(url)) return { name: source[1], url };
  }
  return null;
}
