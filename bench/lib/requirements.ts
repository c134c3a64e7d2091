// The Debian tools a benchmark needs (wrk, nginx-light, taskset, dotnet): found on PATH, installed with
// apt-get when running as root (as on CI and the project's machines), or named with the exact command.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { progress } from './stats.ts';

export interface Tool {
  readonly command: string;
  /** The Debian package that ships it; absent: not installable here (e.g. the .NET SDK). */
  readonly debianPackage?: string;
}

export const WRK: Tool = { command: 'wrk', debianPackage: 'wrk' };
export const NGINX: Tool = { command: 'nginx', debianPackage: 'nginx-light' };
export const TASKSET: Tool = { command: 'taskset', debianPackage: 'util-linux' };
export const DOTNET: Tool = { command: 'dotnet' };

/** Full path of a command: PATH, then the sbin folders a non-root PATH lacks (nginx lives in /usr/sbin). */
export function which(command: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return null;
}

/**
 * Makes sure every tool is there. Missing Debian packages are installed with apt-get when this runs as
 * root (BENCH_INSTALL=0 forbids it); otherwise it fails with the command to run. Debian starts the
 * packaged nginx service on port 80 after installing it: stopped again, the benchmarks start their own.
 */
export function requireTools(tools: readonly Tool[]): void {
  const missing = tools.filter((t) => which(t.command) === null);
  if (missing.length === 0) return;
  const notInstallable = missing.filter((t) => !t.debianPackage);
  if (notInstallable.length > 0) throw new Error(`needs ${notInstallable.map((t) => t.command).join(', ')} on PATH`);
  const packages = missing.map((t) => t.debianPackage as string);
  const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const root = process.getuid?.() === 0;
  if (!root || process.env['BENCH_INSTALL'] === '0') {
    throw new Error(`needs ${missing.map((t) => t.command).join(', ')}: install with\n  sudo apt-get update && sudo ${command}`);
  }
  progress(`installing ${packages.join(', ')}: ${command}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): number | null => spawnSync('sh', ['-c', `${command} >/dev/null`], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 }).status;
  // A machine that never ran apt-get update has no package lists: update once, then try again.
  if (install() !== 0 && (spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit', timeout: 600_000 }).status !== 0 || install() !== 0)) {
    throw new Error(`\`${command}\` failed`);
  }
  if (packages.includes('nginx-light')) {
    spawnSync('sh', ['-c', 'service nginx stop || systemctl stop nginx'], { stdio: 'ignore', timeout: 30_000 });
  }
  const still = tools.filter((t) => which(t.command) === null);
  if (still.length > 0) throw new Error(`still missing after install: ${still.map((t) => t.command).join(', ')}`);
}
