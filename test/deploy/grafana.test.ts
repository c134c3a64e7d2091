// The Grafana dashboard (grafana/dashboards/nuget-proxy.json) and provisioning: a stable uid, a
// ${datasource} variable, $__rate_interval in every rate, only metrics src/metrics.ts defines (and every
// one of them charted), a sane layout, and the JSON type-checks against @grafana/schema with tsc.

import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../src/metrics.ts';
import { DASHBOARD, callsOf, dashboard, exprs, metricNamesIn, panels, queryPanels, variableQueries, type Json } from './dashboard.ts';
import { REPO, run } from './tools.ts';

/** Names registered by createMetrics(), with their types; histograms also export _bucket, _sum and _count. */
async function registeredMetrics(): Promise<Map<string, string>> {
  const metrics = createMetrics();
  const json = await metrics.registry.getMetricsAsJSON();
  return new Map(json.map((m) => [m.name, String(m.type)]));
}

function resolveSeries(name: string, registered: Map<string, string>): string | null {
  if (registered.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && ['histogram', 'summary'].includes(registered.get(m[1] ?? '') ?? '')) {
    if (m[2] === 'bucket' && registered.get(m[1] ?? '') !== 'histogram') return null;
    return m[1] ?? null;
  }
  return null;
}

describe('dashboard conventions', () => {
  it('has a stable uid, a title and a schemaVersion', () => {
    assert.equal(dashboard['uid'], 'nuget-proxy');
    assert.equal(dashboard['title'], 'nuget-proxy');
    assert.equal(typeof dashboard['schemaVersion'], 'number');
    assert.equal(dashboard['id'], undefined, 'no instance-specific numeric id');
  });

  it('picks its Prometheus through a ${datasource} variable used by every panel and query', () => {
    const ds = dashboard.templating.list.find((v) => v['name'] === 'datasource') ?? assert.fail('datasource variable');
    assert.equal(ds['type'], 'datasource');
    assert.equal(ds['query'], 'prometheus');
    for (const v of dashboard.templating.list.filter((x) => x['type'] === 'query'))
      assert.deepEqual(v['datasource'], { type: 'prometheus', uid: '${datasource}' }, `variable ${String(v['name'])}`);
    assert.ok(queryPanels.length >= 20, 'panels for every topic');
    for (const p of queryPanels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel "${p.title}"`);
      assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`);
      for (const t of p.targets ?? []) assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel "${p.title}" target`);
    }
    assert.doesNotMatch(JSON.stringify(dashboard), /"uid":\s*"(?!\$\{datasource\}|-- Grafana --|nuget-proxy")[^"]*"/, 'no hard-coded datasource uid');
  });

  it('uses $__rate_interval in every rate and only $__rate_interval or $__range as a range', () => {
    let rates = 0;
    for (const e of exprs) {
      for (const body of [...callsOf(e, 'rate'), ...callsOf(e, 'irate')]) {
        rates++;
        assert.match(body, /\[\$__rate_interval\]$/, `rate window in: ${e}`);
      }
      for (const body of callsOf(e, 'increase')) assert.match(body, /\[(\$__rate_interval|\$__range)\]$/, `increase window in: ${e}`);
      for (const m of e.matchAll(/\[([^\]]*)\]/g)) assert.ok(['$__rate_interval', '$__range'].includes(m[1] ?? ''), `range [${m[1]}] in: ${e}`);
    }
    assert.ok(rates >= 20, `rate() queries: ${rates}`);
  });

  it('filters every series by the $job and $instance variables', () => {
    for (const e of exprs) {
      for (const m of e.matchAll(/\bnuget_proxy_[A-Za-z0-9_]+(\{[^}]*\})?/g))
        assert.match(m[1] ?? '', /job=~"\$job", instance=~"\$instance"/, `selector of ${m[0]} in: ${e}`);
    }
  });

  it('lays panels out on the 24-column grid without overlaps, with unique ids', () => {
    const ids = new Set<number>();
    const cells = new Set<string>();
    for (const p of panels) {
      assert.ok(!ids.has(p.id), `duplicate panel id ${p.id}`);
      ids.add(p.id);
      const { x, y, w, h } = p.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0 && y >= 0, `"${p.title}" gridPos ${JSON.stringify(p.gridPos)}`);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          assert.ok(!cells.has(cell), `"${p.title}" overlaps another panel at ${cell}`);
          cells.add(cell);
        }
      }
    }
  });
});

describe('dashboard metrics are the ones src/metrics.ts defines', () => {
  it('queries only registered metrics (histogram series resolved to their histogram)', async () => {
    const registered = await registeredMetrics();
    const used = new Set<string>();
    for (const e of [...exprs, ...variableQueries]) {
      const names = metricNamesIn(e);
      for (const name of names) {
        const base = resolveSeries(name, registered);
        assert.ok(base, `${name} is not defined by createMetrics() (query: ${e})`);
        used.add(base);
      }
    }
    assert.ok(used.size >= 20, `metrics used: ${[...used].join(', ')}`);
  });

  it('charts every metric the proxy defines itself', async () => {
    const own = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name);
    const registered = await registeredMetrics();
    const used = new Set(exprs.flatMap(metricNamesIn).map((n) => resolveSeries(n, registered)));
    for (const name of own) assert.ok(used.has(name), `${name} is on no panel`);
  });

  it('are all documented in the metrics reference (docs/observability.md)', async () => {
    const own = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name);
    const docs = await Promise.all(['docs/observability.md'].map((f) => readFile(join(REPO, f), 'utf8').catch(() => '')));
    const missing = (text: string) => own.filter((name) => !text.includes(`| \`${name}\` |`));
    assert.ok(docs.some((text) => missing(text).length === 0), `metrics missing from the reference table: ${missing(docs[0] ?? '').join(', ')}`);
  });

  it('has the panels operators look for', () => {
    const has = (re: RegExp, what: string) => assert.ok(exprs.some((e) => re.test(e)), what);
    has(/sum by \(route\) \(rate\(nuget_proxy_http_requests_total/, 'requests by route');
    has(/sum by \(status\) \(rate\(nuget_proxy_http_requests_total/, 'requests by status');
    has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(nuget_proxy_http_request_duration_seconds_bucket/, 'latency percentiles');
    has(/sum by \(resource\) \(rate\(nuget_proxy_cache_lookups_total\{[^}]*result=~"hit[^}]*\}\[\$__rate_interval\]\)\) \/ sum by \(resource\)/, 'cache hit ratio by resource');
    has(/sum by \(outcome\) \(rate\(nuget_proxy_upstream_requests_total/, 'upstream requests by outcome');
    has(/histogram_quantile\([^,]+, sum by \(le[^)]*\) \(rate\(nuget_proxy_upstream_request_duration_seconds_bucket/, 'upstream latency');
    has(/nuget_proxy_upstream_retries_total/, 'retries');
    has(/sum by \(source\) \(rate\(nuget_proxy_served_bytes_total/, 'bytes served from cache vs upstream');
    has(/nuget_proxy_upstream_bytes_total/, 'bytes fetched from upstream');
    has(/nuget_proxy_cache_blobs\{/, 'packages on disk');
    has(/nuget_proxy_cache_blob_bytes\{/, 'disk usage');
    has(/by \(upstream\) \(nuget_proxy_upstream_breaker_state/, 'breaker state per upstream');
    has(/nuget_proxy_redis_up/, 'Redis up');
    has(/nuget_proxy_stale_served_total/, 'stale served');
  });

  it('finds metric names in PromQL the way the checks above assume', () => {
    assert.deepEqual(metricNamesIn('histogram_quantile(0.5, sum by (le) (rate(nuget_proxy_x_bucket{a="b"}[5m]))) / nuget_proxy_y'), ['nuget_proxy_x_bucket', 'nuget_proxy_y']);
    const registered = new Map([['nuget_proxy_h', 'histogram'], ['nuget_proxy_c_total', 'counter']]);
    assert.equal(resolveSeries('nuget_proxy_h_bucket', registered), 'nuget_proxy_h');
    assert.equal(resolveSeries('nuget_proxy_c_total', registered), 'nuget_proxy_c_total');
    assert.equal(resolveSeries('nuget_proxy_c_total_bucket', registered), null);
    assert.equal(resolveSeries('nuget_proxy_nope', registered), null);
    assert.deepEqual(callsOf('sum(rate(a[1m])) + rate(b{c="(d)"}[2m])', 'rate'), ['a[1m]', 'b{c="(d)"}[2m]']);
  });
});

describe('dashboard JSON type-checks against @grafana/schema', () => {
  it('compiles test/deploy/dashboard-types.ts with tsc', async () => {
    const r = await run(join(REPO, 'node_modules/.bin/tsc'), ['-p', 'test/deploy/tsconfig.dashboard.json'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('the type check rejects a wrong field type, a misspelled key and a missing required field', async () => {
    const dir = join(REPO, '.tmp', `dashboard-mutants-${process.pid}`);
    await mkdir(dir, { recursive: true });
    try {
      const original = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Json & { panels: Json[] };
      const mutants: Record<string, (d: Json & { panels: Json[] }) => void> = {
        'wrong-type': (d) => void (d['schemaVersion'] = '39'),
        'misspelled-key': (d) => {
          const p = d.panels[1] as Json;
          p['gridPosition'] = p['gridPos'];
          delete p['gridPos'];
        },
        'missing-required': (d) => void delete (d.panels[1] as Json)['type'],
      };
      for (const [name, mutate] of Object.entries(mutants)) {
        const d = structuredClone(original);
        mutate(d);
        await writeFile(join(dir, `${name}.json`), JSON.stringify(d));
        await writeFile(
          join(dir, `${name}.ts`),
          [
            "import type { Dashboard } from '@grafana/schema';",
            "import type { NoUnknownKeys, Widen } from '../../test/deploy/grafana-schema.ts';",
            `import json from './${name}.json' with { type: 'json' };`,
            'export const dashboard: Widen<Dashboard> = json;',
            'export const knownKeysOnly: NoUnknownKeys<typeof json, Dashboard> = json;',
            '',
          ].join('\n'),
        );
      }
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '../..' }, include: ['*.ts'] }),
      );
      const r = await run(join(REPO, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { timeoutMs: 120_000 });
      assert.notEqual(r.code, 0);
      for (const name of Object.keys(mutants)) assert.match(r.stdout, new RegExp(`${name}\\.ts\\(\\d+,\\d+\\): error`), `${name} is rejected:\n${r.stdout}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana provisioning', () => {
  it('provisions a Prometheus datasource and a file provider for the dashboards folder compose mounts', async () => {
    const ds = parseYaml(await readFile(join(REPO, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: Json[] };
    assert.equal(ds.datasources.length, 1);
    assert.equal(ds.datasources[0]?.['type'], 'prometheus');
    assert.equal(ds.datasources[0]?.['url'], 'http://prometheus:9090');
    const providers = parseYaml(await readFile(join(REPO, 'grafana/provisioning/dashboards/nuget-proxy.yaml'), 'utf8')) as { providers: Json[] };
    const path = (providers.providers[0]?.['options'] as Json)['path'];
    const compose = parseYaml(await readFile(join(REPO, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { volumes?: string[] }> };
    const mounts = compose.services['grafana']?.volumes ?? [];
    assert.ok(mounts.includes(`./grafana/dashboards:${String(path)}:ro`), `compose mounts the dashboards at ${String(path)}: ${mounts.join(', ')}`);
    assert.ok(mounts.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'));
  });
});
