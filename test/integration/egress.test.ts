// Corporate egress: upstream calls through a real forward proxy (tinyproxy on loopback) — CONNECT for an
// https upstream trusted through --upstream-ca-file, absolute-URI forwarding for http, NO_PROXY bypass —
// and upstream credentials (basic, bearer, custom header) sent only to the upstream's own origin.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy } from '../helpers/proxy.ts';
import { freePort } from '../helpers/redis.ts';
import { createSelfSignedCertificate } from '../helpers/tls.ts';

let httpsUpstream: FakeUpstream;
let httpUpstream: FakeUpstream;
let tinyproxy: ChildProcess;
let tinyLog: string;
let forwardProxy: string;
let caFile: string;

before(async () => {
  const dir = await makeTempDir('egress');
  const cert = createSelfSignedCertificate('upstream');
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, cert.cert);
  httpsUpstream = await startStandardFakeUpstream({ tls: cert, includeRealPackages: false });
  httpUpstream = await startStandardFakeUpstream({ includeRealPackages: false });
  const port = await freePort();
  tinyLog = join(dir, 'tinyproxy.log');
  const conf = join(dir, 'tinyproxy.conf');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      'Allow 127.0.0.1',
      `LogFile "${tinyLog}"`,
      'LogLevel Connect',
      'MaxClients 50',
      `ConnectPort ${httpsUpstream.port}`,
      `ConnectPort ${httpsUpstream.searchPort}`,
      '',
    ].join('\n'),
  );
  tinyproxy = spawn('tinyproxy', ['-d', '-c', conf], { stdio: 'ignore' });
  forwardProxy = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await fetch(`${forwardProxy}/`).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error('tinyproxy did not start');
    await sleep(50);
  }
});

after(async () => {
  tinyproxy?.kill('SIGTERM');
  await httpsUpstream?.stop();
  await httpUpstream?.stop();
});

async function tinyproxyLog(): Promise<string> {
  return readFile(tinyLog, 'utf8').catch(() => '');
}

test('https upstream through HTTPS_PROXY uses CONNECT and the extra CA bundle', async () => {
  const proxy = await startProxy({
    NUGET_PROXY_UPSTREAM: httpsUpstream.serviceIndexUrl,
    NUGET_PROXY_UPSTREAM_CA_FILE: caFile,
    HTTPS_PROXY: forwardProxy,
  });
  try {
    const r = await fetch(`${proxy.url}/v3/flatcontainer/contoso.mixedcase.lib/1.0.0/contoso.mixedcase.lib.1.0.0.nupkg`);
    assert.equal(r.status, 200);
    assert.equal(Buffer.from(await r.arrayBuffer()).subarray(0, 2).toString(), 'PK');
    const s = await fetch(`${proxy.url}/v3/search/query?q=contoso`);
    assert.equal(s.status, 200);
    const log = await tinyproxyLog();
    assert.match(log, new RegExp(`CONNECT 127\\.0\\.0\\.1:${httpsUpstream.port}`), log.slice(-2000));
    assert.match(log, new RegExp(`CONNECT 127\\.0\\.0\\.1:${httpsUpstream.searchPort}`));
  } finally {
    await proxy.dispose();
  }
});

test('without the CA bundle the https upstream is refused (a 5xx, nothing cached)', async () => {
  const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: httpsUpstream.serviceIndexUrl, HTTPS_PROXY: forwardProxy, NUGET_PROXY_UPSTREAM_RETRIES: '0' });
  try {
    const r = await fetch(`${proxy.url}/v3/flatcontainer/contoso.mixedcase.lib/index.json`);
    assert.ok(r.status >= 500, `status ${r.status}`);
  } finally {
    await proxy.dispose();
  }
});

test('http upstream through HTTP_PROXY; NO_PROXY bypasses the forward proxy', async () => {
  const via = await startProxy({ NUGET_PROXY_UPSTREAM: httpUpstream.serviceIndexUrl, HTTP_PROXY: forwardProxy });
  try {
    const before = (await tinyproxyLog()).length;
    assert.equal((await fetch(`${via.url}/v3/flatcontainer/contoso.fourpart/index.json`)).status, 200);
    const added = (await tinyproxyLog()).slice(before);
    assert.match(added, new RegExp(`GET http://127\\.0\\.0\\.1:${httpUpstream.port}/v3-flatcontainer/contoso\\.fourpart/index\\.json`));
  } finally {
    await via.dispose();
  }
  const direct = await startProxy({ NUGET_PROXY_UPSTREAM: httpUpstream.serviceIndexUrl, HTTP_PROXY: forwardProxy, NO_PROXY: 'localhost,127.0.0.1' });
  try {
    const before = (await tinyproxyLog()).length;
    assert.equal((await fetch(`${direct.url}/v3/flatcontainer/contoso.prerelease/index.json`)).status, 200);
    assert.doesNotMatch((await tinyproxyLog()).slice(before), /contoso\.prerelease/);
  } finally {
    await direct.dispose();
  }
});

for (const [name, env, expected] of [
  ['basic', { NUGET_PROXY_UPSTREAM_USERNAME: 'ci', NUGET_PROXY_UPSTREAM_PASSWORD: 's3cret' }, ['authorization', `Basic ${Buffer.from('ci:s3cret').toString('base64')}`]],
  ['bearer', { NUGET_PROXY_UPSTREAM_TOKEN: 'tok-123' }, ['authorization', 'Bearer tok-123']],
  ['custom header', { NUGET_PROXY_UPSTREAM_HEADER: 'X-NuGet-ApiKey: key-456' }, ['x-nuget-apikey', 'key-456']],
] as const) {
  test(`upstream credentials (${name}) go to the upstream origin only, and never into logs`, async () => {
    httpUpstream.resetLog();
    const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: httpUpstream.serviceIndexUrl, ...env });
    try {
      assert.equal((await fetch(`${proxy.url}/v3/flatcontainer/contoso.unlisted/index.json`)).status, 200);
      assert.equal((await fetch(`${proxy.url}/v3/search/query?q=unlisted`)).status, 200);
      const main = httpUpstream.requests().filter((r) => r.server === 'main');
      const search = httpUpstream.requests().filter((r) => r.server === 'search');
      assert.ok(main.length >= 2 && search.length >= 1);
      for (const r of main) assert.equal(r.headers[expected[0]], expected[1], r.path);
      for (const r of search) assert.equal(r.headers[expected[0]], undefined, `credentials leaked to another origin: ${r.path}`);
      const logs = JSON.stringify(proxy.logs());
      assert.ok(!logs.includes(expected[1].split(' ').pop() as string), 'secret in logs');
    } finally {
      await proxy.dispose();
    }
  });
}
