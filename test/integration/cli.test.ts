// The real command line: --help lists every option, bad configuration refuses to start with one message
// listing every problem, `serve --port 0` logs the URL it chose, and SIGTERM drains in-flight work.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { OPTIONS, envName } from '../../src/config.ts';
import { runCli } from '../helpers/clients.ts';
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

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, 30_000);

test('--help lists every option of each command with its environment variable', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  for (const c of ['serve', 'prefetch', 'export', 'import']) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'));
  for (const command of ['serve', 'prefetch', 'export', 'import'] as const) {
    const r = await cli([command, '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const o of OPTIONS.filter((x) => x.commands.includes(command))) {
      assert.match(r.stdout, new RegExp(`--${o.flag}\\b`), `${command} --help lacks --${o.flag}`);
      assert.ok(r.stdout.includes(envName(o)), `${command} --help lacks ${envName(o)}`);
    }
  }
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
