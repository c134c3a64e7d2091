// The fault matrix: every upstream fault the fake can inject × every kind of resource, with nothing cached.
// Each cell runs on a fresh proxy (its own cache directory and breaker) with short timeouts, and checks
// the answer (status, message, X-Cache), how long it took, how many attempts upstream saw, that no temp
// file is left and no metadata object was written, and — once the fault is gone — that the next answer
// is the right document (nothing wrong was cached). Failures are told the same way by every resource:
// the same status and, for faults that do not depend on timing, the same number of attempts.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_UPSTREAM_NAME } from '../../src/config.ts';
import { filesUnder, tempFiles } from '../helpers/cache-files.ts';
import { startStandardFakeUpstream, type FakeUpstream, type FaultRule, type ServerName } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';

const RESPONSE_TIMEOUT_MS = 800;
const IDLE_TIMEOUT_MS = 1000;
const DEADLINE_MS = 1500;
const BREAKER_BACKOFF_MS = 1000;
/** Room for a loaded CI machine on top of what the configuration allows. */
const SLACK_MS = 2500;

const FAST: Record<string, string> = {
  NUGET_PROXY_UPSTREAM_RESPONSE_TIMEOUT_MS: String(RESPONSE_TIMEOUT_MS),
  NUGET_PROXY_UPSTREAM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
  NUGET_PROXY_UPSTREAM_CONNECT_TIMEOUT_MS: String(RESPONSE_TIMEOUT_MS),
  NUGET_PROXY_REQUEST_DEADLINE_MS: String(DEADLINE_MS),
  NUGET_PROXY_UPSTREAM_RETRIES: '3',
  NUGET_PROXY_UPSTREAM_RETRY_BASE_MS: '20',
  NUGET_PROXY_BREAKER_FAILURES: '3',
  NUGET_PROXY_BREAKER_BACKOFF_MS: String(BREAKER_BACKOFF_MS),
  NUGET_PROXY_REWRITE_WORKERS: '0',
  NUGET_PROXY_LOG_LEVEL: 'info',
};

interface Row {
  readonly name: string;
  /** Proxy path. */
  readonly path: string;
  /** The upstream request(s) it makes, as a fault rule's match. */
  readonly match: string | RegExp;
  readonly server?: ServerName;
  /** Resources that answer from what the proxy has when upstream fails (200 LOCAL). */
  readonly fallback?: boolean;
  /**
   * A fill streamed through (.nupkg): once upstream's bytes flowed, a failure can only break the 200 off
   * (the client never gets a complete body), not become a status.
   */
  readonly streamed?: boolean;
}

const ROWS: readonly Row[] = [
  { name: 'versions', path: '/v3/flatcontainer/contoso.tool/index.json', match: '/v3-flatcontainer/contoso.tool/index.json' },
  { name: 'registration index (semver2, gzip)', path: '/v3/registration/semver2/contoso.vulnerable/index.json', match: '/v3/registration5-gz-semver2/contoso.vulnerable/index.json' },
  { name: 'registration index (semver1)', path: '/v3/registration/semver1/contoso.unlisted/index.json', match: '/v3/registration5-semver1/contoso.unlisted/index.json' },
  { name: 'registration page', path: '/v3/registration/semver2/contoso.paged/page/1.0.0/1.0.63.json', match: '/v3/registration5-gz-semver2/contoso.paged/page/1.0.0/1.0.63.json' },
  { name: 'nupkg', path: '/v3/flatcontainer/contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg', match: '/v3-flatcontainer/contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg', streamed: true },
  { name: 'nuspec', path: '/v3/flatcontainer/contoso.deprecated/1.0.0/contoso.deprecated.nuspec', match: '/v3-flatcontainer/contoso.deprecated/1.0.0/contoso.deprecated.nuspec' },
  { name: 'search', path: '/v3/search/query?q=contoso&take=5', match: /\/query\?/, server: 'search', fallback: true },
];
/** Run last and alone: every other cell reads the service index first. */
const SERVICE_INDEX_ROW: Row = { name: 'service index', path: '/v3/index.json', match: '/v3/index.json', server: 'main', fallback: true };

type Expectation = { readonly ok: true } | { readonly ok: false; readonly status: 502 | 504; readonly message: RegExp; readonly breaker: 'open' | 'closed' };

interface Fault {
  readonly name: string;
  readonly rule: DistributiveOmit<FaultRule, 'match' | 'server'>;
  readonly expect: Expectation;
  /** Attempts depend on timers (compared loosely). */
  readonly timed?: boolean;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const FAULTS: readonly Fault[] = [
  { name: '503 always', rule: { kind: 'status', status: 503 }, expect: { ok: false, status: 502, message: /answered HTTP 503/, breaker: 'closed' } },
  { name: '500 once', rule: { kind: 'status', status: 500, times: 1 }, expect: { ok: true } },
  { name: '429 once (Retry-After 1)', rule: { kind: 'status', status: 429, headers: { 'retry-after': '1' }, times: 1 }, expect: { ok: true } },
  { name: 'reset', rule: { kind: 'reset' }, expect: { ok: false, status: 502, message: /is unreachable/, breaker: 'open' } },
  { name: 'close without answer', rule: { kind: 'close' }, expect: { ok: false, status: 502, message: /is unreachable/, breaker: 'open' } },
  { name: 'truncated body', rule: { kind: 'truncate', bytes: 10 }, expect: { ok: false, status: 502, message: /broke off its answer/, breaker: 'closed' } },
  { name: 'truncated once', rule: { kind: 'truncate', bytes: 10, times: 1 }, expect: { ok: true } },
  { name: 'black hole', rule: { kind: 'hang' }, expect: { ok: false, status: 504, message: /did not answer within the request deadline/, breaker: 'open' }, timed: true },
  { name: 'delay 4 s', rule: { kind: 'delay', ms: 4000 }, expect: { ok: false, status: 504, message: /did not answer within the request deadline/, breaker: 'open' }, timed: true },
  { name: 'stall mid-body', rule: { kind: 'stall', bytes: 10 }, expect: { ok: false, status: 504, message: /did not answer/, breaker: 'closed' }, timed: true },
  { name: 'slow drip 16 KB/s', rule: { kind: 'throttle', bytesPerSecond: 16 * 1024 }, expect: { ok: true } },
];

interface Cell {
  readonly row: string;
  readonly fault: string;
  readonly status: number;
  readonly xCache: string | null;
  readonly body: string;
  /** The response broke off before its end. */
  readonly aborted: boolean;
  readonly ms: number;
  readonly attempts: number;
  readonly breaker: string;
  readonly tempLeft: number;
  readonly metadataAdded: number;
  readonly nupkgLeft: number;
  readonly recheckStatus: number;
  readonly recheckXCache: string | null;
  readonly recheckEqual: boolean;
}

let upstream: FakeUpstream;
const reference = new Map<string, string>();
const cells: Cell[] = [];

/** A document as text with the proxy's origin taken out, so two proxies' answers compare equal. */
function portable(text: string, proxy: TestProxy): string {
  return text.split(proxy.url).join('{proxy}');
}

/** /readyz's breakers: per configured upstream (one: 'default'), per host. */
type ReadyzUpstreams = { upstreams: Record<string, { hosts: Record<string, { state: string }> }> };

async function breakerState(proxy: TestProxy, server: ServerName): Promise<string> {
  const body = (await (await fetch(`${proxy.url}/readyz`)).json()) as ReadyzUpstreams;
  const host = new URL(server === 'search' ? upstream.searchUrl : upstream.url).host;
  return body.upstreams[DEFAULT_UPSTREAM_NAME]?.hosts[host]?.state ?? 'closed';
}

async function get(proxy: TestProxy, path: string): Promise<{ status: number; xCache: string | null; text: string; aborted: boolean; ms: number }> {
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(proxy.url + path, { signal: AbortSignal.timeout(30_000) });
  } catch {
    // The connection broke before the response head (a streamed fill that failed at once).
    return { status: 0, xCache: null, text: '', aborted: true, ms: performance.now() - t0 };
  }
  let text = '';
  let aborted = false;
  try {
    text = await res.text();
  } catch {
    aborted = true;
  }
  return { status: res.status, xCache: res.headers.get('x-cache'), text, aborted, ms: performance.now() - t0 };
}

async function runCell(row: Row, fault: Fault): Promise<Cell> {
  const proxy = await startProxy({ ...FAST, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  try {
    if (row !== SERVICE_INDEX_ROW) assert.equal((await get(proxy, '/v3/index.json')).status, 200);
    const server = row.server ?? 'main';
    const metadataBefore = (await filesUnder(join(proxy.cacheDir, 'metadata'))).length;
    const attemptsBefore = upstream.count(row.match, { server });
    const remove = upstream.addFault({ ...fault.rule, match: row.match, server } as FaultRule);
    let answer;
    try {
      answer = await get(proxy, row.path);
    } finally {
      remove();
    }
    // A streamed response may end before its fill does (the commit, the spool's removal).
    await proxy.proxy.flat.drain();
    const attempts = upstream.count(row.match, { server }) - attemptsBefore;
    const breaker = await breakerState(proxy, server);
    const tempLeft = (await tempFiles(proxy.cacheDir)).length;
    const metadataAdded = (await filesUnder(join(proxy.cacheDir, 'metadata'))).length - metadataBefore;
    const nupkgLeft = (await filesUnder(join(proxy.cacheDir, 'packages'))).filter((f) => f.endsWith('.nupkg')).length;
    // Fault gone (and the breaker's back-off over): the next answer is the right document.
    if (breaker !== 'closed') await sleep(BREAKER_BACKOFF_MS + 100);
    const again = await get(proxy, row.path);
    return {
      row: row.name,
      fault: fault.name,
      status: answer.status,
      xCache: answer.xCache,
      body: answer.text.slice(0, 300),
      aborted: answer.aborted,
      ms: answer.ms,
      attempts,
      breaker,
      tempLeft,
      metadataAdded,
      nupkgLeft,
      recheckStatus: again.status,
      recheckXCache: again.xCache,
      recheckEqual: portable(again.text, proxy) === reference.get(row.name),
    };
  } finally {
    await proxy.dispose();
  }
}

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
  // What each resource answers on a healthy proxy.
  const proxy = await startProxy({ ...FAST, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  try {
    for (const row of [...ROWS, SERVICE_INDEX_ROW]) {
      const r = await get(proxy, row.path);
      assert.equal(r.status, 200, `${row.name}: ${r.text}`);
      reference.set(row.name, portable(r.text, proxy));
    }
  } finally {
    await proxy.dispose();
  }
});

after(async () => {
  await upstream?.stop();
});

test('every fault × every resource, nothing cached (rows in parallel, the service index row last)', async (t) => {
  await Promise.all(
    ROWS.map(async (row) => {
      for (const fault of FAULTS) cells.push(await runCell(row, fault));
    }),
  );
  for (const fault of FAULTS) cells.push(await runCell(SERVICE_INDEX_ROW, fault));
  t.diagnostic(`${cells.length} cells`);
  for (const c of cells) {
    t.diagnostic(
      `${c.fault.padEnd(26)} ${c.row.padEnd(36)} ${c.status} ${String(c.xCache ?? '-').padEnd(6)} ${String(Math.round(c.ms)).padStart(5)} ms  attempts ${c.attempts}  breaker ${c.breaker}`,
    );
  }
  assert.ok(cells.length >= 56, `${cells.length} cells`);
});

test('each cell: the expected answer within its time bound', () => {
  for (const fault of FAULTS) {
    for (const row of [...ROWS, SERVICE_INDEX_ROW]) {
      const c = cells.find((x) => x.row === row.name && x.fault === fault.name) ?? assert.fail(`${fault.name} × ${row.name} did not run`);
      const where = `${fault.name} × ${row.name}: ${c.status} ${c.body}`;
      if (fault.expect.ok) {
        assert.equal(c.status, 200, where);
        assert.equal(c.aborted, false, `${where}: broke off`);
        assert.ok(c.xCache === 'MISS', `${where} (X-Cache ${c.xCache})`);
        assert.ok(c.ms <= DEADLINE_MS + 1000 + SLACK_MS, `${where}: ${Math.round(c.ms)} ms`);
      } else if (row.fallback) {
        // Its own index, or a search over the packages it holds: a 200 that says so.
        assert.equal(c.status, 200, where);
        assert.equal(c.xCache, 'LOCAL', where);
        assert.ok(c.ms <= DEADLINE_MS + IDLE_TIMEOUT_MS + SLACK_MS, `${where}: ${Math.round(c.ms)} ms`);
      } else if (row.streamed && c.aborted) {
        // Bytes went out before the fault won: the 200 broke off (its retries, if any, were followed).
        assert.ok(c.status === 200 || c.status === 0, where);
        assert.ok(c.ms <= DEADLINE_MS + IDLE_TIMEOUT_MS + SLACK_MS, `${where}: ${Math.round(c.ms)} ms`);
        assert.equal(c.breaker, fault.expect.breaker, `${where}: breaker`);
      } else {
        assert.equal(c.aborted, false, `${where}: broke off`);
        assert.equal(c.status, fault.expect.status, where);
        assert.match(c.body, fault.expect.message, where);
        assert.ok(c.ms <= DEADLINE_MS + IDLE_TIMEOUT_MS + SLACK_MS, `${where}: ${Math.round(c.ms)} ms`);
        assert.equal(c.breaker, fault.expect.breaker, `${where}: breaker`);
      }
    }
  }
});

test('the same fault is reported the same way by every resource: status and attempts', () => {
  for (const fault of FAULTS) {
    if (fault.expect.ok) continue;
    const failing = cells.filter((c) => c.fault === fault.name && !ROWS.find((r) => r.name === c.row)?.fallback && c.row !== SERVICE_INDEX_ROW.name);
    // A streamed .nupkg that broke off has no status to compare; its attempts still are.
    assert.equal(new Set(failing.filter((c) => !c.aborted).map((c) => c.status)).size, 1, `${fault.name}: ${failing.map((c) => `${c.row} ${c.status}`).join(', ')}`);
    const attempts = failing.map((c) => c.attempts);
    if (fault.timed) {
      for (const a of attempts) assert.ok(a >= 1 && a <= 4, `${fault.name}: ${attempts.join(', ')}`);
    } else {
      assert.equal(new Set(attempts).size, 1, `${fault.name}: attempts ${failing.map((c) => `${c.row} ${c.attempts}`).join(', ')}`);
    }
  }
  // Transient faults are retried: a 503 or a cut-short body four times (1 + --upstream-retries), a reset
  // until the breaker opens (--breaker-failures).
  const attemptsOf = (fault: string) => cells.find((c) => c.fault === fault && c.row === 'versions')?.attempts;
  assert.equal(attemptsOf('503 always'), 4);
  assert.equal(attemptsOf('truncated body'), 4);
  assert.equal(attemptsOf('reset'), 3);
  assert.equal(attemptsOf('truncated once'), 2);
});

test('nothing wrong is cached and no temp file is left: once the fault is gone the next answer is right', () => {
  for (const c of cells) {
    const where = `${c.fault} × ${c.row}`;
    assert.equal(c.tempLeft, 0, `${where}: temp files left`);
    assert.equal(c.recheckStatus, 200, where);
    assert.ok(c.recheckEqual, `${where}: the answer after the fault differs from a healthy proxy's`);
    const fault = FAULTS.find((f) => f.name === c.fault);
    if (fault && !fault.expect.ok) {
      assert.equal(c.metadataAdded, 0, `${where}: a metadata object was written`);
      assert.equal(c.nupkgLeft, 0, `${where}: a package was stored`);
      if (c.row !== SERVICE_INDEX_ROW.name) assert.equal(c.recheckXCache, 'MISS', `${where}: X-Cache after the fault`);
    }
  }
});
