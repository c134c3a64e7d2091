// Slow HTTP readers for the memory tests and `bench slow-clients`: N raw sockets, each downloading one URL at
// a fixed rate (a token bucket per socket: it pauses when it read its share and resumes on the next tick),
// and a /healthz prober that measures latency meanwhile. Bounded in count and in time; loopback only.

import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface SlowClientsOptions {
  readonly url: string;
  readonly clients: number;
  readonly bytesPerSecond: number;
  readonly seconds: number;
  /** Connections are opened over this long (default: all at once). */
  readonly rampMs?: number;
}

export interface SlowClientsResult {
  /** Response status → clients. */
  readonly statuses: Record<string, number>;
  /** Body bytes received by all clients. */
  readonly bytes: number;
  /** Clients that were still receiving when the run ended (the rest finished, were refused or cut off). */
  readonly receiving: number;
  /** Connections the server closed before the whole body arrived. */
  readonly cutOff: number;
  readonly errors: number;
  /** Retry-After values seen on 503s. */
  readonly retryAfter: string[];
}

const TICK_MS = 100;

/** Runs the readers for `seconds`, then closes every socket. */
export async function runSlowClients(o: SlowClientsOptions): Promise<SlowClientsResult> {
  const u = new URL(o.url);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost' && u.hostname !== '[::1]') throw new Error('slow clients only talk to loopback');
  const port = Number(u.port);
  const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: nuget-proxy slow client\r\nConnection: close\r\n\r\n`;
  const perTick = Math.max(1, Math.floor((o.bytesPerSecond * TICK_MS) / 1000));
  const statuses: Record<string, number> = {};
  const retryAfter: string[] = [];
  let bytes = 0;
  let cutOff = 0;
  let errors = 0;
  interface Reader {
    socket: net.Socket;
    allowance: number;
    paused: boolean;
    head: Buffer | null;
    bodyLeft: number;
    done: boolean;
  }
  const readers: Reader[] = [];
  let stopping = false;

  const open = (): void => {
    const socket = net.connect(port, '127.0.0.1');
    const r: Reader = { socket, allowance: perTick, paused: false, head: Buffer.alloc(0), bodyLeft: Infinity, done: false };
    readers.push(r);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      r.allowance -= chunk.length;
      if (r.head) {
        const all = Buffer.concat([r.head, chunk]);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          r.head = all;
        } else {
          const head = all.subarray(0, end).toString('latin1');
          const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? '???';
          statuses[status] = (statuses[status] ?? 0) + 1;
          const ra = /\r\nretry-after: *([^\r]*)/i.exec(head)?.[1];
          if (ra !== undefined) retryAfter.push(ra);
          r.bodyLeft = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          r.head = null;
          const body = all.length - end - 4;
          bytes += body;
          r.bodyLeft -= body;
        }
      } else {
        bytes += chunk.length;
        r.bodyLeft -= chunk.length;
      }
      if (r.bodyLeft <= 0) r.done = true;
      if (r.allowance <= 0 && !r.paused) {
        r.paused = true;
        socket.pause();
      }
    });
    socket.on('error', () => {
      errors++;
    });
    socket.on('close', () => {
      if (!r.done && !stopping) cutOff++;
      r.done = true;
    });
  };

  const tick = setInterval(() => {
    for (const r of readers) {
      r.allowance = Math.min(r.allowance + perTick, perTick);
      if (r.paused && r.allowance > 0) {
        r.paused = false;
        r.socket.resume();
      }
    }
  }, TICK_MS);
  const ramp = o.rampMs ?? 0;
  for (let i = 0; i < o.clients; i++) {
    if (ramp > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, ramp / o.clients));
    open();
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, o.seconds * 1000 - ramp)));
  stopping = true;
  clearInterval(tick);
  const receiving = readers.filter((r) => !r.done && r.head === null).length;
  for (const r of readers) r.socket.destroy();
  return { statuses, bytes, receiving, cutOff, errors, retryAfter };
}

/**
 * The same readers in a child process, so that a prober in this process measures the server, not an event
 * loop busy with hundreds of sockets beside it. Killed if it overruns its time.
 */
export function runSlowClientsApart(o: SlowClientsOptions): Promise<SlowClientsResult> {
  return new Promise((resolve, reject) => {
    const entry = fileURLToPath(new URL('./slow-clients-process.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', entry, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 60) * 1000);
    timer.unref();
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`slow clients exited with ${code ?? signal}`);
        resolve(JSON.parse(out) as SlowClientsResult);
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

export interface ProbeResult {
  readonly count: number;
  readonly failures: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** GETs `url` one after another (a keep-alive connection), every `intervalMs`, until `stop()` resolves. */
export async function probeLatency(url: string, intervalMs: number, until: Promise<unknown>): Promise<ProbeResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let failures = 0;
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  for (let i = 0; !stop && i < 1_000_000; i++) {
    const started = performance.now();
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => resolve(false));
    });
    times.push(performance.now() - started);
    if (!ok) failures++;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  agent.destroy();
  const sorted = times.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, failures, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? NaN };
}

/** Resident set of a process now (VmRSS) and at its peak (VmHWM), MB; from /proc. */
export async function rssOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}
