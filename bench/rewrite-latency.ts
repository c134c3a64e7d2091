// Benchmark: p99 latency of small cached requests (wrk, 8 connections) while 5–10 MB registration
// documents are filled and rewritten two at a time; rewriting inline (--rewrite-workers 0) against the
// worker pool, and a run without big documents as the reference. Target (issue 9): p99 ≤ 20 ms.
//
// Knobs: BENCH_SECONDS (8 per scenario), BENCH_LEAVES (6000 leaves per document).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitOf, machineLine } from './lib/machine.ts';
import { flatContainerOf, getOk, resourceOf, timedGet } from './lib/http.ts';
import { spawnProxy } from './lib/processes.ts';
import { TASKSET, WRK, requireTools } from './lib/requirements.ts';
import { bytes, count, ms, progress, table } from './lib/stats.ts';
import { NUGET_CLIENT_HEADERS, runWrk } from './lib/wrk.ts';

const LEAVES = Number(process.env['BENCH_LEAVES'] ?? 6000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const CONNECTIONS = 8;
const BIG_CONCURRENCY = 2;
const P99_TARGET_MS = 20;

/** A registration index shaped like nuget.org's with `LEAVES` inlined leaves. */
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
  return JSON.stringify({
    '@id': `${base}/reg/${id}/index.json`,
    count: 1,
    items: [{ '@id': `${base}/reg/${id}/index.json#page/1.0.0/1.0.${LEAVES - 1}`, count: LEAVES, lower: '1.0.0', upper: `1.0.${LEAVES - 1}`, items: leaves }],
  });
}

/** A minimal V3 feed: a tiny version list for every id, a big registration index for every id. */
async function startUpstream(): Promise<{ url: string; bigBytes: () => number; close: () => Promise<void> }> {
  let base = '';
  let template: string | undefined;
  let bigBytes = 0;
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    res.setHeader('content-type', 'application/json');
    if (path === '/index.json') {
      res.end(JSON.stringify({ version: '3.0.0', resources: [{ '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }, { '@id': `${base}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' }] }));
    } else if (/^\/flat\/[^/]+\/index\.json$/.test(path)) {
      res.end(JSON.stringify({ versions: ['1.0.0', '1.1.0', '2.0.0'] }));
    } else if (/^\/reg\/[^/]+\/index\.json$/.test(path)) {
      // Built once, then specialised per id with a cheap replace.
      template ??= bigRegistration(base, 'ID-PLACEHOLDER');
      const body = template.split('ID-PLACEHOLDER').join(path.split('/')[2] ?? '');
      bigBytes = body.length;
      res.end(body);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, bigBytes: () => bigBytes, close: () => new Promise((r) => server.close(() => r())) };
}

async function scenario(work: string, upstreamUrl: string, rewriteWorkers: number, withBig: boolean): Promise<Array<string | number>> {
  const name = `${rewriteWorkers === 0 ? 'inline' : `${rewriteWorkers} workers`}${withBig ? ', big docs' : ''}`;
  const proxy = await spawnProxy({
    env: { NUGET_PROXY_UPSTREAM: `${upstreamUrl}/index.json`, NUGET_PROXY_REWRITE_WORKERS: String(rewriteWorkers), NUGET_PROXY_CACHE_DIR: join(work, `cache-${rewriteWorkers}-${withBig}`) },
    logFile: join(work, 'proxy.log'),
  });
  try {
    const index = `${proxy.url}/v3/index.json`;
    const small = `${await flatContainerOf(index, 'nuget-proxy')}small/index.json`;
    const registration = await resourceOf(index, 'RegistrationsBaseUrl/3.6.0', 'nuget-proxy');
    await getOk(small, 'small document');
    await runWrk({ url: small, threads: 2, connections: CONNECTIONS, seconds: 1, headers: NUGET_CLIENT_HEADERS }); // warm: JIT
    let stop = false;
    let bigDone = 0;
    let bigMs = 0;
    // Every big document is a new id: a fill from upstream and a rewrite each time. Bounded in count too.
    const bigLoop = async (k: number): Promise<void> => {
      for (let i = 0; !stop && i < 500; i++) {
        const r = await timedGet(`${registration}big-${k}-${i}/index.json`, NUGET_CLIENT_HEADERS);
        if (r.status !== 200) throw new Error(`big document: status ${r.status}`);
        bigDone++;
        bigMs += r.ms;
      }
    };
    const bigs = withBig ? Array.from({ length: BIG_CONCURRENCY }, (_, k) => bigLoop(k)) : [];
    const w = await runWrk({ url: small, threads: 2, connections: CONNECTIONS, seconds: SECONDS, headers: NUGET_CLIENT_HEADERS, serverPids: await proxy.pids() }).finally(() => {
      stop = true;
    });
    await Promise.all(bigs);
    progress(`${name}: small p99 ${ms(w.p99Ms)} ms, ${bigDone} big documents`);
    return [
      rewriteWorkers === 0 ? 'inline' : `${rewriteWorkers} workers`,
      withBig ? 'yes' : 'no',
      count(w.requestsPerSecond),
      ms(w.p50Ms),
      ms(w.p99Ms),
      ms(w.maxMs),
      w.errors,
      withBig ? bigDone : '—',
      withBig && bigDone ? ms(bigMs / bigDone) : '—',
      withBig ? `≤ ${P99_TARGET_MS} (${w.p99Ms <= P99_TARGET_MS ? 'met' : 'not met'})` : '—',
    ];
  } finally {
    await proxy.stop();
  }
}

export async function run(): Promise<string> {
  requireTools([WRK, TASKSET]);
  const work = await mkdtemp(join(tmpdir(), 'nuget-proxy-bench-rewrite-'));
  const machine = machineLine();
  const upstream = await startUpstream();
  try {
    const rows = [await scenario(work, upstream.url, 2, false), await scenario(work, upstream.url, 0, true), await scenario(work, upstream.url, 2, true)];
    return [
      `rewrite-latency: nuget-proxy ${commitOf()} (compiled build); small cached requests from wrk (2 threads, ${CONNECTIONS} connections, ${SECONDS} s) ` +
        `while ${bytes(upstream.bigBytes())} registration documents are filled and rewritten, ${BIG_CONCURRENCY} at a time`,
      `machine: ${machine}`,
      '',
      table(['rewrite', 'big docs', 'small req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'big docs done', 'big doc avg ms', 'p99 target ms'], rows),
    ].join('\n');
  } finally {
    await upstream.close();
    await rm(work, { recursive: true, force: true });
  }
}
