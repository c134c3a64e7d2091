// Prometheus against a real running proxy: `promtool check metrics` on a real /metrics scrape, and a real
// Prometheus server (127.0.0.1, 1 s scrapes) that stores the proxy's series, evaluates every query of the
// Grafana dashboard and every rule of prometheus/alerts.yml.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMetrics } from '../../src/metrics.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';
import { freePort } from '../helpers/redis.ts';
import { exprs, queryPanels, variableQueries } from './dashboard.ts';
import { REPO, run, startProcess, waitFor } from './tools.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;
let scratch: string;

/** Requests that make every labelled series of the proxy exist: hits, misses, 404s, a package, search. */
async function makeTraffic(p: TestProxy): Promise<void> {
  const paths = [
    '/v3/index.json',
    '/v3/flatcontainer/contoso.paged/index.json',
    '/v3/flatcontainer/contoso.paged/index.json',
    '/v3/flatcontainer/contoso.paged/1.0.1/contoso.paged.1.0.1.nupkg',
    '/v3/flatcontainer/contoso.paged/1.0.1/contoso.paged.1.0.1.nupkg',
    '/v3/flatcontainer/contoso.doesnotexist/index.json',
    '/v3/registration/semver2/contoso.paged/index.json',
    '/v3/search/query?q=contoso&take=5',
    '/v3/vulnerabilities/index.json',
    '/healthz',
  ];
  for (const path of paths) {
    const res = await fetch(p.url + path);
    await res.arrayBuffer();
    assert.ok(res.status < 500, `${path}: ${res.status}`);
  }
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'nuget-proxy-prometheus-'));
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  await makeTraffic(proxy);
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('promtool check metrics', () => {
  it('passes on a real /metrics scrape of a proxy that has served traffic', async () => {
    const res = await fetch(`${proxy.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const series of ['nuget_proxy_http_requests_total{', 'nuget_proxy_cache_lookups_total{', 'nuget_proxy_upstream_requests_total{', 'nuget_proxy_served_bytes_total{'])
      assert.ok(text.includes(series), `labelled series ${series} exists`);
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    assert.equal(r.code, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });

  it('exports nuget_proxy_redis_up only when Redis is configured (so NuGetProxyRedisDown cannot fire without Redis)', async () => {
    assert.equal(proxy.config.redisUrl, null, 'this proxy runs without Redis');
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    const lines = text.split('\n').filter((l) => l.startsWith('nuget_proxy_redis_up'));
    assert.deepEqual(lines, [], 'a proxy without Redis reports no Redis state (README: "absent without Redis")');
  });

  it('promtool does lint: it rejects a counter without _total', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: '# HELP nuget_proxy_bad A counter.\n# TYPE nuget_proxy_bad counter\nnuget_proxy_bad 1\n' });
    assert.equal(r.code, 3, r.stdout + r.stderr);
  });

  it('with the default Node.js metrics on (as `serve` runs), the scrape is lint-clean too', async () => {
    const text = await createMetrics().registry.metrics();
    assert.match(text, /nuget_proxy_process_cpu_seconds_total/, 'default metrics are on');
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    assert.equal(r.code, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });
});

describe('a real Prometheus server scraping the proxy', () => {
  let prometheus: ReturnType<typeof startProcess>;
  let api: string;

  before(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const config = join(scratch, 'prometheus.yml');
    await writeFile(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(join(REPO, 'prometheus/alerts.yml'))}`,
        'scrape_configs:',
        '  - job_name: nuget-proxy',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ["${new URL(proxy.url).host}"]`,
        '',
      ].join('\n'),
    );
    const check = await run('promtool', ['check', 'config', config]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    prometheus = startProcess('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(scratch, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { cwd: scratch });
    prometheus.child.once('error', (err) => assert.fail(`prometheus: ${err.message}`));
  });

  after(async () => {
    const code = await prometheus?.stop();
    assert.ok(code === 0 || code === null, `prometheus exited with ${code}:\n${prometheus?.output()}`);
  });

  async function query(expr: string): Promise<{ status: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }; error?: string }> {
    const res = await fetch(`${api}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await res.json()) as never;
  }

  it('stores nuget_proxy_http_requests_total within 30 s', async () => {
    const result = await waitFor('nuget_proxy_http_requests_total in Prometheus', 30_000, async () => {
      if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited:\n${prometheus.output()}`);
      const r = await query('sum(nuget_proxy_http_requests_total{job="nuget-proxy"})');
      return r.status === 'success' && r.data.result.length > 0 ? r.data.result : undefined;
    });
    assert.ok(Number(result[0]?.value[1]) >= 10, `requests counted: ${result[0]?.value[1]}`);
    const up = await query('up{job="nuget-proxy"}');
    assert.equal(up.data.result[0]?.value[1], '1');
  });

  it('evaluates every dashboard query without error, and the core panels have data', async () => {
    // Grafana's variables as Grafana would expand them for a 1-minute view.
    const expand = (e: string) =>
      e.replaceAll('$__rate_interval', '15s').replaceAll('$__range', '1m').replaceAll('"$job"', '".+"').replaceAll('"$instance"', '".+"');
    // Two scrapes after fresh traffic, so rate() over 15 s has samples to work with.
    await makeTraffic(proxy);
    await new Promise((r) => setTimeout(r, 2500));
    await makeTraffic(proxy);
    await new Promise((r) => setTimeout(r, 2500));
    const empty: string[] = [];
    for (const panel of queryPanels) {
      for (const t of panel.targets ?? []) {
        const r = await query(expand(t.expr));
        assert.equal(r.status, 'success', `"${panel.title}": ${t.expr}\n${r.error ?? ''}`);
        if (r.data.result.length === 0) empty.push(panel.title);
      }
    }
    assert.equal(exprs.length, queryPanels.reduce((n, p) => n + (p.targets ?? []).length, 0));
    const mustHaveData = ['Requests / s', 'Requests by route', 'Requests by status', 'Latency percentiles', 'Cache hit ratio by resource', 'Cache lookups by result', 'Bytes served: cache vs upstream', 'Upstream requests by outcome', 'Upstream latency', 'Circuit breaker per upstream', 'Packages on disk', 'Disk usage'];
    for (const title of mustHaveData) {
      assert.ok(queryPanels.some((p) => p.title === title), `panel "${title}" exists`);
      assert.ok(!empty.includes(title), `panel "${title}" has no data; empty panels: ${empty.join(', ')}`);
    }
  });

  it('evaluates every alert rule without error, and none fires or pends for a healthy proxy', async () => {
    type RuleState = { name: string; health: string; lastError?: string; state: string; lastEvaluation: string };
    const rules = await waitFor('every alert rule evaluated', 30_000, async () => {
      const res = await fetch(`${api}/api/v1/rules?type=alert`);
      const body = (await res.json()) as { data: { groups: Array<{ file: string; rules: RuleState[] }> } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith('0001-')) ? all : undefined;
    });
    assert.equal(rules.length, 6, rules.map((r) => r.name).join(', '));
    for (const r of rules) {
      assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
      assert.equal(r.state, 'inactive', `${r.name} is ${r.state} for a healthy proxy`);
    }
  });

  it('answers the dashboard\'s job and instance variable queries', async () => {
    assert.equal(variableQueries.length, 2);
    const values = async (label: string) => {
      const res = await fetch(`${api}/api/v1/label/${label}/values?${new URLSearchParams({ 'match[]': 'nuget_proxy_http_requests_total' })}`);
      return ((await res.json()) as { data: string[] }).data;
    };
    assert.deepEqual(await values('job'), ['nuget-proxy']);
    assert.deepEqual(await values('instance'), [new URL(proxy.url).host]);
  });
});

describe('prometheus/prometheus.yml (docker-compose)', () => {
  it('passes promtool check config', async () => {
    const r = await run('promtool', ['check', 'config', join(REPO, 'prometheus/prometheus.yml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});
