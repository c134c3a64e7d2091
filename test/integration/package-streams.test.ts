// Package downloads streamed from storage under the limits of issue 10: a cap on concurrent streams with a
// queue and a clear 503 + Retry-After past it, and clients that read nothing dropped after
// --client-stall-timeout-seconds (their stream freed). Real sockets that stop reading, a real proxy.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { pseudoRandomBytes, writePackages } from '../helpers/packages.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

const ID = 'Contoso.Streams.Big';
const MB = 1000 * 1000;
const path = `/v3/flatcontainer/${ID.toLowerCase()}/1.0.0/${ID.toLowerCase()}.1.0.0.nupkg`;

let upstream: FakeUpstream;

before(async () => {
  const dir = await makeTempDir('stream-packages');
  upstream = await startFakeUpstream({ packages: await writePackages(dir, [{ id: ID, version: '1.0.0', extraFiles: { 'content/big.bin': pseudoRandomBytes(24 * MB, 77) } }]) });
});

after(async () => {
  await upstream?.stop();
});

interface StuckClient {
  /** Status line and headers, once they arrived. */
  readonly head: Promise<string>;
  /** Resolves when the connection closed (a paused socket notices only once it reads again: see resume()). */
  readonly closed: Promise<void>;
  received(): number;
  /** Reads again (whatever the kernel still holds for it). */
  resume(): void;
  destroy(): void;
}

/** A client that sends a GET, reads the response head, then reads nothing more. */
function stuckClient(base: string): StuckClient {
  const u = new URL(base);
  const socket = net.connect(Number(u.port), '127.0.0.1');
  let received = 0;
  let buffered: Buffer | null = Buffer.alloc(0);
  let resolveHead: (h: string) => void = () => {};
  const head = new Promise<string>((r) => (resolveHead = r));
  socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (!buffered) return;
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end >= 0) {
      resolveHead(buffered.subarray(0, end).toString('latin1'));
      buffered = null;
      socket.pause();
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { head, closed, received: () => received, resume: () => socket.resume(), destroy: () => socket.destroy() };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

async function metric(proxy: TestProxy, name: string): Promise<number> {
  const text = await proxy.proxy.metrics.registry.getSingleMetricAsString(name);
  return Number(/ ([0-9.e+]+)$/m.exec(text)?.[1] ?? NaN);
}

describe('the package stream cap', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startProxy({
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_MAX_PACKAGE_STREAMS: '1',
      NUGET_PROXY_PACKAGE_STREAM_QUEUE: '1',
      // Too small to hold the package: every download is streamed from storage.
      NUGET_PROXY_MEMORY_CACHE_MB: '1',
    });
    const warm = await fetch(proxy.url + path);
    assert.equal(warm.status, 200);
    assert.equal((await warm.arrayBuffer()).byteLength > 20 * MB, true);
    await proxy.proxy.flat.drain(); // the streamed fill's response may end before its commit
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('queues a download past the cap, answers 503 with Retry-After past the queue, and starts the queued one when a stream frees', async () => {
    const first = stuckClient(proxy.url);
    assert.match(await within(first.head, 5000, 'first response head'), /^HTTP\/1\.1 200/);
    const queued = stuckClient(proxy.url);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(queued.received(), 0, 'the second download waits for the stream');
    assert.equal(await metric(proxy, 'nuget_proxy_package_stream_queue'), 1);

    const refused = await fetch(proxy.url + path);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '10');
    assert.match(await refused.text(), /busy/);
    assert.equal(await metric(proxy, 'nuget_proxy_package_streams_rejected_total'), 1);

    first.destroy();
    assert.match(await within(queued.head, 5000, 'queued response head'), /^HTTP\/1\.1 200/);
    queued.destroy();
    await queued.closed;
    // Both streams end and give their slot back.
    const deadline = Date.now() + 5000;
    while ((await metric(proxy, 'nuget_proxy_package_streams')) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await metric(proxy, 'nuget_proxy_package_streams'), 0);
    const again = await fetch(proxy.url + path, { method: 'HEAD' });
    assert.equal(again.status, 200);
  });
});

describe('stalled clients', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startProxy({
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_MAX_PACKAGE_STREAMS: '1',
      NUGET_PROXY_CLIENT_STALL_TIMEOUT_SECONDS: '1',
      NUGET_PROXY_MEMORY_CACHE_MB: '1',
    });
    const warm = await fetch(proxy.url + path);
    assert.equal(warm.status, 200);
    await warm.arrayBuffer();
    await proxy.proxy.flat.drain();
  });

  after(async () => {
    await proxy?.dispose();
  });

  it('drops a client that reads nothing, frees its stream, and says so in its log line and a metric', async () => {
    const stuck = stuckClient(proxy.url);
    assert.match(await within(stuck.head, 5000, 'response head'), /^HTTP\/1\.1 200/);
    const started = Date.now();
    const deadline = started + 10_000;
    while ((await metric(proxy, 'nuget_proxy_stalled_clients_total')) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const tookMs = Date.now() - started;
    assert.equal(await metric(proxy, 'nuget_proxy_stalled_clients_total'), 1, 'the proxy gave up on the client');
    assert.ok(tookMs >= 800, `not before the timeout (${tookMs} ms)`);
    // The client, reading again, finds the connection closed short of the body.
    stuck.resume();
    await within(stuck.closed, 10_000, 'the connection closing');
    assert.ok(stuck.received() < 20 * MB, `the client never got the whole body (${stuck.received()} bytes)`);
    const line = proxy.logs().find((l) => l['msg'] === 'request completed' && l['code'] === 'CLIENT_STALLED');
    assert.ok(line, 'the request line names the stall');
    // The one stream is free again: a reading client gets the whole package.
    const next = await fetch(proxy.url + path);
    assert.equal(next.status, 200);
    assert.ok((await next.arrayBuffer()).byteLength > 20 * MB);
  });
});
