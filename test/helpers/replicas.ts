// Several nuget-proxy replicas as real processes (`node --import tsx src/cli/nuget-proxy.ts serve`), each on its own
// port on 127.0.0.1, with their JSON log lines collected, so a test can find the one filling and kill -9 it.

import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type LogLine = Record<string, unknown>;

export interface Replica {
  readonly index: number;
  readonly url: string;
  readonly pid: number;
  logs(): readonly LogLine[];
  /** The first log line (already written or still to come) that `match` accepts, or an error after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** The /metrics text. */
  metrics(): Promise<string>;
  /** SIGKILL, as a node dying: no drain, no lease release. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: boolean;
}

function spawnReplica(index: number, env: Record<string, string>): Promise<Replica> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/nuget-proxy.ts', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      NUGET_PROXY_HOST: '127.0.0.1',
      NUGET_PROXY_PORT: '0',
      NUGET_PROXY_LOG_LEVEL: 'debug',
      NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '3000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  let pending = '';
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.stdout?.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(part) as LogLine;
      } catch {
        line = { raw: part };
      }
      lines.push(line);
      for (const w of waiters) {
        if (w.match(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });

  const waitForLog = (match: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine> => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const w = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`replica ${index}: no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      // A waiter that never matches must not keep the test process alive.
      timer.unref();
      waiters.add(w);
    });
  };

  return (async () => {
    const listening = await Promise.race([
      waitForLog((l) => l['msg'] === 'nuget-proxy listening', 60_000),
      exit.then(() => {
        throw new Error(`replica ${index} exited at start: ${stderr}`);
      }),
    ]);
    const url = String(listening['url']);
    const replica: Replica = {
      index,
      url,
      pid: child.pid ?? -1,
      logs: () => lines,
      waitForLog,
      metrics: async () => (await fetch(`${url}/metrics`)).text(),
      async kill() {
        if (!exited) child.kill('SIGKILL');
        await exit;
      },
      async stop(graceMs = 5000) {
        if (exited) return;
        child.kill('SIGTERM');
        if ((await Promise.race([exit.then(() => 'exited' as const), sleep(graceMs).then(() => 'late' as const)])) === 'late') child.kill('SIGKILL');
        await exit;
      },
      get exited() {
        return exited;
      },
    };
    return replica;
  })().catch(async (err: unknown) => {
    if (!exited) child.kill('SIGKILL');
    throw err;
  });
}

/** Starts `count` replicas in parallel; `envFor(i)` gives replica i its NUGET_PROXY_* settings. */
export async function startReplicas(count: number, envFor: (index: number) => Record<string, string>): Promise<Replica[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => spawnReplica(i, envFor(i))));
  const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((r) => r.kill()));
    throw failed.reason;
  }
  return ok;
}

/** The sum of the samples of one metric whose labels include `labels`, in a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map(
      [...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((kv) => [kv[1], kv[2]] as const),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}
