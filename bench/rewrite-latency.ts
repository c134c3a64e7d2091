// Benchmark: p99 latency of small cached requests while multi-megabyte registration documents are being
// filled and rewritten. Compares rewriting inline (--rewrite-workers 0) with the worker pool.
// Everything on 127.0.0.1; the load is bounded in count and time.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadLoop, percentile, spawnProxy, table, timedGet } from './lib.ts';

const LEAVES = Number(process.env['BENCH_LEAVES'] ?? 4000);
const SMALL_CONCURRENCY = 8;
const MAX_MS = Number(process.env['BENCH_SECONDS'] ?? 8) * 1000;

/** A registration index shaped like nuget.org's with `LEAVES` inlined leaves (several MB). */
function bigRegistration(base: string, id: string): string {
  const leaves = Array.from({ length: LEAVES }, (_, i) => ({
    '@id': `${base}/reg/${id}/1.0.${i}.json`,
    '@type': 'Package',
    catalogEntry: {
      '@id': `${base}/catalog/${id}.1.0.${i}.json`,
      id,
      version: `1.0.${i}`,
      description: 'A long description that makes this registration document large, like real ones. '.repeat(8),
      dependencyGroups: [{ targetFramework: 'net8.0', dependencies: [{ id: 'Dep', range: '[1.0.0, )', registration: `${base}/reg/dep/index.json` }] }],
      packageContent: `${base}/flat/${id}/1.0.${i}/${id}.1.0.${i}.nupkg`,
      listed: true,
    },
    packageContent: `${base}/flat/${id}/1.0.${i}/${id}.1.0.${i}.nupkg`,
    registration: `${base}/reg/${id}/index.json`,
  }));
  return JSON.stringify({ '@id': `${base}/reg/${id}/index.json`, count: 1, items: [{ '@id': `${base}/reg/${id}/index.json#page/1.0.0/1.0.${LEAVES - 1}`, count: LEAVES, lower: '1.0.0', upper: `1.0.${LEAVES - 1}`, items: leaves }] });
}

async function startUpstream(): Promise<{ url: string; close: () => Promise<void>; bigBytes: number }> {
  let base = '';
  let bigBytes = 0;
  let template: string | undefined;
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/index.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: '3.0.0', resources: [{ '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }, { '@id': `${base}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' }] }));
      return;
    }
    const flat = /^\/flat\/([^/]+)\/index\.json$/.exec(path);
    if (flat) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ versions: ['1.0.0', '1.1.0', '2.0.0'] }));
      return;
    }
    const reg = /^\/reg\/([^/]+)\/index\.json$/.exec(path);
    if (reg?.[1]) {
      // Built once, then specialised per id with a cheap replace: the load generator's event loop must
      // not be the one that stalls.
      template ??= bigRegistration(base, 'ID-PLACEHOLDER');
      const body = template.split('ID-PLACEHOLDER').join(reg[1]);
      bigBytes = body.length;
      res.setHeader('content-type', 'application/json');
      res.end(body);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, close: () => new Promise((r) => server.close(() => r())), get bigBytes() { return bigBytes; } };
}

async function scenario(upstreamUrl: string, workers: number, withBig: boolean): Promise<Array<string | number>> {
  const proxy = await spawnProxy({ NUGET_PROXY_UPSTREAM: `${upstreamUrl}/index.json`, NUGET_PROXY_REWRITE_WORKERS: String(workers), NUGET_PROXY_CACHE_DIR: `/tmp/nuget-proxy-bench-${process.pid}-${workers}-${withBig}` });
  try {
    const small = `${proxy.url}/v3/flatcontainer/small/index.json`;
    for (let i = 0; i < 50; i++) await timedGet(small); // warm: cached, JIT-ed
    let bigDone = 0;
    let bigMs = 0;
    let stop = false;
    const bigLoop = async (k: number) => {
      for (let i = 0; !stop && i < 200; i++) {
        const r = await timedGet(`${proxy.url}/v3/registration/semver2/big-${k}-${i}/index.json`, { 'accept-encoding': 'gzip' });
        if (r.status !== 200) throw new Error(`big doc status ${r.status}`);
        bigDone++;
        bigMs += r.ms;
      }
    };
    const bigs = withBig ? [bigLoop(0), bigLoop(1)] : [];
    const latencies = await loadLoop(async () => (await timedGet(small)).ms, { concurrency: SMALL_CONCURRENCY, maxCount: 200_000, maxMs: MAX_MS });
    stop = true;
    await Promise.all(bigs);
    return [
      workers === 0 ? 'inline' : `${workers} workers`,
      withBig ? 'yes' : 'no',
      latencies.length,
      percentile(latencies, 50),
      percentile(latencies, 99),
      Math.max(...latencies),
      bigDone,
      bigDone ? bigMs / bigDone : 0,
    ];
  } finally {
    await proxy.stop();
  }
}

export async function run(): Promise<string> {
  const upstream = await startUpstream();
  try {
    const rows = [];
    rows.push(await scenario(upstream.url, 2, false));
    rows.push(await scenario(upstream.url, 0, true));
    rows.push(await scenario(upstream.url, 2, true));
    const mb = (upstream.bigBytes / 1024 / 1024).toFixed(1);
    return [
      `rewrite-latency: small cached requests (${SMALL_CONCURRENCY} concurrent, ${MAX_MS / 1000} s) while ${mb} MB registration documents are filled and rewritten (2 concurrent)`,
      table(['rewrite', 'big docs', 'small reqs', 'p50 ms', 'p99 ms', 'max ms', 'big docs done', 'big doc avg ms'], rows),
    ].join('\n');
  } finally {
    await upstream.close();
  }
}
