// The alerts (prometheus/alerts.yml): `promtool check rules`; `promtool test rules` on the synthetic series
// of prometheus/alerts.test.yml, which fails when a threshold or guard changes; only metrics src/metrics.ts
// defines; and the chart's PrometheusRule carries exactly the same rules (no drift between the two).

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createMetrics } from '../../src/metrics.ts';
import { metricNamesIn } from './dashboard.ts';
import { CHART, REPO, renderChart, run, type K8sObject } from './tools.ts';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

const ALERTS = join(REPO, 'prometheus/alerts.yml');
const ALERTS_TEST = join(REPO, 'prometheus/alerts.test.yml');
const CHART_COPY = join(CHART, 'files/alerts.yml');
const alerts = parseYaml(await readFile(ALERTS, 'utf8')) as RuleFile;
const rules = alerts.groups.flatMap((g) => g.rules);

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'nuget-proxy-alerts-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** alerts.yml and alerts.test.yml copied to a temp folder, alerts.yml changed by `edit`; promtool's verdict. */
async function testMutated(name: string, edit: (text: string) => string) {
  const dir = await mkdtemp(join(scratch, `${name}-`));
  const original = await readFile(ALERTS, 'utf8');
  const mutated = edit(original);
  assert.notEqual(mutated, original, `${name}: the edit changes alerts.yml`);
  await writeFile(join(dir, 'alerts.yml'), mutated);
  await cp(ALERTS_TEST, join(dir, 'alerts.test.yml'));
  return run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
}

describe('prometheus/alerts.yml', () => {
  it('passes promtool check rules', async () => {
    const r = await run('promtool', ['check', 'rules', ALERTS]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('covers upstream breaker open, 5xx ratio, fill failures, storage near quota, Redis down and a cache that cannot be written; each with severity, summary and description', () => {
    assert.deepEqual(rules.map((r) => r.alert), [
      'NuGetProxyUpstreamBreakerOpen',
      'NuGetProxyHighErrorRatio',
      'NuGetProxyFillFailures',
      'NuGetProxyStorageNearQuota',
      'NuGetProxyRedisDown',
      'NuGetProxyCacheNotWritable',
    ]);
    const uses = (alert: string, metric: string) => assert.ok(rules.find((r) => r.alert === alert)?.expr.includes(metric), `${alert} uses ${metric}`);
    uses('NuGetProxyUpstreamBreakerOpen', 'nuget_proxy_upstream_breaker_state');
    uses('NuGetProxyHighErrorRatio', 'nuget_proxy_http_requests_total{status=~"5..",');
    uses('NuGetProxyFillFailures', 'nuget_proxy_blob_fills_total{result=~"error|invalid"}');
    uses('NuGetProxyStorageNearQuota', '(nuget_proxy_storage_quota_bytes > 0)');
    uses('NuGetProxyRedisDown', 'nuget_proxy_redis_up');
    uses('NuGetProxyCacheNotWritable', 'nuget_proxy_storage_errors_total[2m]');
    for (const r of rules) {
      assert.match(r.labels?.['severity'] ?? '', /^(warning|critical)$/, `${r.alert} severity`);
      assert.ok(r.annotations?.['summary'] && r.annotations['description'], `${r.alert} summary and description`);
      assert.doesNotMatch(r.expr, /\bjob=/, `${r.alert}: no job matcher (the job name depends on the scrape configuration)`);
    }
  });


  it('names only metrics src/metrics.ts defines', async () => {
    const defined = new Map((await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    const used = new Set(rules.flatMap((r) => metricNamesIn(r.expr)));
    assert.ok(used.size >= 6, [...used].join(', '));
    for (const name of used) {
      assert.ok(defined.has(name), `${name} is not defined by src/metrics.ts`);
    }
    assert.equal(defined.get('nuget_proxy_upstream_breaker_state'), 'gauge');
    assert.equal(defined.get('nuget_proxy_redis_up'), 'gauge');
  });
});

describe('promtool test rules prometheus/alerts.test.yml (synthetic series)', () => {
  it('passes', async () => {
    const r = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: join(REPO, 'prometheus') });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('tests every alert, firing and not firing', async () => {
    const spec = parseYaml(await readFile(ALERTS_TEST, 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const cases = spec.tests.flatMap((t) => t.alert_rule_test);
    for (const r of rules) {
      assert.ok(cases.some((c) => c.alertname === r.alert && c.exp_alerts.length > 0), `${r.alert}: a case where it fires`);
      assert.ok(cases.some((c) => c.alertname === r.alert && c.exp_alerts.length === 0), `${r.alert}: a case where it does not`);
    }
  });

  it('fails when a threshold, a guard or a duration changes', async () => {
    const mutations: Array<[string, (t: string) => string, RegExp]> = [
      ['quota-threshold', (t) => t.replace('> 0.95', '> 0.98'), /NuGetProxyStorageNearQuota/],
      ['quota-guard', (t) => t.replace('(nuget_proxy_storage_quota_bytes > 0)', 'nuget_proxy_storage_quota_bytes'), /NuGetProxyStorageNearQuota/],
      ['probes-counted', (t) => t.replaceAll(', route!~"/healthz|/readyz|/metrics"', '').replaceAll('{route!~"/healthz|/readyz|/metrics"}', ''), /NuGetProxyHighErrorRatio/],
      ['half-open-ignored', (t) => t.replace('(nuget_proxy_upstream_breaker_state) > 0', '(nuget_proxy_upstream_breaker_state) == 1'), /NuGetProxyUpstreamBreakerOpen/],
      ['not-found-counted', (t) => t.replace('result=~"error|invalid"', 'result=~"error|invalid|not_found"'), /NuGetProxyFillFailures/],
      ['redis-for', (t) => t.replace(/(nuget_proxy_redis_up == 0\n\s+for: )2m/, '$15m'), /NuGetProxyRedisDown/],
      ['storage-window', (t) => t.replace('nuget_proxy_storage_errors_total[2m]', 'nuget_proxy_storage_errors_total[10m]'), /NuGetProxyCacheNotWritable/],
    ];
    for (const [name, edit, failing] of mutations) {
      const r = await testMutated(name, edit);
      assert.notEqual(r.code, 0, `${name}: promtool test rules must fail:\n${r.stdout}`);
      assert.match(r.stdout + r.stderr, failing, `${name}: the failure names the alert`);
    }
  });
});

describe('the chart\'s PrometheusRule', () => {
  const prometheusRule = (objs: K8sObject[]): K8sObject => {
    const found = objs.filter((o) => o.kind === 'PrometheusRule');
    assert.equal(found.length, 1);
    return found[0] as K8sObject;
  };

  it('is opt-in', async () => {
    assert.equal((await renderChart()).filter((o) => o.kind === 'PrometheusRule').length, 0);
  });

  it('ships a byte-identical copy of prometheus/alerts.yml (cp prometheus/alerts.yml helm/nuget-proxy/files/alerts.yml)', async () => {
    assert.equal(await readFile(CHART_COPY, 'utf8'), await readFile(ALERTS, 'utf8'));
  });

  it('renders exactly the groups and rules of prometheus/alerts.yml', async () => {
    const rule = prometheusRule(await renderChart([], ['prometheusRule.enabled=true']));
    assert.deepEqual((rule['spec'] as RuleFile).groups, alerts.groups);
  });

  it('adds ruleLabels to every alert (an alert\'s own severity wins) and labels the object; promtool accepts the result', async () => {
    const rule = prometheusRule(await renderChart([], ['prometheusRule.enabled=true', 'prometheusRule.labels.release=kps', 'prometheusRule.ruleLabels.team=platform', 'prometheusRule.ruleLabels.severity=page']));
    assert.equal(rule.metadata.labels?.['release'], 'kps');
    const groups = (rule['spec'] as RuleFile).groups;
    const rendered = groups.flatMap((g) => g.rules);
    assert.equal(rendered.length, rules.length);
    for (const [i, r] of rendered.entries()) {
      assert.deepEqual(r.labels, { ...rules[i]?.labels, team: 'platform' }, r.alert);
      assert.equal(r.expr, rules[i]?.expr);
    }
    const file = join(scratch, 'rendered-rules.yml');
    await writeFile(file, stringifyYaml({ groups }));
    const r = await run('promtool', ['check', 'rules', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

describe('docker compose wiring', () => {
  it('prometheus/prometheus.yml loads alerts.yml, which compose mounts beside it', async () => {
    const prom = parseYaml(await readFile(join(REPO, 'prometheus/prometheus.yml'), 'utf8')) as { rule_files?: string[] };
    assert.deepEqual(prom.rule_files, ['alerts.yml']);
    const compose = parseYaml(await readFile(join(REPO, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { volumes?: string[] }> };
    const volumes = compose.services['prometheus']?.volumes ?? [];
    assert.ok(volumes.includes('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
    assert.ok(volumes.includes('./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro'), 'alerts.yml next to prometheus.yml in the container');
    const r = await run('promtool', ['check', 'config', join(REPO, 'prometheus/prometheus.yml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 1 rule files found/);
  });
});
