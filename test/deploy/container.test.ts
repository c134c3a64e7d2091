// The container image and docker-compose.yml, without a Docker engine: the Dockerfile is parsed and its
// rules checked (stages, pinned slim base, non-root USER, HEALTHCHECK, --omit=dev, EXPOSE = the default
// port); its npm steps are then replayed in scratch folders and the runtime stage's ENTRYPOINT, CMD and
// HEALTHCHECK are run for real against a fake upstream. Compose (and its S3 override) is validated by
// docker-compose v1.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { OPTIONS } from '../../src/config.ts';
import { NODE_FLAGS } from '../../src/cluster/node-flags.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { freePort } from '../helpers/redis.ts';
import { CHART, REPO, run, startProcess, waitFor } from './tools.ts';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly image: string;
  readonly name: string;
  readonly instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined, FROM's ARG defaults applied. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) current += `${line.slice(0, -1)} `;
    else {
      logical.push((current + line).trim());
      current = '';
    }
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(l);
    assert.ok(m, `unparsable Dockerfile line: ${l}`);
    const keyword = (m[1] ?? '').toUpperCase();
    const rest = (m[2] ?? '').trim();
    if (keyword === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args[k ?? ''] = v;
    } else if (keyword === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(fm, `FROM ${rest}`);
      const image = (fm[1] ?? '').replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ image, name: fm[2] ?? String(stages.length), instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${keyword} before FROM`);
      stages[stages.length - 1]?.instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

function of(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const a of of(stage, 'ENV')) {
    for (const pair of a.split(/\s+/)) {
      const eq = pair.indexOf('=');
      assert.ok(eq > 0, `ENV in key=value form: ${pair}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** `RUN --mount=… cmd` → cmd. */
function runCommand(args: string): string {
  return args.replace(/^(--\S+\s+)+/, '');
}

/** The command of an exec-form (JSON array) instruction. */
function execForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `exec form: ${args}`);
  return parsed as string[];
}

const dockerfile = parseDockerfile(await readFile(join(REPO, 'Dockerfile'), 'utf8'));
const build = dockerfile.stages[0] as Stage;
const runtime = dockerfile.stages[dockerfile.stages.length - 1] as Stage;
const defaultPort = OPTIONS.find((o) => o.key === 'port')?.default;
type Service = { image?: string; build?: unknown; environment?: Record<string, string>; volumes?: string[]; ports?: string[]; stop_grace_period?: string };
const compose = parseYaml(await readFile(join(REPO, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const chartValues = parseYaml(await readFile(join(CHART, 'values.yaml'), 'utf8')) as { containerPort: number; podSecurityContext: { runAsUser: number; runAsGroup: number } };

describe('Dockerfile rules', () => {
  it('has a build stage and a runtime stage on the same pinned node:20 slim image', async () => {
    assert.equal(dockerfile.stages.length, 2);
    assert.deepEqual(dockerfile.stages.map((s) => s.name), ['build', 'runtime']);
    for (const s of dockerfile.stages) {
      assert.match(s.image, /^node:20\.\d+\.\d+-bookworm-slim$/, `${s.name}: node 20 slim pinned to a full version, got ${s.image}`);
    }
    assert.equal(build.image, runtime.image);
    // The pinned version satisfies package.json's engines.
    const engines = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const min = /^>=(\d+)\.(\d+)/.exec(engines);
    const [, major, minor] = /^node:(\d+)\.(\d+)/.exec(runtime.image) ?? [];
    assert.ok(min && Number(major) === Number(min[1]) && Number(minor) >= Number(min[2]), `${runtime.image} satisfies engines ${engines}`);
  });

  it('builds with npm ci + npm run build, and runs with production dependencies and dist/ only', () => {
    const buildRuns = of(build, 'RUN').map(runCommand);
    assert.ok(buildRuns.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')), 'build: npm ci with dev dependencies');
    assert.ok(buildRuns.includes('npm run build'), 'build: npm run build');
    const runtimeRuns = of(runtime, 'RUN').map(runCommand);
    assert.ok(runtimeRuns.some((r) => /^npm ci\b.*--omit=dev/.test(r)), 'runtime: npm ci --omit=dev');
    const copies = of(runtime, 'COPY');
    assert.ok(copies.includes('--from=build /src/dist ./dist'), `runtime copies dist from build: ${copies.join(' | ')}`);
    for (const c of copies) {
      assert.doesNotMatch(c, /\bsrc\b(?!\/dist)|node_modules/, `runtime must not copy sources or build node_modules: ${c}`);
    }
    assert.equal(envOf(runtime)['NODE_ENV'], 'production');
  });

  it('runs as a numeric non-root USER matching the chart, with the cache as a VOLUME at /data', () => {
    const users = of(runtime, 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = (users[0] ?? '').split(':');
    assert.match(uid ?? '', /^[1-9][0-9]*$/, 'numeric uid (Kubernetes runAsNonRoot can verify it)');
    assert.equal(Number(uid), chartValues.podSecurityContext.runAsUser);
    assert.equal(Number(gid), chartValues.podSecurityContext.runAsGroup);
    const userIndex = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    assert.ok(runtime.instructions.slice(userIndex).every((i) => i.keyword !== 'RUN'), 'nothing runs as root after USER');
    const env = envOf(runtime);
    assert.equal(env['NUGET_PROXY_CACHE_DIR'], '/data');
    assert.equal(env['NUGET_PROXY_HOST'], '0.0.0.0');
    assert.equal(env['NUGET_PROXY_WORKERS'], '1', 'one serving process per container: containers scale by replicas');
    assert.deepEqual(of(runtime, 'VOLUME').map(execForm), [['/data']]);
    assert.ok(of(runtime, 'RUN').some((r) => r.includes('mkdir -p /data') && r.includes(`chown ${uid}:${gid} /data`)), '/data is owned by the user');
  });

  it('EXPOSEs the default port, which the chart and NUGET_PROXY_PORT use too', () => {
    assert.equal(defaultPort, 5555);
    assert.deepEqual(of(runtime, 'EXPOSE'), [String(defaultPort)]);
    assert.equal(envOf(runtime)['NUGET_PROXY_PORT'], String(defaultPort));
    assert.equal(chartValues.containerPort, defaultPort);
  });

  it('has a HEALTHCHECK with node\'s fetch on /healthz (no curl in slim images), ENTRYPOINT node cli, CMD serve', () => {
    const hc = of(runtime, 'HEALTHCHECK');
    assert.equal(hc.length, 1);
    const cmd = /\bCMD\s+(\[.*\])$/.exec(hc[0] ?? '')?.[1] ?? assert.fail(`exec-form HEALTHCHECK CMD: ${hc[0]}`);
    const argv = execForm(cmd);
    assert.equal(argv[0], 'node');
    assert.match(argv.join(' '), /\/healthz/);
    assert.doesNotMatch(hc[0] ?? '', /\b(curl|wget)\b/);
    assert.deepEqual(execForm(of(runtime, 'ENTRYPOINT')[0] ?? '[]'), ['node', ...NODE_FLAGS, '/app/dist/src/cli/nuget-proxy.js']);
    assert.deepEqual(execForm(of(runtime, 'CMD')[0] ?? '[]'), ['serve']);
  });

  it('.dockerignore keeps the context small and never hides what COPY needs', async () => {
    const ignored = (await readFile(join(REPO, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const must of ['node_modules', '.git', 'dist', 'data', '.tools']) assert.ok(ignored.includes(must), `.dockerignore lists ${must}`);
    const isIgnored = (path: string) =>
      ignored.some((p) => (p.startsWith('*.') ? path.endsWith(p.slice(1)) : path === p || path.startsWith(`${p}/`)));
    for (const stage of dockerfile.stages) {
      for (const c of of(stage, 'COPY').filter((a) => !a.startsWith('--from'))) {
        const parts = c.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) {
          assert.ok(!isIgnored(src), `COPY ${src} is excluded by .dockerignore`);
          assert.ok(existsSync(join(REPO, src)), `COPY source ${src} exists`);
        }
      }
    }
  });
});

describe('Dockerfile replayed without Docker: the runtime stage has what it needs', () => {
  let scratch: string;
  let upstream: FakeUpstream;
  const roots = new Map<string, string>();

  /** Replays WORKDIR, COPY, ENV and the npm RUN steps of every stage in a scratch folder per stage. */
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'nuget-proxy-image-'));
    upstream = await startStandardFakeUpstream({ includeRealPackages: false });
    for (const stage of dockerfile.stages) {
      const root = join(scratch, stage.name);
      roots.set(stage.name, root);
      await mkdir(root, { recursive: true });
      let workdir = '/';
      const env: Record<string, string> = {};
      for (const { keyword, args } of stage.instructions) {
        if (keyword === 'WORKDIR') {
          workdir = posix.resolve(workdir, args);
          await mkdir(join(root, workdir), { recursive: true });
        } else if (keyword === 'ENV') {
          Object.assign(env, envOf({ ...stage, instructions: [{ keyword, args }] }));
        } else if (keyword === 'COPY') {
          const parts = args.split(/\s+/);
          const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
          const paths = parts.filter((p) => !p.startsWith('--'));
          const dest = posix.resolve(workdir, paths[paths.length - 1] ?? '.');
          for (const src of paths.slice(0, -1)) {
            const source = from ? join(roots.get(from) ?? assert.fail(`stage ${from}`), src) : join(REPO, src);
            const target = (paths[paths.length - 1] ?? '').endsWith('/') || paths.length > 2 ? join(root, dest, posix.basename(src)) : join(root, dest);
            await cp(source, target, { recursive: true });
          }
        } else if (keyword === 'RUN') {
          const command = runCommand(args);
          // Only npm steps touch the build's files; mkdir/chown of /data are checked by the rules above.
          if (!command.startsWith('npm ')) continue;
          const r = await run('sh', ['-c', command], {
            cwd: join(root, workdir),
            env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
            timeoutMs: 300_000,
          });
          assert.equal(r.code, 0, `${stage.name}: RUN ${command}\n${r.stdout}${r.stderr}`);
        }
      }
    }
  });

  after(async () => {
    await upstream?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  const runtimeRoot = () => roots.get('runtime') ?? assert.fail('runtime stage');
  /** The ENTRYPOINT as this machine runs it: node's path, then its flags and the script in the replayed image. */
  const entrypoint = (): [string, string[]] => {
    const [node, ...args] = execForm(of(runtime, 'ENTRYPOINT')[0] ?? '[]');
    assert.equal(node, 'node');
    const cli = args.pop() ?? '';
    return [process.execPath, [...args, join(runtimeRoot(), cli)]];
  };

  it('holds package.json, production node_modules and dist/ only — no sources, no dev dependencies', async () => {
    const app = join(runtimeRoot(), 'app');
    assert.deepEqual((await readdir(app)).sort(), ['dist', 'node_modules', 'package-lock.json', 'package.json']);
    const modules = new Set(await readdir(join(app, 'node_modules')));
    for (const dep of ['koa', 'got', 'pino', 'prom-client', 'keyv', 'yauzl', 'yaml']) assert.ok(modules.has(dep), `production dependency ${dep}`);
    for (const dev of ['typescript', 'tsx', 'pino-pretty', 'nuget-exe', 'kubernetes-models']) assert.ok(!modules.has(dev), `dev dependency ${dev} in the image`);
    assert.ok(existsSync(join(app, 'dist/src/cli/nuget-proxy.js')));
    assert.ok(existsSync(join(app, 'dist/src/rewrite-worker.js')), 'the rewrite worker is built');
  });

  it('ENTRYPOINT --help works', async () => {
    const [node, args] = entrypoint();
    const r = await run(node, [...args, '--help'], { cwd: join(runtimeRoot(), 'app'), env: { PATH: process.env.PATH, ...envOf(runtime) } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: nuget-proxy <command>/);
  });

  it('ENTRYPOINT + CMD serves a feed, HEALTHCHECK passes while it runs and fails after, SIGTERM exits 0', async () => {
    const [node, args] = entrypoint();
    const port = await freePort();
    const cacheDir = join(scratch, 'data');
    await mkdir(cacheDir);
    // The image's environment, except: loopback instead of 0.0.0.0 (tests never listen wider), a free port,
    // a temp cache dir, the fake upstream.
    const env = {
      PATH: process.env.PATH,
      ...envOf(runtime),
      NUGET_PROXY_HOST: '127.0.0.1',
      NUGET_PROXY_PORT: String(port),
      NUGET_PROXY_CACHE_DIR: cacheDir,
      NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
      NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '5000',
    };
    const cmd = execForm(of(runtime, 'CMD')[0] ?? '[]');
    const server = startProcess(node, [...args, ...cmd], { cwd: join(runtimeRoot(), 'app'), env });
    const base = `http://127.0.0.1:${port}`;
    const healthcheck = async () => {
      const argv = execForm(/\bCMD\s+(\[.*\])$/.exec(of(runtime, 'HEALTHCHECK')[0] ?? '')?.[1] ?? '[]');
      return run(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH, NUGET_PROXY_PORT: String(port) }, timeoutMs: 10_000 });
    };
    try {
      await waitFor('the proxy to listen', 20_000, async () => {
        if (server.child.exitCode !== null) throw new Error(`exited:\n${server.output()}`);
        return (await fetch(`${base}/healthz`)).ok ? true : undefined;
      });
      assert.equal((await healthcheck()).code, 0, 'HEALTHCHECK passes');
      const index = (await (await fetch(`${base}/v3/index.json`)).json()) as { resources: Array<{ '@type': string }> };
      assert.ok(index.resources.some((r) => r['@type'] === 'PackageBaseAddress/3.0.0'));
      const versions = await fetch(`${base}/v3/flatcontainer/contoso.paged/index.json`);
      assert.equal(versions.status, 200);
      const nupkg = await fetch(`${base}/v3/flatcontainer/contoso.paged/1.0.1/contoso.paged.1.0.1.nupkg`);
      assert.equal(nupkg.status, 200);
      assert.equal(Buffer.from(await nupkg.arrayBuffer()).subarray(0, 2).toString(), 'PK');
      const registration = await fetch(`${base}/v3/registration/semver2/contoso.paged/index.json`);
      assert.equal(registration.status, 200, 'large JSON through the rewrite workers');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^nuget_proxy_process_cpu_seconds_total /m, 'serve exports the default Node.js metrics');
      assert.equal(await server.stop('SIGTERM'), 0, `exit code after SIGTERM:\n${server.output()}`);
      assert.doesNotMatch(server.output(), /without nuget-proxy's heap settings/, 'the ENTRYPOINT gives node the heap settings');
      assert.equal((await healthcheck()).code, 1, 'HEALTHCHECK fails once the proxy is gone');
    } finally {
      await server.stop('SIGKILL');
    }
  });
});

describe('docker-compose.yml', () => {

  it('passes `docker-compose config -q` (Debian docker-compose v1)', async () => {
    const r = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: REPO });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('docker-compose does validate: it rejects an unknown service key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nuget-proxy-compose-'));
    try {
      await writeFile(join(dir, 'docker-compose.yml'), 'services:\n  a:\n    image: redis:7.4.1-alpine\n    restartt: always\n');
      const r = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir });
      assert.notEqual(r.code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs nuget-proxy (built here), Redis, Prometheus and Grafana on pinned images with named volumes', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['grafana', 'nuget-proxy', 'prometheus', 'redis']);
    for (const [name, s] of Object.entries(compose.services)) {
      assert.match(s.image ?? '', /^[a-z0-9./-]+:(v?\d+\.\d+\.\d+)(-[a-z0-9.]+)?$/, `${name}: image pinned to a version, got ${s.image}`);
    }
    assert.equal(compose.services['nuget-proxy']?.build, '.');
    const named = new Set(Object.keys(compose.volumes));
    const usedNamed = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0] ?? '')).filter((v) => !v.startsWith('.'));
    assert.deepEqual(new Set(usedNamed), named, 'every named volume declared and used');
    assert.ok(compose.services['nuget-proxy']?.volumes?.includes('nuget-cache:/data'), 'the cache is a named volume at /data');
  });

  it('wires the services together: Redis URL, scrape target, Grafana datasource, graceful stop', async () => {
    const proxy = compose.services['nuget-proxy'] as Service;
    assert.match(proxy.environment?.['NUGET_PROXY_REDIS_URL'] ?? '', /^redis:\/\/redis:6379\b/);
    const grace = /^(\d+)s$/.exec(proxy.stop_grace_period ?? '')?.[1];
    assert.ok(Number(grace) * 1000 > Number(proxy.environment?.['NUGET_PROXY_SHUTDOWN_TIMEOUT_MS']), 'stop_grace_period > shutdown timeout');
    for (const p of Object.values(compose.services).flatMap((s) => s.ports ?? [])) assert.match(p, /^(\$\{NUGET_PROXY_BIND:-127\.0\.0\.1\}|127\.0\.0\.1):/, `published on loopback by default: ${p}`);
    const prom = parseYaml(await readFile(join(REPO, 'prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
    const job = prom.scrape_configs.find((j) => j.job_name === 'nuget-proxy');
    assert.deepEqual(job?.static_configs[0]?.targets, [`nuget-proxy:${defaultPort}`]);
    assert.ok(compose.services['prometheus']?.volumes?.includes('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
  });
});

describe('docker-compose.s3.yml (object storage override)', () => {
  const composeEnv = (extra: Record<string, string>) => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });
  const merged = async (extra: Record<string, string>) =>
    run('docker-compose', ['-f', 'docker-compose.yml', '-f', 'docker-compose.s3.yml', 'config'], { cwd: REPO, env: composeEnv(extra) });

  it('passes `docker-compose -f docker-compose.yml -f docker-compose.s3.yml config -q` once a bucket is named', async () => {
    const r = await run('docker-compose', ['-f', 'docker-compose.yml', '-f', 'docker-compose.s3.yml', 'config', '-q'], { cwd: REPO, env: composeEnv({ NUGET_PROXY_BLOB_STORE: 's3://nuget-cache/prod' }) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('refuses to start without NUGET_PROXY_BLOB_STORE, naming it', async () => {
    const r = await merged({});
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /set NUGET_PROXY_BLOB_STORE=s3:\/\/bucket\/prefix/);
  });

  it('adds the object storage variables to nuget-proxy only, keeping Redis and the rest of the default', async () => {
    const override = parseYaml(await readFile(join(REPO, 'docker-compose.s3.yml'), 'utf8')) as { services: Record<string, Service> };
    assert.deepEqual(Object.keys(override.services), ['nuget-proxy']);
    assert.deepEqual(Object.keys(override.services['nuget-proxy'] ?? {}), ['environment']);
    const names = Object.keys(override.services['nuget-proxy']?.environment ?? {}).sort();
    assert.deepEqual(names, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'NUGET_PROXY_BLOB_STORE', 'NUGET_PROXY_S3_ENDPOINT', 'NUGET_PROXY_S3_FORCE_PATH_STYLE', 'NUGET_PROXY_S3_REGION']);
    const r = await merged({ NUGET_PROXY_BLOB_STORE: 's3://nuget-cache/prod', NUGET_PROXY_S3_ENDPOINT: 'https://minio.example:9000', NUGET_PROXY_S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' });
    assert.equal(r.code, 0, r.stderr);
    const config = parseYaml(r.stdout) as { services: Record<string, Service> };
    const env = config.services['nuget-proxy']?.environment ?? {};
    assert.equal(env['NUGET_PROXY_BLOB_STORE'], 's3://nuget-cache/prod');
    assert.equal(env['NUGET_PROXY_S3_ENDPOINT'], 'https://minio.example:9000');
    assert.equal(env['NUGET_PROXY_S3_FORCE_PATH_STYLE'], 'true');
    assert.equal(env['AWS_ACCESS_KEY_ID'], 'AKIAEXAMPLE');
    assert.match(env['NUGET_PROXY_REDIS_URL'] ?? '', /^redis:\/\/redis:6379\b/, 'Redis stays: one fill across restarts and replicas');
    assert.deepEqual(Object.keys(config.services).sort(), Object.keys(compose.services).sort());
  });

  it('leaves the default compose file on the cache volume', () => {
    const env = compose.services['nuget-proxy']?.environment ?? {};
    for (const name of Object.keys(env)) assert.doesNotMatch(name, /^(NUGET_PROXY_BLOB_STORE|NUGET_PROXY_S3_|AWS_)/, `${name} in the default`);
    assert.ok(compose.services['nuget-proxy']?.volumes?.includes('nuget-cache:/data'));
  });
});
