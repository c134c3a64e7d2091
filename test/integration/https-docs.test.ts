// docs/https.md's nginx example, as written, in front of a real proxy: nginx-light on 127.0.0.1 with a
// self-signed certificate, the proxy with --trust-proxy. Every URL the service index hands out is https on
// nginx's address, and a package downloaded through it is byte-identical — so the documented settings work.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { createSelfSignedCertificate, type Certificate } from '../helpers/tls.ts';

const DOC = new URL('../../docs/https.md', import.meta.url);

let upstream: FakeUpstream;
let proxy: TestProxy;
let nginx: ChildProcess;
let dir: string;
let cert: Certificate;
let port: number;

/** The nginx block that follows the `https-nginx` marker in docs/https.md. */
async function documentedServerBlock(): Promise<string> {
  const text = await readFile(DOC, 'utf8');
  const m = /<!-- https-nginx:[^>]*-->\s*```nginx\n([\s\S]*?)```/.exec(text);
  assert.ok(m?.[1], 'docs/https.md has the marked nginx example');
  return m[1];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return p;
}

function get(path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, ca: cert.cert, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

before(async () => {
  upstream = await startStandardFakeUpstream();
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_TRUST_PROXY: 'true' });
  dir = await makeTempDir('https-docs');
  cert = createSelfSignedCertificate();
  await writeFile(join(dir, 'cert.pem'), cert.cert);
  await writeFile(join(dir, 'key.pem'), cert.key, { mode: 0o600 });
  port = await freePort();
  const proxyPort = new URL(proxy.url).port;
  const block = (await documentedServerBlock())
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${port} ssl;`)
    .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${join(dir, 'cert.pem')};`)
    .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${join(dir, 'key.pem')};`)
    .replace(/proxy_pass http:\/\/127\.0\.0\.1:5555;/, `proxy_pass http://127.0.0.1:${proxyPort};`);
  assert.ok(block.includes(`127.0.0.1:${port} ssl`) && block.includes(`127.0.0.1:${proxyPort};`), 'the example has the lines this test adapts');
  const conf = [
    // Started by root, workers would run as nobody and could not read this test's private folder.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    'daemon off;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events {}',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(dir, 'body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    block,
    '}',
  ].join('\n');
  await writeFile(join(dir, 'nginx.conf'), conf);
  nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await get('/healthz').then((r) => r.status === 200, () => false);
    if (ok) break;
    if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not come up: ${stderr} ${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  nginx?.kill('SIGTERM');
  await proxy?.dispose();
  await upstream?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('the documented nginx example: an https service index on nginx\'s address, and packages byte-identical', async () => {
  const index = await get('/v3/index.json');
  assert.equal(index.status, 200);
  const ids = [...index.body.toString('utf8').matchAll(/"@id":\s*"([^"]+)"/g)].map((m) => m[1] as string);
  // Links clients only show (package details, report abuse) stay at upstream; everything else is served here.
  const upstreamOrigin = new URL(upstream.serviceIndexUrl).origin;
  const served = ids.filter((id) => !id.startsWith(`${upstreamOrigin}/`));
  assert.ok(served.length >= 5, `${served.length} resources served by the proxy`);
  for (const id of served) assert.ok(id.startsWith(`https://127.0.0.1:${port}/`), `${id} is on nginx's https address`);
  assert.ok(!ids.some((id) => id.startsWith(proxy.url)), 'the proxy\'s own http address is never handed out');
  const pkg = await get('/v3/flatcontainer/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg');
  assert.equal(pkg.status, 200);
  const expected = await readFile('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg');
  assert.equal(createHash('sha512').update(pkg.body).digest('hex'), createHash('sha512').update(expected).digest('hex'));
});
