// The Helm chart (helm/nuget-proxy): `helm lint --strict`; every values file in ci/ renders, every object
// validates against the Kubernetes schemas, the pods are restricted and the proxy accepts the rendered
// configuration; every file in ci-invalid/ is refused with its expected message; values.schema.json
// agrees with src/config.ts and stays strict around the extension points; NOTES.txt gives a nuget.config
// a real client reads; the `helm test` and bundle download scripts work against real servers, and a CA
// mounted through extraVolumes lets a real proxy process reach an https upstream signed by it.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { parse as parseYaml } from 'yaml';
import { OPTIONS, envName, parseConfig, type Command } from '../../src/config.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';
import { freePort } from '../helpers/redis.ts';
import { createSelfSignedCertificate } from '../helpers/tls.ts';
import { CHART, REPO, helm, parseManifests, renderChart, run, startProcess, waitFor, yamlFilesIn, type K8sObject } from './tools.ts';

type Json = Record<string, unknown>;
type Container = Json & { name: string; args?: string[]; command?: string[]; env?: Json[]; envFrom?: Json[]; volumeMounts?: Json[] };
type PodSpec = Json & { containers: Container[]; initContainers?: Container[]; volumes?: Json[]; securityContext?: Json };

const CI = join(CHART, 'ci');
const CI_INVALID = join(CHART, 'ci-invalid');

function ofKind(objs: readonly K8sObject[], kind: string): K8sObject[] {
  return objs.filter((o) => o.kind === kind);
}

function one(objs: readonly K8sObject[], kind: string): K8sObject {
  const found = ofKind(objs, kind);
  assert.equal(found.length, 1, `exactly one ${kind}, got ${found.length}`);
  return found[0] as K8sObject;
}

function get<T>(obj: unknown, path: string): T {
  let cur: unknown = obj;
  for (const key of path.split('.')) cur = (cur as Json | undefined)?.[key];
  return cur as T;
}

function deploymentPod(objs: readonly K8sObject[]): { labels: Record<string, string>; annotations: Record<string, string>; spec: PodSpec } {
  const d = one(objs, 'Deployment');
  return { labels: get(d, 'spec.template.metadata.labels'), annotations: get(d, 'spec.template.metadata.annotations'), spec: get(d, 'spec.template.spec') };
}

/** Every pod spec the chart renders: the Deployment's, the import Job's and the `helm test` pod's. */
function podSpecs(objs: readonly K8sObject[]): Array<{ owner: string; labels: Record<string, string>; spec: PodSpec }> {
  const out: Array<{ owner: string; labels: Record<string, string>; spec: PodSpec }> = [];
  for (const o of objs) {
    if (o.kind === 'Deployment' || o.kind === 'Job')
      out.push({ owner: `${o.kind}/${o.metadata.name}`, labels: get(o, 'spec.template.metadata.labels'), spec: get(o, 'spec.template.spec') });
    if (o.kind === 'Pod') out.push({ owner: `Pod/${o.metadata.name}`, labels: o.metadata.labels ?? {}, spec: o['spec'] as PodSpec });
  }
  return out;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** PrometheusRule is a CRD too: its shape by hand (promtool checks the rules themselves, test/deploy/alerts.test.ts). */
function validatePrometheusRule(o: K8sObject): void {
  assert.equal(o.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(Object.keys(o['spec'] as Json), ['groups']);
  const groups = get<Json[]>(o, 'spec.groups');
  assert.ok(Array.isArray(groups) && groups.length > 0, 'PrometheusRule spec.groups');
  for (const g of groups) {
    assert.equal(typeof g['name'], 'string');
    for (const r of g['rules'] as Json[]) {
      for (const k of Object.keys(r)) assert.ok(['alert', 'expr', 'for', 'labels', 'annotations'].includes(k), `unexpected rule field ${k}`);
      assert.match(String(r['alert']), /^[A-Za-z][A-Za-z0-9]*$/);
      assert.equal(typeof r['expr'], 'string');
      for (const v of Object.values({ ...(r['labels'] as Json), ...(r['annotations'] as Json) })) assert.equal(typeof v, 'string');
    }
  }
}

/** ServiceMonitor is a CRD the Kubernetes schemas do not know: its basic shape, checked by hand. */
function validateServiceMonitor(o: K8sObject): void {
  assert.equal(o.apiVersion, 'monitoring.coreos.com/v1');
  const spec = o['spec'] as Json;
  assert.equal(typeof get(spec, 'selector.matchLabels'), 'object', 'ServiceMonitor spec.selector.matchLabels');
  const endpoints = spec['endpoints'] as Json[];
  assert.ok(Array.isArray(endpoints) && endpoints.length > 0, 'ServiceMonitor spec.endpoints');
  for (const e of endpoints) {
    assert.equal(typeof e['port'], 'string', 'endpoint.port names a Service port');
    assert.equal(e['path'], '/metrics');
    for (const k of ['interval', 'scrapeTimeout']) if (e[k] !== undefined) assert.match(String(e[k]), /^[0-9]+(ms|s|m|h)$/, k);
  }
  const allowed = new Set(['selector', 'namespaceSelector', 'endpoints', 'jobLabel', 'targetLabels', 'podTargetLabels', 'sampleLimit']);
  for (const k of Object.keys(spec)) assert.ok(allowed.has(k), `unexpected ServiceMonitor spec.${k}`);
}

async function validateObject(o: K8sObject): Promise<void> {
  assert.equal(typeof o.metadata?.name, 'string', `${o.kind} has a name`);
  if (o.kind === 'ServiceMonitor') return validateServiceMonitor(o);
  if (o.kind === 'PrometheusRule') return validatePrometheusRule(o);
  const mod = (await import(`kubernetes-models/${o.apiVersion}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Cls = mod[o.kind];
  assert.ok(Cls, `kubernetes-models knows ${o.apiVersion} ${o.kind}`);
  new Cls(o).validate();
}

/**
 * The environment a container of the chart starts with: its ConfigMap and Secret (envFrom), its env
 * entries; keys of an existingSecret (not rendered) get placeholders, ConfigMaps of the user's envFrom are
 * skipped (their content is not known). The CA file is written to a temp file.
 */
function containerEnv(objs: readonly K8sObject[], c: Container, caDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  const secretPlaceholders: Record<string, string> = { NUGET_PROXY_REDIS_URL: 'redis://:placeholder@redis:6379/0' };
  const configMap = (name: string) => ofKind(objs, 'ConfigMap').find((o) => o.metadata.name === name);
  const secret = (name: string) => ofKind(objs, 'Secret').find((o) => o.metadata.name === name);
  for (const from of c.envFrom ?? []) {
    const cm = get<string | undefined>(from, 'configMapRef.name');
    const sec = get<string | undefined>(from, 'secretRef.name');
    if (cm === 'r-nuget-proxy') Object.assign(env, configMap(cm)?.['data'] ?? assert.fail(`ConfigMap ${cm} is not rendered`));
    else if (cm) assert.equal(configMap(cm), undefined, `a user ConfigMap ${cm} is not the chart's`);
    if (sec) Object.assign(env, secret(sec)?.['stringData'] ?? {});
  }
  for (const e of c.env ?? []) {
    const name = String(e['name']);
    if (typeof e['value'] === 'string') env[name] = e['value'];
    const ref = get<{ name: string; key: string } | undefined>(e, 'valueFrom.secretKeyRef');
    if (ref) {
      const rendered = secret(ref.name);
      env[name] = rendered
        ? (get<string | undefined>(rendered, `stringData.${ref.key}`) ?? assert.fail(`Secret ${ref.name} lacks key ${ref.key}`))
        : (secretPlaceholders[ref.key] ?? `placeholder-${ref.key}`);
    }
  }
  if (env['NUGET_PROXY_UPSTREAM_CA_FILE']) {
    const caMap = ofKind(objs, 'ConfigMap').find((o) => o.metadata.name.endsWith('-upstream-ca'));
    const pem = get<Record<string, string>>(caMap, 'data')['upstream-ca.pem'] ?? '';
    assert.match(pem, /BEGIN CERTIFICATE/);
    const file = join(caDir, 'upstream-ca.pem');
    writeFileSync(file, pem);
    env['NUGET_PROXY_UPSTREAM_CA_FILE'] = file;
  }
  if (env['NUGET_PROXY_CONFIG']) {
    const fileMap = ofKind(objs, 'ConfigMap').find((o) => o.metadata.name.endsWith('-config-file'));
    const text = get<Record<string, string>>(fileMap, 'data')['config.yaml'] ?? assert.fail('the configuration file ConfigMap is not rendered');
    const file = join(caDir, 'config.yaml');
    writeFileSync(file, text);
    env['NUGET_PROXY_CONFIG'] = file;
  }
  return env;
}

const rendered = new Map<string, K8sObject[]>();
let caDir: string;

before(async () => {
  caDir = await mkdtemp(join(tmpdir(), 'nuget-proxy-chart-ca-'));
  for (const file of await yamlFilesIn(CI)) rendered.set(basename(file), await renderChart([file]));
});

after(async () => {
  await rm(caDir, { recursive: true, force: true });
});

describe('helm lint', () => {
  it('passes --strict with the defaults and with every ci/ values file', async () => {
    const files = await yamlFilesIn(CI);
    assert.ok(files.length >= 7, 'ci/ covers the deployment shapes');
    for (const f of [null, ...files]) {
      const r = await helm(['lint', '--strict', CHART, ...(f ? ['-f', f] : [])]);
      assert.equal(r.code, 0, `helm lint --strict ${f ?? '(defaults)'}:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });
});

describe('every ci/ values file renders valid, restricted manifests', () => {
  it('validates every rendered object against the Kubernetes schemas (kubernetes-models)', async () => {
    for (const [file, objs] of rendered) {
      for (const o of objs) {
        await validateObject(o).catch((err: Error) => assert.fail(`${file}: ${o.kind}/${o.metadata.name}: ${err.message}`));
      }
    }
  });

  it('the validator itself rejects a broken object', async () => {
    const objs = rendered.get('default-values.yaml') ?? assert.fail('default-values.yaml');
    const d = structuredClone(one(objs, 'Deployment'));
    (d['spec'] as Json)['replicas'] = 'three';
    await assert.rejects(validateObject(d));
    const sm = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: { matchLabels: {} }, endpoints: [{ port: 'http', path: '/metrics', intervall: '1m' }], endpoint: [] } };
    await assert.rejects(validateObject(sm as unknown as K8sObject));
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp', () => {
    for (const [file, objs] of rendered) {
      const pods = podSpecs(objs);
      assert.ok(pods.some((p) => p.owner.startsWith('Deployment/')), `${file}: a Deployment`);
      for (const { owner, spec } of pods) {
        const where = `${file} ${owner}`;
        assert.equal(get(spec, 'securityContext.runAsNonRoot'), true, `${where}: pod runAsNonRoot`);
        assert.equal(get(spec, 'securityContext.seccompProfile.type'), 'RuntimeDefault', `${where}: pod seccomp`);
        assert.equal(spec['automountServiceAccountToken'], false, `${where}: no service account token`);
        // A Service named nuget-proxy would otherwise inject NUGET_PROXY_PORT=tcp://… and friends.
        assert.equal(spec['enableServiceLinks'], false, `${where}: enableServiceLinks`);
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const sc = (c['securityContext'] ?? {}) as Json;
          assert.equal(sc['runAsNonRoot'], true, `${where} ${c.name}: runAsNonRoot`);
          assert.equal(sc['readOnlyRootFilesystem'], true, `${where} ${c.name}: readOnlyRootFilesystem`);
          assert.equal(sc['allowPrivilegeEscalation'], false, `${where} ${c.name}: allowPrivilegeEscalation`);
          assert.deepEqual(get(sc, 'capabilities.drop'), ['ALL'], `${where} ${c.name}: drop ALL`);
          assert.equal(get(sc, 'seccompProfile.type'), 'RuntimeDefault', `${where} ${c.name}: seccomp`);
        }
      }
    }
  });

  it('gives the proxy its cache volume at /data, an emptyDir /tmp, probes on /healthz and /readyz, and a config checksum', () => {
    for (const [file, objs] of rendered) {
      const { spec, annotations } = deploymentPod(objs);
      const proxy = spec.containers.find((c) => c.name === 'nuget-proxy') ?? assert.fail(`${file}: nuget-proxy container`);
      assert.deepEqual(proxy.args, ['serve'], file);
      const mounts = new Map((proxy.volumeMounts ?? []).map((m) => [m['mountPath'], m['name']]));
      const volumes = new Map((spec.volumes ?? []).map((v) => [v['name'], v]));
      const cache = volumes.get(mounts.get('/data')) ?? assert.fail(`${file}: a volume at /data`);
      assert.ok(cache['persistentVolumeClaim'] || cache['emptyDir'] || cache['ephemeral'], `${file}: /data is a PVC, emptyDir or ephemeral volume`);
      assert.ok(volumes.get(mounts.get('/tmp'))?.['emptyDir'], `${file}: /tmp is an emptyDir`);
      assert.equal(get(proxy, 'livenessProbe.httpGet.path'), '/healthz', file);
      assert.equal(get(proxy, 'readinessProbe.httpGet.path'), '/readyz', file);
      const port = (proxy['ports'] as Json[]).find((p) => p['name'] === 'http');
      assert.equal(get(proxy, 'livenessProbe.httpGet.port'), 'http', file);
      assert.ok(port, `${file}: a port named http`);
      assert.match(annotations['checksum/config'] ?? '', /^[0-9a-f]{64}$/, `${file}: checksum/config`);
    }
  });

  it('renders a configuration the proxy accepts: listens on 0.0.0.0, caches in /data, drains within the grace period', () => {
    for (const [file, objs] of rendered) {
      for (const { owner, spec } of podSpecs(objs).filter((p) => !p.owner.startsWith('Pod/'))) {
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          if (c.name === 'bundle-download') continue;
          const [command, ...rest] = c.args ?? [];
          assert.ok(command === 'serve' || command === 'import', `${file} ${owner} ${c.name}: a nuget-proxy command, got ${command}`);
          const env = containerEnv(objs, c, caDir);
          const { config, positionals } = parseConfig(command as Command, rest, env, '/app');
          assert.equal(config.cacheDir, '/data', `${file} ${c.name}: cache dir`);
          if (command === 'import') {
            assert.equal(positionals.length, 1, `${file} ${c.name}: one bundle file`);
            assert.match(positionals[0] ?? '', /^\/bundles\/[^/]+$/);
            assert.ok((c.volumeMounts ?? []).some((m) => m['mountPath'] === '/bundles'), `${file} ${c.name}: /bundles mounted`);
            continue;
          }
          assert.equal(config.host, '0.0.0.0', `${file}: NUGET_PROXY_HOST`);
          const containerPort = get<Json[]>(c, 'ports')[0]?.['containerPort'];
          assert.equal(config.port, containerPort, `${file}: NUGET_PROXY_PORT is the container port`);
          const grace = spec['terminationGracePeriodSeconds'] as number;
          const preStop = Number(get<string[] | undefined>(c, 'lifecycle.preStop.exec.command')?.[1] ?? 0);
          assert.ok(grace * 1000 > config.shutdownTimeoutMs + preStop * 1000, `${file}: grace ${grace} s > preStop ${preStop} s + shutdown ${config.shutdownTimeoutMs} ms`);
          assert.ok(grace * 1000 > config.shutdownTimeoutMs, `${file}: terminationGracePeriodSeconds > NUGET_PROXY_SHUTDOWN_TIMEOUT_MS`);
          const host = get<string | undefined>(ofKind(objs, 'Ingress')[0], 'spec.rules.0.host');
          if (host) assert.ok(config.publicUrl?.includes(`://${host}`), `${file}: public URL ${config.publicUrl} from the ingress host ${host}`);
        }
      }
    }
  });

  it('keeps secrets out of ConfigMaps', () => {
    for (const [file, objs] of rendered) {
      const secretValues = ofKind(objs, 'Secret').flatMap((s) => Object.values((s['stringData'] ?? {}) as Record<string, string>));
      const configText = JSON.stringify(ofKind(objs, 'ConfigMap').map((c) => c['data']));
      for (const v of secretValues) assert.ok(!configText.includes(v), `${file}: a secret value appears in a ConfigMap`);
      for (const key of ['NUGET_PROXY_UPSTREAM_PASSWORD', 'NUGET_PROXY_UPSTREAM_TOKEN', 'NUGET_PROXY_UPSTREAM_HEADER', 'NUGET_PROXY_REDIS_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
        assert.ok(!configText.includes(key), `${file}: ${key} in a ConfigMap`);
      assert.doesNotMatch(configText, /_PROXY":"[a-z]+:\/\/[^"/@]+@/, `${file}: an egress proxy URL with credentials in a ConfigMap`);
    }
  });

  it('selects only the proxy pods with the Service, PDB and NetworkPolicy (never the test or import pods)', () => {
    for (const [file, objs] of rendered) {
      const { labels } = deploymentPod(objs);
      const selector = get<Record<string, string>>(one(objs, 'Service'), 'spec.selector');
      assert.ok(selects(selector, labels), `${file}: the Service selects the proxy pods`);
      assert.ok(selects(get(one(objs, 'Deployment'), 'spec.selector.matchLabels'), labels), `${file}: Deployment selector`);
      for (const { owner, labels: other } of podSpecs(objs).filter((p) => !p.owner.startsWith('Deployment/'))) {
        assert.ok(!selects(selector, other), `${file}: the Service would send traffic to ${owner}`);
      }
      for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
        for (const o of ofKind(objs, kind)) {
          const sel = get<Record<string, string>>(o, kind === 'NetworkPolicy' ? 'spec.podSelector.matchLabels' : 'spec.selector.matchLabels');
          assert.deepEqual(sel, selector, `${file}: ${kind} selects what the Service selects`);
        }
      }
    }
  });

  it('uses Recreate only for one replica on a ReadWriteOnce claim; several replicas roll and share state (Redis, object storage or an RWX claim)', () => {
    for (const [file, objs] of rendered) {
      const d = one(objs, 'Deployment');
      const strategy = get<string>(d, 'spec.strategy.type');
      const replicas = get<number | undefined>(d, 'spec.replicas');
      const hpa = ofKind(objs, 'HorizontalPodAutoscaler')[0];
      const { spec } = deploymentPod(objs);
      const cache = (spec.volumes ?? []).find((v) => v['name'] === 'cache') as Json;
      const claimName = get<string | undefined>(cache, 'persistentVolumeClaim.claimName');
      const pvc = ofKind(objs, 'PersistentVolumeClaim').find((p) => p.metadata.name === claimName);
      const proxy = spec.containers[0] as Container;
      const hasRedis = (proxy.env ?? []).some((e) => e['name'] === 'NUGET_PROXY_REDIS_URL');
      const config = ofKind(objs, 'ConfigMap').find((c) => c.metadata.name === 'r-nuget-proxy');
      const objectStorage = get<string | undefined>(config, 'data.NUGET_PROXY_BLOB_STORE') !== undefined;
      const sharedClaim = pvc !== undefined && get<string[]>(pvc, 'spec.accessModes')[0] === 'ReadWriteMany';
      if (objectStorage) {
        assert.equal(claimName, undefined, `${file}: no claim for packages that live in the bucket`);
        assert.equal(ofKind(objs, 'PersistentVolumeClaim').length, 0, `${file}: no PVC with object storage`);
      }
      if (strategy === 'Recreate') {
        assert.equal(replicas, 1, `${file}: Recreate with one replica`);
        assert.equal(hpa, undefined, `${file}: no HPA with Recreate`);
        assert.ok(claimName, `${file}: Recreate only for a shared claim`);
      } else {
        assert.equal(strategy, 'RollingUpdate', file);
        if (pvc) assert.deepEqual(get(pvc, 'spec.accessModes'), ['ReadWriteMany'], `${file}: RollingUpdate on a created claim needs RWX`);
      }
      if ((replicas ?? 0) > 1 || hpa) {
        assert.ok(hasRedis || objectStorage || sharedClaim, `${file}: several replicas share state (Redis, object storage or one RWX claim)`);
        assert.equal(strategy, 'RollingUpdate', file);
        if (pvc) assert.deepEqual(get(pvc, 'spec.accessModes'), ['ReadWriteMany'], file);
      }
      if (hpa) assert.equal(replicas, undefined, `${file}: the HPA owns the replica count`);
      if (pvc && get<string[]>(pvc, 'spec.accessModes')[0] === 'ReadWriteOnce') assert.equal(strategy, 'Recreate', file);
    }
  });

  it('ships a `helm test` pod that fetches the service index (and a package only when the values name one)', () => {
    for (const [file, objs] of rendered) {
      const pod = ofKind(objs, 'Pod').find((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test') ?? assert.fail(`${file}: test pod`);
      const script = get<string>(pod, 'spec.containers.0.args.0');
      assert.match(script, /\/v3\/index\.json/);
      assert.match(script, /PackageBaseAddress\/3\.0\.0/);
      assert.match(script, /\.nupkg/);
    }
    const env = get<Json[]>(one(rendered.get('default-values.yaml') ?? [], 'Pod'), 'spec.containers.0.env');
    assert.equal(env.find((e) => e['name'] === 'PACKAGE_ID')?.['value'], '', 'no package needed by default (an air-gapped mirror may lack any)');
  });
});

/** What each ci/ file is for, asserted on its rendering. */
const EXPECTATIONS: Record<string, (objs: K8sObject[]) => void> = {
  'default-values.yaml': (objs) => {
    assert.equal(get(one(objs, 'Deployment'), 'spec.strategy.type'), 'Recreate');
    assert.equal(get(one(objs, 'Deployment'), 'spec.replicas'), 1);
    assert.deepEqual(get(one(objs, 'PersistentVolumeClaim'), 'spec.accessModes'), ['ReadWriteOnce']);
    for (const kind of ['Secret', 'Ingress', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'NetworkPolicy', 'Job'])
      assert.equal(ofKind(objs, kind).length, 0, kind);
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    assert.equal(data['NUGET_PROXY_HOST'], '0.0.0.0');
    assert.equal(data['NUGET_PROXY_PUBLIC_URL'], undefined);
    assert.equal(get(one(objs, 'Deployment'), 'spec.template.spec.terminationGracePeriodSeconds'), 30);
  },
  'redis-rwx-values.yaml': (objs) => {
    const d = one(objs, 'Deployment');
    assert.equal(get(d, 'spec.replicas'), 3);
    assert.equal(get(d, 'spec.strategy.type'), 'RollingUpdate');
    assert.equal(ofKind(objs, 'PersistentVolumeClaim').length, 0, 'an existing claim is not created');
    assert.equal(get(d, 'spec.template.spec.volumes.0.persistentVolumeClaim.claimName'), 'nuget-cache-rwx');
    assert.match(get(one(objs, 'Secret'), 'stringData.NUGET_PROXY_REDIS_URL'), /^redis:\/\/:s3cret@/);
    assert.equal(get(one(objs, 'PodDisruptionBudget'), 'spec.minAvailable'), 2);
  },
  'redis-per-pod-values.yaml': (objs) => {
    const d = one(objs, 'Deployment');
    assert.equal(get(d, 'spec.replicas'), 2);
    const claim = get<Json>(d, 'spec.template.spec.volumes.0.ephemeral.volumeClaimTemplate.spec');
    assert.equal(claim['storageClassName'], 'fast-ssd');
    assert.equal(get(claim, 'resources.requests.storage'), '50Gi');
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    assert.equal(data['NUGET_PROXY_MEMORY_CACHE_MB'], '256');
    assert.equal(data['NUGET_PROXY_BREAKER_MAX_BACKOFF_MS'], '1000000', 'large numbers without exponent notation');
    assert.equal(data['NUGET_PROXY_REWRITE_WORKERS'], '4');
  },
  'ingress-tls-monitoring-values.yaml': (objs) => {
    const ing = one(objs, 'Ingress');
    assert.deepEqual(get(ing, 'spec.tls.0.hosts'), ['nuget.example.com']);
    assert.equal(get(ing, 'spec.ingressClassName'), 'nginx');
    assert.equal(get(one(objs, 'ConfigMap'), 'data.NUGET_PROXY_PUBLIC_URL'), 'https://nuget.example.com');
    assert.equal(get(one(objs, 'Deployment'), 'spec.replicas'), undefined);
    const hpa = one(objs, 'HorizontalPodAutoscaler');
    assert.equal(get(hpa, 'spec.minReplicas'), 2);
    assert.equal(get(hpa, 'spec.maxReplicas'), 6);
    assert.equal(get<Json[]>(hpa, 'spec.metrics').length, 2);
    assert.equal(get(one(objs, 'PodDisruptionBudget'), 'spec.maxUnavailable'), 1);
    assert.equal(get(one(objs, 'ServiceMonitor'), 'metadata.labels.release'), 'kube-prometheus-stack');
    const np = one(objs, 'NetworkPolicy');
    const from = JSON.stringify(get(np, 'spec.ingress.0.from'));
    for (const needle of ['ingress-nginx', 'monitoring', '"app.kubernetes.io/component":"test"']) assert.ok(from.includes(needle), needle);
    const egressPorts = JSON.stringify(get(np, 'spec.egress'));
    assert.ok(egressPorts.includes('"port":443') && egressPorts.includes('"port":6379'), egressPorts);
  },
  'airgapped-offline-values.yaml': (objs) => {
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    assert.equal(data['NUGET_PROXY_OFFLINE'], 'true');
    assert.equal(data['NUGET_PROXY_PUBLIC_URL'], 'https://nuget.corp.example/mirror');
    const { spec } = deploymentPod(objs);
    assert.deepEqual(spec.initContainers?.map((c) => c.name), ['bundle-import']);
    assert.deepEqual(spec.initContainers?.[0]?.args, ['import', '/bundles/nuget-bundle-2025-11.tar.gz']);
    const bundles = (spec.volumes ?? []).find((v) => v['name'] === 'bundles');
    assert.equal(get(bundles, 'persistentVolumeClaim.claimName'), 'nuget-bundles');
    assert.match(String(spec.containers[0]?.['image']), /^registry\.corp\.example\/nuget-proxy@sha256:[0-9a-f]{64}$/);
    assert.equal(one(objs, 'PersistentVolumeClaim').metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const egress = JSON.stringify(get(one(objs, 'NetworkPolicy'), 'spec.egress'));
    assert.ok(!egress.includes('"port":443') && !egress.includes('ipBlock'), `offline: no upstream egress: ${egress}`);
    assert.equal(get(one(objs, 'Pod'), 'spec.containers.0.env.1.value'), 'Newtonsoft.Json');
  },
  'airgapped-job-url-values.yaml': (objs) => {
    const job = one(objs, 'Job');
    assert.equal(job.metadata.annotations?.['helm.sh/hook'], 'post-install,post-upgrade');
    const spec = get<PodSpec>(job, 'spec.template.spec');
    assert.deepEqual(spec.initContainers?.map((c) => c.name), ['bundle-download']);
    assert.deepEqual(spec.containers.map((c) => c.name), ['bundle-import']);
    assert.equal(spec.initContainers?.[0]?.env?.find((e) => e['name'] === 'BUNDLE_URL')?.['value'], 'http://artifacts.corp.example:8081/nuget/nuget-bundle.tar.gz');
    assert.equal(deploymentPod(objs).spec.initContainers, undefined, 'the proxy pods do not import themselves');
    assert.deepEqual(get(one(objs, 'PersistentVolumeClaim'), 'spec.accessModes'), ['ReadWriteMany']);
    assert.equal(get(one(objs, 'Deployment'), 'spec.strategy.type'), 'RollingUpdate');
    assert.ok(JSON.stringify(get(one(objs, 'NetworkPolicy'), 'spec.egress')).includes('"port":8081'), 'egress to the bundle server');
  },
  'existing-secret-egress-values.yaml': (objs) => {
    assert.equal(ofKind(objs, 'Secret').length, 0, 'no Secret of its own');
    const { spec } = deploymentPod(objs);
    const proxy = spec.containers[0] as Container;
    assert.deepEqual(proxy.envFrom?.map((f) => get(f, 'secretRef.name') ?? get(f, 'configMapRef.name')), ['r-nuget-proxy', 'nuget-proxy-credentials']);
    assert.equal(get(proxy.env?.[0], 'valueFrom.secretKeyRef.name'), 'nuget-proxy-credentials');
    const data = get<Record<string, string>>(ofKind(objs, 'ConfigMap').find((c) => c.metadata.name === 'r-nuget-proxy'), 'data');
    assert.equal(data['HTTPS_PROXY'], 'http://squid.corp.example:3128');
    assert.equal(data['NO_PROXY'], '.cluster.local,.svc,10.0.0.0/8,pkgs-internal.corp.example');
    assert.equal(data['NUGET_PROXY_UPSTREAM_CA_FILE'], '/etc/nuget-proxy/upstream-ca.pem');
    assert.ok((proxy.volumeMounts ?? []).some((m) => m['mountPath'] === '/etc/nuget-proxy'));
    assert.ok(JSON.stringify(get(one(objs, 'NetworkPolicy'), 'spec.egress')).includes('"port":3128'), 'egress to the forward proxy');
  },
  'several-upstreams-values.yaml': (objs) => {
    const file = get<Record<string, string>>(ofKind(objs, 'ConfigMap').find((c) => c.metadata.name === 'r-nuget-proxy-config-file'), 'data')['config.yaml'] ?? '';
    const { spec } = deploymentPod(objs);
    const proxy = spec.containers[0] as Container;
    assert.ok(proxy.env?.some((e) => e['name'] === 'NUGET_PROXY_CONFIG' && e['value'] === '/etc/nuget-proxy-config/config.yaml'));
    assert.ok((proxy.volumeMounts ?? []).some((m) => m['mountPath'] === '/etc/nuget-proxy-config' && m['name'] === 'config-file'));
    // What the chart mounts is a file nuget-proxy itself accepts (the token comes from the pod's environment).
    const path = join(caDir, 'config.yaml');
    writeFileSync(path, file);
    const { config } = parseConfig('serve', ['--config', path], { INTERNAL_FEED_TOKEN: 't' });
    assert.deepEqual(config.upstreams.map((u) => u.name), ['internal', 'public']);
    assert.equal(config.policy?.minReleaseAgeMs, 7 * 86_400_000);
  },
  'inline-credentials-values.yaml': (objs) => {
    const secret = get<Record<string, string>>(one(objs, 'Secret'), 'stringData');
    assert.deepEqual(Object.keys(secret).sort(), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'HTTPS_PROXY', 'NUGET_PROXY_UPSTREAM_PASSWORD', 'NUGET_PROXY_UPSTREAM_USERNAME']);
    assert.equal(secret['AWS_SESSION_TOKEN'], 'example-session-token');
    assert.equal(get(one(objs, 'ConfigMap'), 'data.NUGET_PROXY_BLOB_STORE'), 's3://nuget-cache');
    assert.equal(ofKind(objs, 'PersistentVolumeClaim').length, 0);
    assert.equal(get(one(objs, 'Deployment'), 'spec.strategy.type'), 'RollingUpdate', 'no volume to hand over: pods roll');
    assert.equal(get(one(objs, 'ConfigMap'), 'data.HTTPS_PROXY'), undefined);
    assert.equal(get(one(objs, 'ConfigMap'), 'data.NO_PROXY'), '.cluster.local');
    assert.equal(get(one(objs, 'Deployment'), 'spec.template.spec.terminationGracePeriodSeconds'), 90);
  },
  's3-replicas-values.yaml': (objs) => {
    const d = one(objs, 'Deployment');
    assert.equal(get(d, 'spec.replicas'), 3);
    assert.equal(get(d, 'spec.strategy.type'), 'RollingUpdate');
    assert.equal(ofKind(objs, 'PersistentVolumeClaim').length, 0, 'no PVC');
    const { spec } = deploymentPod(objs);
    const cache = (spec.volumes ?? []).find((v) => v['name'] === 'cache');
    assert.deepEqual(cache, { name: 'cache', emptyDir: { sizeLimit: '10Gi' } }, '/data is scratch space');
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    assert.equal(data['NUGET_PROXY_BLOB_STORE'], 's3://nuget-cache/prod', 'the prefix without its trailing slash');
    assert.equal(data['NUGET_PROXY_S3_ENDPOINT'], 'https://minio.storage.svc.cluster.local:9000');
    assert.equal(data['NUGET_PROXY_S3_REGION'], 'us-east-1');
    assert.equal(data['NUGET_PROXY_S3_FORCE_PATH_STYLE'], 'true');
    assert.equal(data['NUGET_PROXY_MAX_CACHE_SIZE'], '500GB');
    assert.equal(data['NUGET_PROXY_EVICT_UNUSED_DAYS'], '90');
    assert.equal(data['NUGET_PROXY_WORKERS'], '1', 'the chart scales by pods');
    const env = (spec.containers[0] as Container).env ?? [];
    const ref = (name: string) => get<{ name: string; key: string } | undefined>(env.find((e) => e['name'] === name), 'valueFrom.secretKeyRef');
    assert.deepEqual(ref('AWS_ACCESS_KEY_ID'), { name: 'nuget-proxy-s3', key: 'access-key' });
    assert.deepEqual(ref('AWS_SECRET_ACCESS_KEY'), { name: 'nuget-proxy-s3', key: 'secret-key' });
    assert.equal(ref('AWS_SESSION_TOKEN'), undefined);
    assert.deepEqual(ref('NUGET_PROXY_REDIS_URL'), { name: 'r-nuget-proxy', key: 'NUGET_PROXY_REDIS_URL' });
    assert.deepEqual(Object.keys(get<Json>(one(objs, 'Secret'), 'stringData')), ['NUGET_PROXY_REDIS_URL'], 'the keys stay in their own Secret');
    const egress = get<Json[]>(one(objs, 'NetworkPolicy'), 'spec.egress');
    const s3 = egress.find((r) => JSON.stringify(r).includes('"port":9000')) ?? assert.fail(`egress to the endpoint port: ${JSON.stringify(egress)}`);
    assert.match(JSON.stringify(s3['to']), /"kubernetes.io\/metadata.name":"storage"/);
  },
  's3-irsa-values.yaml': (objs) => {
    const sa = one(objs, 'ServiceAccount');
    assert.equal(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::123456789012:role/nuget-proxy');
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    assert.equal(data['NUGET_PROXY_BLOB_STORE'], 's3://corp-nuget-mirror/nuget-proxy');
    assert.equal(data['NUGET_PROXY_S3_REGION'], 'eu-central-1');
    assert.equal(data['NUGET_PROXY_S3_ENDPOINT'], undefined, 'AWS S3: no endpoint');
    assert.equal(data['NUGET_PROXY_MAX_CACHE_SIZE'], undefined, 'no quota');
    for (const { owner, spec } of podSpecs(objs).filter((p) => !p.owner.startsWith('Pod/'))) {
      assert.equal(spec['serviceAccountName'], sa.metadata.name, `${owner}: runs as the IRSA service account`);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers].filter((x) => x.name !== 'bundle-download')) {
        assert.ok(!(c.env ?? []).some((e) => String(e['name']).startsWith('AWS_')), `${owner} ${c.name}: no static keys (IRSA injects the token)`);
        assert.deepEqual(c.envFrom?.map((f) => get(f, 'secretRef.name') ?? get(f, 'configMapRef.name')), ['r-nuget-proxy', 'nuget-proxy-credentials']);
      }
    }
    const job = one(objs, 'Job');
    const jobCache = get<Json[]>(job, 'spec.template.spec.volumes').find((v) => v['name'] === 'cache');
    assert.ok(jobCache?.['ephemeral'], 'the Job imports into the bucket, with scratch space of its own');
    assert.equal(ofKind(objs, 'PersistentVolumeClaim').length, 0);
    assert.equal(get(one(objs, 'HorizontalPodAutoscaler'), 'spec.maxReplicas'), 8);
    const rule = one(objs, 'PrometheusRule');
    assert.equal(rule.metadata.labels?.['release'], 'kube-prometheus-stack');
    const rules = get<Json[]>(rule, 'spec.groups.0.rules');
    assert.ok(rules.length >= 5);
    for (const r of rules) assert.equal(get(r, 'labels.team'), 'platform', `ruleLabels on ${String(r['alert'])}`);
  },
  'extension-points-values.yaml': (objs) => {
    const { spec, labels, annotations } = deploymentPod(objs);
    assert.equal(labels['team'], 'platform');
    assert.equal(labels['sidecar.istio.io/inject'], 'false');
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.match(annotations['checksum/config'] ?? '', /^[0-9a-f]{64}$/, 'the chart\'s annotations stay');
    assert.deepEqual((spec.volumes ?? []).find((v) => v['name'] === 'corp-ca'), { name: 'corp-ca', secret: { secretName: 'corp-root-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    const proxy = spec.containers[0] as Container;
    assert.deepEqual((proxy.volumeMounts ?? []).find((m) => m['name'] === 'corp-ca'), { name: 'corp-ca', mountPath: '/etc/ssl/corp', readOnly: true });
    assert.equal(proxy.env?.find((e) => e['name'] === 'NODE_EXTRA_CA_CERTS')?.['value'], '/etc/ssl/corp/ca.crt');
    assert.deepEqual(proxy.envFrom?.map((f) => get(f, 'configMapRef.name') ?? get(f, 'secretRef.name')), ['r-nuget-proxy', 'corp-proxy-env'], 'the user\'s envFrom after the chart\'s');
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    assert.equal(data['NUGET_PROXY_MAX_CACHE_SIZE'], '15GB');
    assert.equal(data['NUGET_PROXY_EVICT_UNUSED_DAYS'], '30');
    assert.equal(data['NUGET_PROXY_BLOB_STORE'], undefined, 'packages on the cache volume');
    assert.deepEqual(get(one(objs, 'PersistentVolumeClaim'), 'spec.resources.requests.storage'), '20Gi');
    const testEnv = get<Json[]>(one(objs, 'Pod'), 'spec.containers.0.env');
    assert.deepEqual(testEnv.map((e) => [e['name'], e['value']]).slice(1), [['PACKAGE_ID', 'Newtonsoft.Json'], ['PACKAGE_VERSION', '13.0.3']]);
  },
};

describe('each ci/ values file does what it is for', () => {
  it('has an expectation for every file in ci/', async () => {
    assert.deepEqual((await yamlFilesIn(CI)).map((f) => basename(f)).sort(), Object.keys(EXPECTATIONS).sort());
  });
  for (const [file, check] of Object.entries(EXPECTATIONS)) {
    it(file, () => check(rendered.get(file) ?? assert.fail(`${file} not rendered`)));
  }
});

describe('contradictory values are refused (ci-invalid/)', () => {
  it('fails `helm template` for every file, with the message its "# expect:" lines name', async () => {
    const files = await yamlFilesIn(CI_INVALID);
    assert.ok(files.length >= 5);
    for (const file of files) {
      const expected = [...(await readFile(file, 'utf8')).matchAll(/^# expect: (.+)$/gm)].map((m) => (m[1] ?? '').trim());
      assert.ok(expected.length > 0, `${file} names its expected message`);
      const r = await helm(['template', 'r', CHART, '-f', file]);
      assert.notEqual(r.code, 0, `${basename(file)} must not render`);
      for (const e of expected) assert.ok(r.stderr.includes(e), `${basename(file)}: expected "${e}" in:\n${r.stderr}`);
    }
  });
});

describe('config checksum', () => {
  it('changes when the configuration changes, so the pods roll', async () => {
    const checksum = async (set: string[]) => deploymentPod(await renderChart([], set)).annotations['checksum/config'];
    const a = await checksum([]);
    assert.equal(await checksum([]), a, 'stable');
    assert.notEqual(await checksum(['config.logLevel=debug']), a);
  });
});

describe('values.schema.json and values.yaml agree with src/config.ts', () => {
  const schemaFile = join(CHART, 'values.schema.json');
  // Variables the chart sets itself (by their environment names, the interface), each with where it comes from.
  const MANAGED: Record<string, string> = {
    NUGET_PROXY_HOST: 'always 0.0.0.0',
    NUGET_PROXY_PORT: 'containerPort',
    NUGET_PROXY_CACHE_DIR: 'always /data (the cache volume, or scratch space with object storage)',
    NUGET_PROXY_LOG_FORMAT: 'always json',
    NUGET_PROXY_WORKERS: 'always 1: the chart scales by pods',
    NUGET_PROXY_REDIS_URL: 'redis.url / existingSecret',
    NUGET_PROXY_BLOB_STORE: 'objectStorage.bucket / prefix',
    NUGET_PROXY_S3_ENDPOINT: 'objectStorage.endpoint',
    NUGET_PROXY_S3_REGION: 'objectStorage.region',
    NUGET_PROXY_S3_FORCE_PATH_STYLE: 'objectStorage.forcePathStyle',
    NUGET_PROXY_MAX_CACHE_SIZE: 'retention.maxCacheSize',
    NUGET_PROXY_EVICT_UNUSED_DAYS: 'retention.evictUnusedDays',
    NUGET_PROXY_UI_TOKEN: 'webPage.token / existingSecret',
    NUGET_PROXY_UPSTREAM_USERNAME: 'upstreamCredentials / existingSecret',
    NUGET_PROXY_UPSTREAM_PASSWORD: 'upstreamCredentials / existingSecret',
    NUGET_PROXY_UPSTREAM_TOKEN: 'upstreamCredentials / existingSecret',
    NUGET_PROXY_UPSTREAM_HEADER: 'upstreamCredentials / existingSecret',
    NUGET_PROXY_UPSTREAM_CA_FILE: 'upstreamCaBundle',
    NUGET_PROXY_CONFIG: 'configFile',
    HTTPS_PROXY: 'egress.httpsProxy',
    HTTP_PROXY: 'egress.httpProxy',
    NO_PROXY: 'egress.noProxy',
    NUGET_PROXY_TLS_CERT: 'not supported: TLS ends at the ingress',
    NUGET_PROXY_TLS_KEY: 'not supported: TLS ends at the ingress',
  };

  it('lets every serve option be set, through config.* or a dedicated value', async () => {
    const schema = JSON.parse(await readFile(schemaFile, 'utf8')) as Json;
    const props = get<Record<string, Json>>(schema, 'properties.config.properties');
    for (const spec of OPTIONS.filter((o) => o.commands.includes('serve'))) {
      const inConfig = spec.key in props;
      const managed = envName(spec) in MANAGED;
      assert.ok(inConfig !== managed, `${spec.key} (${envName(spec)}): exactly one of config.${spec.key} in the schema or a chart-managed value`);
    }
  });

  it('renders every chart-managed NUGET_PROXY_* variable somewhere (ConfigMap, Secret or env)', async () => {
    const objs = [
      ...(await renderChart([join(CI, 's3-replicas-values.yaml')])),
      ...(await renderChart([join(CI, 'inline-credentials-values.yaml')])),
      ...(await renderChart([], ['webPage.token=secret-token', 'upstreamCredentials.token=t', 'upstreamCredentials.header=X-Key: v', 'upstreamCaBundle=-----BEGIN CERTIFICATE-----', 'egress.httpProxy=http://squid:3128', 'configFile=upstream: https://feed.example/v3/index.json'])),
    ];
    const text = JSON.stringify(objs);
    for (const [name, from] of Object.entries(MANAGED)) {
      if (!from.startsWith('not supported')) assert.ok(text.includes(`"${name}"`), `${name} (${from}) is rendered`);
    }
  });

  it('maps every config.* key to a real NUGET_PROXY_* variable with the same type and bounds', async () => {
    const schema = JSON.parse(await readFile(schemaFile, 'utf8')) as Json;
    assert.equal(get(schema, 'properties.config.additionalProperties'), false, 'unknown config keys are refused');
    const props = get<Record<string, Json>>(schema, 'properties.config.properties');
    const objs = await renderChart([], Object.keys(props).filter((k) => k !== 'publicUrl').map((k) => `config.${k}=${sampleValue(k)}`));
    const data = get<Record<string, string>>(one(objs, 'ConfigMap'), 'data');
    for (const [key, prop] of Object.entries(props)) {
      const spec = OPTIONS.find((o) => o.key === key) ?? assert.fail(`config.${key} is not an option of src/config.ts`);
      const expectedType = { int: 'integer', bool: 'boolean', enum: 'string', url: 'string', string: 'string', path: 'string', file: 'string', header: 'string', size: 'string', 'blob-store': 'string' }[spec.kind];
      assert.equal(prop['type'] ?? 'string', expectedType, `config.${key} type`);
      if (spec.kind === 'int') {
        assert.equal(prop['minimum'], spec.min, `config.${key} minimum`);
        assert.equal(prop['maximum'], spec.max, `config.${key} maximum`);
      }
      if (spec.kind === 'enum') assert.deepEqual(prop['enum'], spec.values, `config.${key} values`);
      if (key !== 'publicUrl') assert.ok(envName(spec) in data, `config.${key} renders ${envName(spec)}`);
    }
  });

  it('stays strict: unknown keys are refused everywhere, the extension points included', async () => {
    const schema = JSON.parse(await readFile(schemaFile, 'utf8')) as Json;
    assert.equal(schema['additionalProperties'], false, 'top level');
    for (const key of ['objectStorage', 'retention', 'prometheusRule', 'persistence', 'redis', 'tests', 'networkPolicy'])
      assert.equal(get(schema, `properties.${key}.additionalProperties`), false, key);
    for (const key of ['extraEnv', 'envFrom', 'extraVolumeMounts'])
      assert.equal(get(schema, `properties.${key}.items.additionalProperties`), false, `${key} items`);
    assert.ok(get<Json>(schema, 'properties.extraVolumes.items.propertyNames'), 'extraVolumes items: a name and known volume sources only');
    assert.equal(get(schema, 'properties.extraVolumes.items.maxProperties'), 2, 'extraVolumes items: one volume source');
    assert.ok(get<Json>(schema, 'properties.podLabels.propertyNames'), 'podLabels: valid label keys');
    // And helm applies it: a misspelled key inside an extension point fails to render.
    await assert.rejects(renderChart([], ['extraEnv[0].name=A', 'extraEnv[0].valeu=b']), /Additional property valeu is not allowed/);
    await assert.rejects(renderChart([], ['podLabels.bad key=x']), /podLabels/);
    await assert.rejects(renderChart([], ['objectStorage.enabled=true', 'objectStorage.bucket=b', 'objectStorage.endpiont=https://x']), /Additional property endpiont is not allowed/);
  });

  it('states only the proxy\'s own defaults in values.yaml', async () => {
    const values = parseYaml(await readFile(join(CHART, 'values.yaml'), 'utf8')) as Json;
    for (const [key, value] of Object.entries(values['config'] as Json)) {
      const spec = OPTIONS.find((o) => o.key === key) ?? assert.fail(key);
      if (value === '') assert.equal(spec.default, null, `config.${key}`);
      else assert.equal(value, spec.default, `config.${key} default differs from src/config.ts`);
    }
  });
});

function sampleValue(key: string): string {
  const spec = OPTIONS.find((o) => o.key === key);
  if (!spec) return '';
  if (spec.kind === 'bool') return 'true';
  if (spec.kind === 'int') return String(spec.min ?? 1);
  if (spec.kind === 'enum') return spec.values?.[0] ?? '';
  if (spec.kind === 'blob-store') return 's3://bucket/prefix/';
  if (spec.kind === 'url' && spec.default === null) return 'https://example.test/';
  return String(spec.default);
}

/** NOTES.txt is not rendered by `helm template`: render a copy of the chart where it is a template. */
async function renderNotes(valuesFiles: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-notes-'));
  try {
    const chart = join(dir, 'nuget-proxy');
    await cp(CHART, chart, { recursive: true });
    const notes = await readFile(join(chart, 'templates/NOTES.txt'), 'utf8');
    await writeFile(
      join(chart, 'templates/notes-preview.yaml'),
      `{{- define "notes-preview" }}${notes}{{- end }}\nkind: NotesPreview\nnotes: {{ include "notes-preview" . | quote }}\n`,
    );
    const args = ['template', 'r', chart, '--namespace', 'nuget', '--show-only', 'templates/notes-preview.yaml'];
    for (const f of valuesFiles) args.push('-f', f);
    const r = await helm(args);
    assert.equal(r.code, 0, r.stderr);
    return String((parseManifests(r.stdout)[0] as unknown as { notes: string }).notes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('NOTES.txt', () => {
  const configOf = (notes: string) => {
    const xml = /<\?xml[\s\S]*<\/configuration>/.exec(notes)?.[0] ?? assert.fail(`no nuget.config in:\n${notes}`);
    return xml;
  };

  it('prints a nuget.config with <clear/> and the ingress https URL', async () => {
    const notes = await renderNotes([join(CI, 'ingress-tls-monitoring-values.yaml')]);
    const xml = configOf(notes);
    assert.ok(xml.indexOf('<clear />') < xml.indexOf('<add '), '<clear/> before the source');
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml) as Json;
    const add = get<Json>(parsed, 'configuration.packageSources.add');
    assert.equal(add['@_value'], 'https://nuget.example.com/v3/index.json');
    assert.equal(add['@_allowInsecureConnections'], undefined);
  });

  it('without an ingress: port-forward instructions and an http source .NET 9 accepts, read by the real dotnet client', async () => {
    const notes = await renderNotes([]);
    assert.match(notes, /kubectl --namespace nuget port-forward svc\/r-nuget-proxy 5555:80/);
    const xml = configOf(notes);
    const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-notes-config-'));
    try {
      await writeFile(join(dir, 'nuget.config'), xml);
      const r = await run('dotnet', ['nuget', 'list', 'source', '--configfile', join(dir, 'nuget.config')], {
        env: { ...process.env, HOME: dir, DOTNET_CLI_HOME: dir, DOTNET_NOLOGO: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1', NUGET_PACKAGES: join(dir, 'packages') },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /nuget-proxy \[Enabled\]/);
      assert.match(r.stdout, /http:\/\/127\.0\.0\.1:5555\/v3\/index\.json/);
      assert.equal((r.stdout.match(/\[Enabled\]/g) ?? []).length, 1, `only the proxy is a source:\n${r.stdout}`);
      assert.match(xml, /allowInsecureConnections="true"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the bucket, the retention settings and the alerts when they are on', async () => {
    const s3 = await renderNotes([join(CI, 's3-replicas-values.yaml')]);
    assert.match(s3, /Packages are stored in s3:\/\/nuget-cache\/prod at https:\/\/minio\.storage\.svc\.cluster\.local:9000/);
    assert.match(s3, /Retention: above 500GB the least recently served versions are evicted; versions unserved for 90 days are evicted; pinned/);
    const irsa = await renderNotes([join(CI, 's3-irsa-values.yaml')]);
    assert.match(irsa, /PrometheusRule r-nuget-proxy/);
    assert.doesNotMatch(irsa, /Retention:/);
    assert.doesNotMatch(await renderNotes([]), /Packages are stored in|Retention:|PrometheusRule/);
  });

  it('mentions offline mode and the bundle import for air-gapped installs', async () => {
    const notes = await renderNotes([join(CI, 'airgapped-offline-values.yaml')]);
    assert.match(notes, /Offline mode/);
    assert.match(notes, /filled from the bundle by the initContainer/);
    assert.match(notes, /https:\/\/nuget\.corp\.example\/mirror\/v3\/index\.json/);
  });
});

describe('the scripts the chart runs, against real servers', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;

  before(async () => {
    upstream = await startStandardFakeUpstream({ includeRealPackages: false });
    // A public URL with a path prefix the test pod cannot reach: it must use the Service origin.
    proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_PUBLIC_URL: 'https://nuget.example.com/mirror' });
  });

  after(async () => {
    await proxy?.dispose();
    await upstream?.stop();
  });

  const podScript = (objs: K8sObject[], kind: 'test' | 'download'): { command: string[]; script: string } => {
    const c =
      kind === 'test'
        ? (get<Container[]>(one(objs, 'Pod'), 'spec.containers')[0] as Container)
        : ((get<PodSpec>(one(objs, 'Job'), 'spec.template.spec').initContainers ?? [])[0] as Container);
    return { command: c.command ?? [], script: (c.args ?? [])[0] ?? '' };
  };

  it('`helm test` script: the index alone by default; with a package, its versions and a .nupkg; fails for an unknown one', async () => {
    const objs = rendered.get('default-values.yaml') ?? assert.fail();
    const { command, script } = podScript(objs, 'test');
    assert.deepEqual(command, ['node', '--input-type=module', '-e']);
    const runScript = (id: string, version = '', serviceUrl = proxy.url) =>
      run(process.execPath, [...command.slice(1), script], { env: { PATH: process.env.PATH, SERVICE_URL: serviceUrl, PACKAGE_ID: id, PACKAGE_VERSION: version }, timeoutMs: 60_000 });
    const nupkgsBefore = upstream.count(/\.nupkg$/);
    const indexOnly = await runScript('');
    assert.equal(indexOnly.code, 0, indexOnly.stderr);
    assert.match(indexOnly.stdout, /^ok: \d+ resources \(no tests\.packageId: no package fetched\)/);
    assert.equal(upstream.count(/\.nupkg$/), nupkgsBefore, 'no package needed by default');
    const newest = await runScript('Contoso.Paged');
    assert.equal(newest.code, 0, newest.stderr);
    assert.match(newest.stdout, /^ok: \d+ resources; contoso\.paged has 140 versions; contoso\.paged\.[0-9.a-z-]+\.nupkg is [1-9]\d* bytes/);
    const pinned = await runScript('Contoso.Paged', '1.0.1');
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.match(pinned.stdout, /contoso\.paged\.1\.0\.1\.nupkg is [1-9]\d* bytes/);
    const noVersion = await runScript('Contoso.Paged', '99.0.0');
    assert.notEqual(noVersion.code, 0);
    assert.match(noVersion.stderr, /contoso\.paged has no version 99\.0\.0/);
    const missing = await runScript('Contoso.DoesNotExist');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /HTTP 404/);
    const down = await runScript('', '', 'http://127.0.0.1:9');
    assert.notEqual(down.code, 0, 'no service, no pass');
  });

  it('bundle download script: streams the URL to the file, fails on an HTTP error', async () => {
    const objs = rendered.get('airgapped-job-url-values.yaml') ?? assert.fail();
    const { command, script } = podScript(objs, 'download');
    const body = createHash('sha512').update('bundle').digest();
    const payload = Buffer.concat(Array.from({ length: 2048 }, () => body));
    const server = http.createServer((req, res) => {
      if (req.url === '/nuget-bundle.tar.gz') res.end(payload);
      else res.writeHead(404).end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-bundle-'));
    try {
      const file = join(dir, 'nuget-bundle.tar.gz');
      const runScript = (url: string) => run(process.execPath, [...command.slice(1), script], { env: { PATH: process.env.PATH, BUNDLE_URL: url, BUNDLE_FILE: file } });
      const ok = await runScript(`${base}/nuget-bundle.tar.gz`);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok((await readFile(file)).equals(payload), 'the file holds the bytes served');
      const failed = await runScript(`${base}/missing.tar.gz`);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stderr, /HTTP 404/);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('extension points, as a real proxy process sees them', () => {
  it('a CA certificate from a Secret (extraVolumes + extraVolumeMounts) named by NODE_EXTRA_CA_CERTS (extraEnv) lets the proxy reach an https upstream it signs; without it the proxy cannot', async () => {
    const objs = rendered.get('extension-points-values.yaml') ?? assert.fail();
    const { spec } = deploymentPod(objs);
    const container = spec.containers.find((c) => c.name === 'nuget-proxy') ?? assert.fail('proxy container');
    const cert = createSelfSignedCertificate();
    const secrets: Record<string, Record<string, string>> = { 'corp-root-ca': { 'ca.crt': cert.cert } };
    const upstream = await startStandardFakeUpstream({ includeRealPackages: false, tls: cert });
    const root = await mkdtemp(join(tmpdir(), 'nuget-proxy-pod-'));
    try {
      // The kubelet's part: a Secret volume's items become files under the mount path (here, under root).
      const mounts = new Map<string, string>();
      for (const m of container.volumeMounts ?? []) {
        const volume = (spec.volumes ?? []).find((v) => v['name'] === m['name']);
        const secretName = get<string | undefined>(volume, 'secret.secretName');
        if (!secretName) continue;
        const dir = join(root, String(m['mountPath']));
        await mkdir(dir, { recursive: true });
        for (const item of get<Array<{ key: string; path: string }>>(volume, 'secret.items'))
          await writeFile(join(dir, item.path), secrets[secretName]?.[item.key] ?? assert.fail(`no test data for ${secretName}/${item.key}`));
        mounts.set(String(m['mountPath']), dir);
      }
      assert.ok(mounts.has('/etc/ssl/corp'), 'the CA is mounted');
      const env = containerEnv(objs, container, caDir);
      const inPod = env['NODE_EXTRA_CA_CERTS'] ?? assert.fail('NODE_EXTRA_CA_CERTS');
      const [mountPath, hostDir] = [...mounts].find(([p]) => inPod.startsWith(`${p}/`)) ?? assert.fail(`${inPod} is not on a mounted volume`);
      const serveWith = async (extraCa: string | undefined): Promise<number> => {
        const port = await freePort();
        const cacheDir = await mkdtemp(join(root, 'data-'));
        const proc = startProcess(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/nuget-proxy.ts'), 'serve'], {
          env: {
            PATH: process.env.PATH,
            ...env,
            NODE_EXTRA_CA_CERTS: extraCa,
            // Loopback, a free port and a temp cache instead of the pod's 0.0.0.0:5555 and /data.
            NUGET_PROXY_HOST: '127.0.0.1',
            NUGET_PROXY_PORT: String(port),
            NUGET_PROXY_CACHE_DIR: cacheDir,
            NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
            NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '2000',
            NUGET_PROXY_UPSTREAM_RETRIES: '0',
          },
        });
        try {
          const base = `http://127.0.0.1:${port}`;
          await waitFor('the proxy to listen', 30_000, async () => {
            if (proc.child.exitCode !== null) throw new Error(`exited:\n${proc.output()}`);
            return (await fetch(`${base}/healthz`)).ok ? true : undefined;
          });
          const res = await fetch(`${base}/v3/flatcontainer/contoso.paged/index.json`);
          await res.arrayBuffer();
          return res.status;
        } finally {
          await proc.stop();
        }
      };
      assert.equal(await serveWith(hostDir + inPod.slice(mountPath.length)), 200, 'trusted through the mounted CA');
      assert.ok((await serveWith(undefined)) >= 500, 'the same upstream is untrusted without it');
    } finally {
      await upstream.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('yamllint', () => {
  it('accepts the chart values files, provisioning, Prometheus (config, alerts, their tests) and compose YAML', async () => {
    const config = '{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}';
    const files = [
      join(CHART, 'Chart.yaml'),
      join(CHART, 'values.yaml'),
      ...(await yamlFilesIn(CI)),
      ...(await yamlFilesIn(CI_INVALID)),
      join(REPO, 'docker-compose.yml'),
      join(REPO, 'docker-compose.s3.yml'),
      join(REPO, 'prometheus/prometheus.yml'),
      join(REPO, 'prometheus/alerts.yml'),
      join(REPO, 'prometheus/alerts.test.yml'),
      join(CHART, 'files/alerts.yml'),
      join(REPO, 'grafana/provisioning/datasources/prometheus.yaml'),
      join(REPO, 'grafana/provisioning/dashboards/nuget-proxy.yaml'),
    ];
    const r = await run('yamllint', ['--strict', '-d', config, ...files]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});
