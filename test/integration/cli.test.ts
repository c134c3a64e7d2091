// The real command line: --help lists every option, help <command>, -h and --version; bad configuration
// refuses to start with one message listing every problem, naming the closest valid option; misspelled
// NUGET_PROXY_* variables are warned about; a pod's Kubernetes service links do not stop serve; `serve
// --port 0` logs the URL it chose, and SIGTERM drains in-flight work.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { COMMANDS, OPTIONS, envName, type Command } from '../../src/config.ts';
import { VERSION } from '../../src/version.ts';
import { runCli, type RunResult } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir } from '../helpers/proxy.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
let upstream: FakeUpstream;

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
});

after(async () => {
  await upstream?.stop();
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, 60_000);
/** One after another: a handful of tsx start-ups at once outlast the time limit on a busy 2-core machine. */
async function clis<const T extends ReadonlyArray<readonly string[]>>(...runs: T): Promise<{ -readonly [K in keyof T]: RunResult }> {
  const out: RunResult[] = [];
  for (const args of runs) out.push(await cli([...args]));
  return out as { -readonly [K in keyof T]: RunResult };
}

test('--help lists every command, and each command\'s help every option with its environment variable', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  for (const c of Object.keys(COMMANDS)) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'));
  for (const command of Object.keys(COMMANDS) as Command[]) {
    const r = await cli([...command.split(' '), '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: nuget-proxy ${command} \\[options\\]`));
    for (const o of OPTIONS.filter((x) => x.commands.includes(command))) {
      assert.match(r.stdout, new RegExp(`--${o.flag}\\b`), `${command} --help lacks --${o.flag}`);
      assert.ok(r.stdout.includes(envName(o)), `${command} --help lacks ${envName(o)}`);
    }
  }
});

test('-h, help <command>, help cache <action> and --version', async () => {
  const [h, helpServe, serveH, helpVerify, cacheAlone, version, serveVersion] = await clis(
    ['-h'],
    ['help', 'serve'],
    ['serve', '-h'],
    ['help', 'cache', 'verify'],
    ['cache'],
    ['--version'],
    ['serve', '--version'],
  );
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage: nuget-proxy <command> \[options\]/m);
  assert.equal(helpServe.code, 0);
  assert.equal(helpServe.stdout, serveH.stdout, 'help serve = serve -h');
  assert.match(helpServe.stdout, /--port <value>/);
  assert.equal(helpVerify.code, 0);
  assert.match(helpVerify.stdout, /^Usage: nuget-proxy cache verify \[options\] \[<id>\[@<version>\]\.\.\.\]/);
  assert.match(helpVerify.stdout, /--quarantine/);
  assert.equal(cacheAlone.code, 2, 'cache needs an action');
  assert.match(cacheAlone.stderr, /cache <list\|stats\|verify\|purge\|pin\|unpin>/);
  assert.equal(version.stdout.trim(), `nuget-proxy ${VERSION}`);
  assert.equal(serveVersion.stdout.trim(), `nuget-proxy ${VERSION}`);
});

test('an unknown command or misspelled option is refused with the closest valid one', async () => {
  const [command, flag, short, stray, cacheAction] = await clis(
    ['serv'],
    ['serve', '--upstream-url', 'https://feed.example/v3/index.json'],
    ['serve', '-p', '5000'],
    ['serve', '5000'],
    ['cache', 'verfy'],
  );
  assert.equal(command.code, 2);
  assert.match(command.stderr, /^nuget-proxy: unknown command 'serv'; did you mean 'serve'\?/);
  assert.equal(flag.code, 2);
  assert.equal(flag.stderr.trim(), "nuget-proxy serve: invalid configuration:\n  - unknown option --upstream-url for 'serve'; did you mean --upstream?");
  assert.equal(short.code, 2, 'serve -p 5000 no longer starts on 5555');
  assert.equal(short.stderr.trim(), 'nuget-proxy serve: invalid configuration:\n  - -p: options take two dashes; did you mean --port?');
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /unexpected argument '5000': 'serve' takes no arguments, only options/);
  assert.equal(cacheAction.code, 2);
  assert.match(cacheAction.stderr, /unknown cache action 'verfy'; did you mean 'verify'\?/);
});

test('bad configuration refuses to start with one message listing every problem', async () => {
  const r = await cli(['serve', '--port', '70000', '--upstream', 'ftp://x', '--bogus', '1'], { NUGET_PROXY_VERSIONS_TTL_SECONDS: 'soon', NUGET_PROXY_TLS_CERT: '/nonexistent.pem' });
  assert.equal(r.code, 2);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('  - '));
  assert.equal(lines.length, 6, r.stderr);
  assert.match(r.stderr, /--port="70000": must be at most 65535/);
  assert.match(r.stderr, /--upstream="ftp:\/\/x": scheme must be http: or https:/);
  assert.match(r.stderr, /unknown option --bogus/);
  assert.match(r.stderr, /NUGET_PROXY_VERSIONS_TTL_SECONDS="soon": must be a whole number/);
  assert.match(r.stderr, /NUGET_PROXY_TLS_CERT.*file not found/);
  assert.match(r.stderr, /--tls-cert and --tls-key must be given together/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

/** Starts `nuget-proxy serve` as a process; resolves with its URL once it logged it. */
async function spawnServe(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/nuget-proxy.ts', 'serve', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline && child.exitCode === null) {
    url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, url, exited, lines, output: () => out + err };
}

test('a misspelled NUGET_PROXY_* variable is a warning that names the closest option; serve still starts', async () => {
  const cacheDir = await makeTempDir('cli-env');
  const s = await spawnServe(['--port', '0'], { NUGET_PROXY_CACHE_DIR: cacheDir, NUGET_PROXY_OFFLINE: 'true', NUGET_PROXY_UPSTREAM_URL: 'https://feed.example/v3/index.json' });
  try {
    assert.ok(s.url, `serve did not start: ${s.output()}`);
    const warning = s.lines().find((l) => l['variable'] === 'NUGET_PROXY_UPSTREAM_URL');
    assert.equal(warning?.['level'], 'warn');
    assert.equal(warning?.['msg'], 'unknown NUGET_PROXY_ variable ignored');
    assert.equal(warning?.['detail'], 'NUGET_PROXY_UPSTREAM_URL is not a nuget-proxy setting and is ignored; did you mean NUGET_PROXY_UPSTREAM (--upstream)?');
    // A tool prints the same sentence on stderr.
    const tool = await cli(['cache', 'stats', '--cache-dir', cacheDir], { NUGET_PROXY_UPSTREAM_URL: 'x' });
    assert.equal(tool.code, 0, tool.stderr);
    assert.match(tool.stderr, /^nuget-proxy cache stats: warning: NUGET_PROXY_UPSTREAM_URL is not a nuget-proxy setting and is ignored; did you mean NUGET_PROXY_UPSTREAM \(--upstream\)\?$/m);
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

test('a pod environment with the Kubernetes service links of a Service named nuget-proxy starts', async () => {
  const cacheDir = await makeTempDir('cli-pod');
  // What the kubelet injects when the pod does not set enableServiceLinks: false (the chart does).
  const serviceLinks = {
    NUGET_PROXY_SERVICE_HOST: '10.96.12.34',
    NUGET_PROXY_SERVICE_PORT: '5555',
    NUGET_PROXY_SERVICE_PORT_HTTP: '5555',
    NUGET_PROXY_PORT: 'tcp://10.96.12.34:5555',
    NUGET_PROXY_PORT_5555_TCP: 'tcp://10.96.12.34:5555',
    NUGET_PROXY_PORT_5555_TCP_PROTO: 'tcp',
    NUGET_PROXY_PORT_5555_TCP_PORT: '5555',
    NUGET_PROXY_PORT_5555_TCP_ADDR: '10.96.12.34',
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
  };
  const s = await spawnServe(['--port', '0'], { ...serviceLinks, NUGET_PROXY_CACHE_DIR: cacheDir, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  try {
    assert.ok(s.url, `serve did not start: ${s.output()}`);
    const health = await fetch(`${s.url}/healthz`);
    assert.equal(health.status, 200);
    const index = await fetch(`${s.url}/v3/index.json`);
    assert.equal(index.status, 200);
    const lines = s.lines();
    const note = lines.find((l) => l['variable'] === 'NUGET_PROXY_PORT');
    assert.equal(note?.['level'], 'info');
    assert.match(String(note?.['detail']), /Kubernetes service link \(a Service named nuget-proxy\), not a port: ignored/);
    assert.deepEqual(lines.filter((l) => l['level'] === 'warn' || l['level'] === 'error'), [], 'no warnings about the service links');
  } finally {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  }
});

test('serve --port 0 logs its URL; SIGTERM lets an in-flight fill and response finish, then exits', async () => {
  const cacheDir = await makeTempDir('cli');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/nuget-proxy.ts', 'serve', '--port', '0', '--cache-dir', cacheDir], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_SHUTDOWN_TIMEOUT_MS: '10000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The default --workers auto starts a process per CPU; on a busy machine that takes a while.
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline) {
    url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(url, `no URL logged: ${out}`);
  const path = '/v3-flatcontainer/contoso.paged/1.0.7/contoso.paged.1.0.7.nupkg';
  upstream.addFault({ match: path, kind: 'delay', ms: 1500, times: 1 });
  const inflight = fetch(`${url}/v3/flatcontainer/contoso.paged/1.0.7/contoso.paged.1.0.7.nupkg`);
  await new Promise((r) => setTimeout(r, 300));
  const signalledAt = Date.now();
  child.kill('SIGTERM');
  const res = await inflight;
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.subarray(0, 2).toString(), 'PK');
  const code = await exited;
  assert.equal(code, 0);
  assert.ok(Date.now() - signalledAt < 10_000, 'exited within the shutdown timeout');
  await assert.rejects(fetch(`${url}/healthz`), 'no longer accepting connections');
  assert.match(out, /"msg":"stopped"/);
});
