// The project's fake upstream (test/helpers/fake-upstream.ts, standard and real packages) in its own
// process, for benchmarks whose own event loop is busy with the work being measured.

import { spawn } from 'node:child_process';
import { ROOT, freePorts, stopChild, track } from './processes.ts';

export interface FakeUpstreamProcess {
  /** Its service index URL. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startFakeUpstreamProcess(): Promise<FakeUpstreamProcess> {
  const [port, searchPort] = (await freePorts(2)) as [number, number];
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', 'test/helpers/fake-upstream.ts', '--port', String(port), '--search-port', String(searchPort)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('fake upstream not ready within 60 s')), 60_000);
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /fake upstream: (\S+)/.exec(buf);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`fake upstream exited with ${code}`));
      });
    });
    return { url, stop: () => stopChild(child, 'SIGTERM', 5000) };
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
}
