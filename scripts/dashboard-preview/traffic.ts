// Synthetic but realistic client traffic against a running proxy, with a scripted incident timeline:
// restores (flat-container version list → .nupkg, sometimes registration), search, autocomplete, audit,
// 404s for packages that do not exist, a burst of upstream 503s (retries), a slow upstream, an upstream
// outage (stale serving, 5xx for uncached packages, the circuit breaker) and a Redis restart.
// Bounded: it stops at the deadline, at `maxRequests`, or when `signal` aborts.

import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeUpstream } from '../../test/helpers/fake-upstream.ts';

export interface Incident {
  readonly label: string;
  /** Unix seconds. */
  readonly from: number;
  to: number;
}

export interface TrafficOptions {
  readonly proxyUrl: string;
  readonly upstream: FakeUpstream;
  readonly redis: { kill(): Promise<void>; start(): Promise<void> };
  readonly packageIds: readonly string[];
  readonly durationMs: number;
  readonly maxRequests: number;
  readonly workers: number;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

export interface TrafficResult {
  readonly requests: number;
  readonly byStatus: Record<string, number>;
  readonly incidents: Incident[];
}

/** Deterministic PRNG (mulberry32), so two runs drive the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEARCH_TERMS = ['contoso', 'xunit', 'json', 'test', 'coverage', 'immutable', 'metadata', 'newtonsoft', 'paged'];

export async function driveTraffic(o: TrafficOptions): Promise<TrafficResult> {
  const t0 = Date.now();
  const deadline = t0 + o.durationMs;
  const byStatus: Record<string, number> = {};
  const incidents: Incident[] = [];
  let requests = 0;
  const done = () => o.signal.aborted || Date.now() >= deadline || requests >= o.maxRequests;
  const progress = () => Math.min(1, (Date.now() - t0) / o.durationMs);

  async function get(path: string): Promise<{ status: number; body: Buffer }> {
    requests++;
    try {
      const res = await fetch(o.proxyUrl + path, { signal: AbortSignal.any([o.signal, AbortSignal.timeout(15_000)]) });
      const body = Buffer.from(await res.arrayBuffer());
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
      return { status: res.status, body };
    } catch {
      byStatus['error'] = (byStatus['error'] ?? 0) + 1;
      return { status: 0, body: Buffer.alloc(0) };
    }
  }

  // Resolve resources the way a NuGet client does: from the service index.
  const index = await get('/v3/index.json');
  if (index.status !== 200) throw new Error(`service index: HTTP ${index.status}`);
  const resources = (JSON.parse(index.body.toString('utf8')) as { resources: Array<{ '@id': string; '@type': string }> }).resources;
  const pathOf = (...types: string[]) => {
    const r = types.map((t) => resources.find((x) => x['@type'] === t)).find((x) => x !== undefined);
    if (!r) throw new Error(`service index has none of ${types.join(', ')}`);
    return new URL(r['@id']).pathname;
  };
  const flat = pathOf('PackageBaseAddress/3.0.0').replace(/\/?$/, '/');
  const registration = pathOf('RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl').replace(/\/?$/, '/');
  const search = pathOf('SearchQueryService/3.5.0', 'SearchQueryService');
  const autocomplete = pathOf('SearchAutocompleteService/3.5.0', 'SearchAutocompleteService');
  const vulnerabilities = pathOf('VulnerabilityInfo/6.7.0');

  async function restoreOne(rand: () => number): Promise<void> {
    // Popular packages first; the set of packages in use widens during the first 60 % of the run, so
    // there are cold misses (fills) throughout while the hit ratio climbs.
    const known = Math.max(4, Math.ceil(o.packageIds.length * Math.min(1, 0.3 + progress() / 0.6 * 0.7)));
    const id = (o.packageIds[Math.floor(known * rand() ** 1.6)] ?? o.packageIds[0]!).toLowerCase();
    const versionsRes = await get(`${flat}${id}/index.json`);
    if (versionsRes.status !== 200) return;
    const versions = (JSON.parse(versionsRes.body.toString('utf8')) as { versions: string[] }).versions;
    if (versions.length === 0) return;
    const v = rand() < 0.75 ? versions[versions.length - 1]! : versions[Math.floor(rand() * versions.length)]!;
    await get(`${flat}${id}/${v}/${id}.${v}.nupkg`);
    if (rand() < 0.35) await get(`${registration}${id}/index.json`);
  }

  async function step(rand: () => number): Promise<void> {
    const r = rand();
    if (r < 0.05) await get(`${flat}contoso.doesnotexist${Math.floor(rand() * 6)}/index.json`);
    else if (r < 0.14) {
      const q = SEARCH_TERMS[Math.floor(rand() * SEARCH_TERMS.length)]!;
      await get(`${search}?q=${q}&skip=0&take=20&prerelease=true&semVerLevel=2.0.0`);
    } else if (r < 0.17) await get(`${autocomplete}?q=${SEARCH_TERMS[Math.floor(rand() * SEARCH_TERMS.length)]!.slice(0, 3)}&take=10`);
    else if (r < 0.19) await get(vulnerabilities);
    else if (r < 0.22) await get('/v3/index.json');
    else await restoreOne(rand);
  }

  async function worker(k: number): Promise<void> {
    const rand = prng(0x5eed + k * 7919);
    while (!done()) {
      await step(rand);
      // Load breathes over a 30 s cycle, as CI jobs come and go.
      const load = 0.75 + 0.35 * Math.sin((2 * Math.PI * (Date.now() - t0)) / 30_000 + k);
      await sleep((25 + rand() * 110) / load);
    }
  }

  // The incident timeline, as fractions of the run.
  const at = (fraction: number) => t0 + fraction * o.durationMs;
  const now = () => Date.now() / 1000;
  async function waitUntil(ms: number): Promise<boolean> {
    while (Date.now() < ms) {
      if (done()) return false;
      await sleep(Math.min(200, ms - Date.now()));
    }
    return !done();
  }
  async function timeline(): Promise<void> {
    try {
      if (!(await waitUntil(at(0.15)))) return;
      o.log('upstream answers 503 to 40 metadata requests (retries)');
      let inc: Incident = { label: 'upstream 503s', from: now(), to: now() };
      incidents.push(inc);
      o.upstream.addFault({ match: /\/(index\.json|page\/.*\.json)$/, kind: 'status', status: 503, times: 40 });
      if (!(await waitUntil(at(0.22)))) return;
      o.upstream.clearFaults();
      inc.to = now();

      o.log('upstream slow: +300 ms on .nupkg, +120 ms on metadata');
      inc = { label: 'slow upstream', from: now(), to: now() };
      incidents.push(inc);
      o.upstream.addFault({ match: /\.nupkg$/, kind: 'delay', ms: 300 });
      o.upstream.addFault({ match: /\.json/, kind: 'delay', ms: 120 });
      if (!(await waitUntil(at(0.3)))) return;
      o.upstream.clearFaults();
      inc.to = now();

      if (!(await waitUntil(at(0.38)))) return;
      o.log('upstream outage: both upstream servers stopped');
      inc = { label: 'upstream down', from: now(), to: now() };
      incidents.push(inc);
      await o.upstream.stop();
      await waitUntil(at(0.56));
      await o.upstream.start();
      inc.to = now();
      o.log('upstream back');

      if (!(await waitUntil(at(0.68)))) return;
      o.log('redis killed');
      inc = { label: 'redis down', from: now(), to: now() };
      incidents.push(inc);
      await o.redis.kill();
      await waitUntil(at(0.76));
      await o.redis.start();
      inc.to = now();
      o.log('redis back');
    } finally {
      o.upstream.clearFaults();
    }
  }

  const tl = timeline();
  await Promise.all(Array.from({ length: o.workers }, (_, k) => worker(k)));
  await tl;
  return { requests, byStatus, incidents };
}
