// Child processes of the benchmarks: the compiled proxy, CPU pinning with taskset, free ports, CPU
// accounting from /proc, and a guarantee that every child is gone when the benchmark exits.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/cluster/node-flags.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The proxy as production runs it: the compiled build (`npm run bench` builds first), no TypeScript loader. */
export const PROXY_ENTRY = 'dist/src/cli/nuget-proxy.js';

const living = new Map<ChildProcess, NodeJS.Signals>();
let exitHooked = false;

/**
 * Ends the child when this process exits, whatever happened (Ctrl-C included). `atExit`: SIGKILL for
 * Node children; nginx gets SIGTERM so its master takes the workers with it.
 */
export function track(child: ChildProcess, atExit: NodeJS.Signals = 'SIGKILL'): ChildProcess {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const [c, signal] of living) c.kill(signal);
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  }
  living.set(child, atExit);
  child.once('exit', () => living.delete(child));
  return child;
}

/** Sends `signal` (null: only waits), waits for the exit, SIGKILL after `ms`. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals | null, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (signal) child.kill(signal);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ports free on 127.0.0.1 right now. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Waits until 127.0.0.1:port accepts connections; fails early when the child exits. */
export async function waitForPort(port: number, child: ChildProcess, what: string, output: () => string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${ms} ms: ${output()}`);
    await sleep(50);
  }
}

/** The last few KB of a file (a child's log), for error messages. */
export function fileTail(path: string, chars = 3000): string {
  try {
    return readFileSync(path, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------------
// CPUs

/** CPU ids this process may run on (its affinity), from /proc/self/status. */
export function allowedCpus(): number[] {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

export interface CpuPlan {
  /** taskset CPU list for the server under test (proxy or nginx); null: not pinned. */
  readonly servers: string | null;
  /** taskset CPU list for the load generator; null: not pinned. */
  readonly load: string | null;
  readonly description: string;
}

/**
 * The servers under test get the last `serverCpus` CPUs, the load generator the others, so both servers
 * have exactly the same CPU budget (Node's GC, JIT and libuv threads included) and wrk never competes
 * with them. When no CPU is left for wrk (or BENCH_PIN=0), nothing is pinned.
 */
export function cpuPlan(serverCpus: number): CpuPlan {
  const cpus = allowedCpus();
  if (process.env['BENCH_PIN'] === '0') return { servers: null, load: null, description: `nothing pinned (BENCH_PIN=0)` };
  if (serverCpus >= cpus.length) return { servers: null, load: null, description: `nothing pinned (${serverCpus} server workers, ${cpus.length} CPUs: none left for wrk)` };
  const servers = cpus.slice(cpus.length - serverCpus).join(',');
  const load = cpus.slice(0, cpus.length - serverCpus).join(',');
  return { servers, load, description: `servers pinned to CPU ${servers}, wrk to CPU ${load} (taskset)` };
}

/** The command line that runs `command` under `taskset -c cpus` when given (taskset execs: the pid is the program's). */
export function pinnedCommand(cpus: string | null, command: string, args: readonly string[]): [string, string[]] {
  return cpus ? ['taskset', ['-c', cpus, command, ...args]] : [command, [...args]];
}

export function spawnPinned(cpus: string | null, command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const [cmd, argv] = pinnedCommand(cpus, command, args);
  return spawn(cmd, argv, options);
}

/** `/proc/PID/stat` fields from the 3rd (state) on: the command name may contain spaces. */
async function procStat(pid: number): Promise<string[] | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The process and all its descendants (nginx's workers, the proxy's worker processes). */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = await procStat(Number(entry));
    if (f) parents.set(Number(entry), Number(f[1]));
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, parent] of parents) if (parent === out[i]) out.push(child);
  return out;
}

/**
 * Resident memory (VmRSS, MB) and open file descriptors summed over the processes: a proxy with --workers
 * is a primary and its workers, and its memory is all of theirs.
 */
export async function memoryOf(pids: readonly number[]): Promise<{ rssMb: number; fds: number }> {
  let kb = 0;
  let fds = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kb += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    fds += (await readdir(`/proc/${pid}/fd`).catch(() => [])).length;
  }
  return { rssMb: kb / 1024, fds };
}

/** CPU seconds (user + system, all threads) the processes have used so far. */
export async function cpuSeconds(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const f = await procStat(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15), in clock ticks (1/100 s)
  }
  return ticks / 100;
}

/** Busy and total clock ticks of all CPUs so far, every process (/proc/stat's first line; busy: all but idle and iowait). */
export function machineTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * CPU seconds used by this process's children that have exited and been waited for (cutime + cstime):
 * around one child's run, what that child used (wrk, for instance).
 */
export async function reapedChildrenCpuSeconds(): Promise<number> {
  const f = await procStat(process.pid);
  return f ? (Number(f[13]) + Number(f[14])) / 100 : NaN; // cutime, cstime (fields 16 and 17)
}

/** Peak resident set (VmHWM) of one process, MB. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

// ---------------------------------------------------------------------------------------------------
// The proxy

export interface ProxyProcess {
  /** Origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  /** Its processes (workers included), for CPU accounting. */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** NUGET_PROXY_* settings; host and port are set here. */
  readonly env: Readonly<Record<string, string>>;
  /** Where its log lines (stdout and stderr) go: a file, as a service's journal would be. */
  readonly logFile: string;
  /** Worker processes (NUGET_PROXY_WORKERS); absent: the proxy's default. */
  readonly workers?: number;
  readonly cpus?: string | null;
}

let workersFlag: boolean | undefined;

/** Whether this build has `--workers` (issue 9); an older build ignores NUGET_PROXY_WORKERS. */
export function proxyHasWorkers(): boolean {
  requireBuild();
  workersFlag ??= /--workers\b/.test(spawnSync(process.execPath, [PROXY_ENTRY, 'serve', '--help'], { cwd: ROOT, encoding: 'utf8' }).stdout ?? '');
  return workersFlag;
}

export function requireBuild(): void {
  if (!existsSync(`${ROOT}/${PROXY_ENTRY}`)) throw new Error(`${PROXY_ENTRY} is missing: run \`npm run build\` (\`npm run bench\` builds first)`);
}

/**
 * Starts `nuget-proxy serve` from the compiled build on 127.0.0.1 and a free port, its own process (its
 * own event loop), with node's flags as `npm start` and the image give them (NODE_FLAGS); waits until it
 * accepts connections. BENCH_CPU_PROF=DIR writes a V8 CPU profile there.
 */
export async function spawnProxy(options: ProxyOptions): Promise<ProxyProcess> {
  requireBuild();
  if (options.workers !== undefined && options.workers > 1 && !proxyHasWorkers()) {
    throw new Error(`this build of nuget-proxy has no --workers: it would run 1 process, not ${options.workers} (use BENCH_WORKERS=1)`);
  }
  const [port] = (await freePorts(1)) as [number];
  const prof = process.env['BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`] : [];
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = track(
      spawnPinned(options.cpus ?? null, process.execPath, [...prof, ...NODE_FLAGS, PROXY_ENTRY, 'serve'], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...options.env,
          ...(options.workers !== undefined ? { NUGET_PROXY_WORKERS: String(options.workers) } : {}),
          NUGET_PROXY_HOST: '127.0.0.1',
          NUGET_PROXY_PORT: String(port),
        },
        stdio: ['ignore', log, log],
      }),
    );
  } finally {
    closeSync(log);
  }
  try {
    await waitForPort(port, child, 'nuget-proxy', () => fileTail(options.logFile), 30_000);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
  const pid = child.pid as number;
  return { url: `http://127.0.0.1:${port}`, pid, pids: () => processTree(pid), stop: () => stopChild(child, 'SIGTERM') };
}
