// wrk as the load generator: one bounded run against one URL, its summary parsed into numbers.

import { run } from '../../test/helpers/clients.ts';
import { cpuSeconds, pinnedCommand, reapedChildrenCpuSeconds } from './processes.ts';
import { which } from './requirements.ts';

export interface WrkOptions {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** taskset CPU list for wrk; null: not pinned. */
  readonly cpus?: string | null;
  /** Processes whose CPU use is measured over the run (the server under test). */
  readonly serverPids?: readonly number[];
}

export interface WrkResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly bytesPerSecond: number;
  /** Latency percentiles from wrk's --latency distribution, and the maximum, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Non-2xx/3xx responses plus socket errors (connect, read, write, timeout). */
  readonly errors: number;
  /** Server CPU over the run, in CPUs (1.0 = one core busy the whole time); NaN when not measured. */
  readonly serverCpus: number;
  /** wrk's own CPU over the run, in CPUs: near its CPU budget, the load generator was the limit. */
  readonly loadCpus: number;
}

/** What NuGet's HttpClient sends: it always accepts gzip, and always names itself. */
export const NUGET_CLIENT_HEADERS: Readonly<Record<string, string>> = {
  'Accept-Encoding': 'gzip, deflate',
  'User-Agent': 'NuGet .NET Core MSBuild Task/6.14.0 (bench)',
};

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function duration(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text ?? '');
  return m ? Number(m[1]) * (TIME_UNITS[m[2] as string] as number) : NaN;
}

function size(text: string | undefined): number {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text ?? '');
  return m ? Number(m[1]) * (SIZE_UNITS[m[2] as string] as number) : NaN;
}

/** Parses wrk 4.x's summary (with --latency). */
export function parseWrk(out: string): Omit<WrkResult, 'serverCpus' | 'loadCpus'> {
  const pct = (p: string): number => duration(new RegExp(`^[ \\t]*${p}%[ \\t]+(\\S+)`, 'm').exec(out)?.[1]);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  return {
    requests,
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    bytesPerSecond: size(/Transfer\/sec:\s+(\S+)/.exec(out)?.[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    maxMs: duration(/^[ \t]*Latency[ \t]+\S+[ \t]+\S+[ \t]+(\S+)/m.exec(out)?.[1]),
    errors: non2xx + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/** One wrk run, bounded by its duration (plus a margin, then killed). */
export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk not found');
  const headers = Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '--latency', ...headers, o.url];
  const [cmd, argv] = pinnedCommand(o.cpus ?? null, wrk, args);
  const cpuBefore = o.serverPids ? await cpuSeconds(o.serverPids) : NaN;
  const loadBefore = await reapedChildrenCpuSeconds();
  const started = performance.now();
  const r = await run(cmd, argv, { cwd: '/', env: process.env, timeoutMs: (o.seconds + 30) * 1000 });
  const wall = (performance.now() - started) / 1000;
  const serverCpus = o.serverPids ? ((await cpuSeconds(o.serverPids)) - cpuBefore) / wall : NaN;
  const loadCpus = ((await reapedChildrenCpuSeconds()) - loadBefore) / wall;
  if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr || r.stdout}`);
  const parsed = parseWrk(r.stdout);
  if (Number.isNaN(parsed.requestsPerSecond) || Number.isNaN(parsed.p99Ms)) throw new Error(`cannot read wrk's output:\n${r.stdout}`);
  return { ...parsed, serverCpus, loadCpus };
}
