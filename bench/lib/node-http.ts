// The Node floor for vs-nginx: a bare `node:http` server that answers each benchmarked path with the very
// bytes (and content type and encoding) nuget-proxy sent for it, held in memory, one `res.end` per
// request — no routing, logging, metrics or cache lookup. Run under the same CPU pinning as the proxy, it
// shows how much of the gap to nginx is Node's HTTP stack and how much is the proxy's own per-request work.
//
// Imported: startNodeHttp() writes the bodies to a folder and starts this file as a child process.
// Run as a script (`node --import tsx node-http.ts MANIFEST PORT`): the server itself.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, processTree, spawnPinned, stopChild, track, waitForPort } from './processes.ts';

export interface HeldReply {
  /** Request path (no query string). */
  readonly path: string;
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
}

export interface NodeHttpServer {
  /** Origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

interface ManifestEntry {
  readonly path: string;
  readonly file: string;
  readonly headers: Record<string, string>;
}

const SELF = fileURLToPath(import.meta.url);

export async function startNodeHttp(o: { dir: string; replies: readonly HeldReply[]; cpus?: string | null }): Promise<NodeHttpServer> {
  await mkdir(o.dir, { recursive: true });
  const manifest: ManifestEntry[] = [];
  for (const [i, r] of o.replies.entries()) {
    const file = join(o.dir, `body-${i}`);
    await writeFile(file, r.body);
    const headers: Record<string, string> = {};
    if (r.contentType) headers['content-type'] = r.contentType;
    if (r.contentEncoding) headers['content-encoding'] = r.contentEncoding;
    manifest.push({ path: r.path, file, headers });
  }
  const manifestFile = join(o.dir, 'manifest.json');
  await writeFile(manifestFile, JSON.stringify(manifest));
  const [port] = (await freePorts(1)) as [number];
  const child = track(spawnPinned(o.cpus ?? null, process.execPath, ['--import', 'tsx', SELF, manifestFile, String(port)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    await waitForPort(port, child, 'node:http reference server', () => stderr, 20_000);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
  const pid = child.pid as number;
  return { url: `http://127.0.0.1:${port}`, pids: () => processTree(pid), stop: () => stopChild(child, 'SIGTERM') };
}

function serve(manifestFile: string, port: number): void {
  const replies = new Map<string, { body: Buffer; headers: Record<string, string | number> }>();
  for (const e of JSON.parse(readFileSync(manifestFile, 'utf8')) as ManifestEntry[]) {
    const body = readFileSync(e.file);
    replies.set(e.path, { body, headers: { ...e.headers, 'content-length': body.length } });
  }
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const reply = replies.get(q === -1 ? url : url.slice(0, q));
    if (!reply) {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
      return;
    }
    res.writeHead(200, reply.headers);
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  });
  server.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[1] === SELF) serve(process.argv[2] as string, Number(process.argv[3]));
