// A real redis-server on 127.0.0.1 for a test (Debian's redis-server; .ci/run installs it), alone or as
// a Redis Cluster of three masters.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: the server vanishes mid-test, as when a node dies. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.write('PING\r\n');
    });
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
  });
}

export async function startRedis(extraArgs: readonly string[] = []): Promise<TestRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', ...extraArgs], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('redis-server did not start');
    await sleep(50);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface TestRedisCluster {
  /** One node's URL: the seed the proxy gets with --redis-cluster. */
  readonly url: string;
  readonly nodes: readonly TestRedis[];
  /** `redis-cli -c` against the cluster (follows redirections), e.g. ['GET', key]. */
  cli(args: readonly string[]): Promise<string>;
  /** Empties every master. */
  flushAll(): Promise<void>;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

/**
 * Three redis-server masters in cluster mode, slots spread by `redis-cli --cluster create`. Each node's
 * cluster bus gets its own free port (the default, port + 10000, may be taken or out of range).
 */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-redis-cluster-'));
  const nodes: TestRedis[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const busPort = await freePort();
      nodes.push(
        await startRedis([
          '--cluster-enabled', 'yes',
          '--cluster-port', String(busPort),
          '--cluster-config-file', join(dir, `nodes-${i}.conf`),
          '--cluster-node-timeout', '2000',
          '--dir', dir,
        ]),
      );
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await execFileAsync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    // Every node must agree the cluster is whole before a client may rely on it.
    const deadline = Date.now() + 20_000;
    for (const n of nodes) {
      for (;;) {
        const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(n.port), 'cluster', 'info'], { timeout: 5000 });
        if (/cluster_state:ok/.test(stdout)) break;
        if (Date.now() > deadline) throw new Error(`redis cluster did not become ready: ${stdout}`);
        await sleep(100);
      }
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const first = nodes[0] as TestRedis;
  return {
    url: first.url,
    nodes,
    async cli(args) {
      const { stdout } = await execFileAsync('redis-cli', ['-c', '-h', '127.0.0.1', '-p', String(first.port), ...args], { timeout: 5000 });
      return stdout.trim();
    },
    async flushAll() {
      await Promise.all(nodes.map((n) => execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(n.port), 'flushall'], { timeout: 5000 })));
    },
    stop: stopAll,
  };
}
