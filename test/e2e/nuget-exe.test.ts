// nuget.exe 5.8 (under Mono) through the proxy: packages.config restore (flat container), install
// (registration + packageContent), and search — including a package whose registration is paged.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freshClientState, nugetConfigXml, nugetExe, sha512File } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

let upstream: FakeUpstream;
let proxy: TestProxy;
let workDir: string;

before(async () => {
  upstream = await startStandardFakeUpstream();
  proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
  workDir = await makeTempDir('nugetexe');
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

async function solutionDir(name: string): Promise<string> {
  const dir = join(workDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nuget.config'), nugetConfigXml({ url: `${proxy.url}/v3/index.json` }));
  return dir;
}

function onlyProxyReachedUpstream(): void {
  const others = upstream.requests().filter((r) => !String(r.headers['user-agent'] ?? '').startsWith('nuget-proxy/'));
  assert.deepEqual(others.map((r) => r.path), [], 'clients must never reach upstream directly');
}

test('nuget.exe restore of a packages.config through the proxy', async () => {
  const dir = await solutionDir('restore');
  await writeFile(
    join(dir, 'packages.config'),
    `<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="Newtonsoft.Json" version="13.0.3" targetFramework="net48" />
  <package id="xunit.abstractions" version="2.0.3" targetFramework="net48" />
  <package id="Contoso.MixedCase.Lib" version="1.1.0" targetFramework="net48" />
</packages>
`,
  );
  const state = await freshClientState();
  const r = await nugetExe(['restore', 'packages.config', '-PackagesDirectory', 'packages', '-ConfigFile', 'nuget.config'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const nj = join(dir, 'packages', 'Newtonsoft.Json.13.0.3', 'Newtonsoft.Json.13.0.3.nupkg');
  assert.ok(existsSync(nj), (await readdir(join(dir, 'packages'))).join(','));
  assert.equal(await sha512File(nj), await sha512File('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg'));
  assert.ok(existsSync(join(dir, 'packages', 'Contoso.MixedCase.Lib.1.1.0')));
  onlyProxyReachedUpstream();
});

test('nuget.exe install walks registration (paged) and downloads from packageContent through the proxy', async () => {
  upstream.resetLog();
  const dir = await solutionDir('install');
  const state = await freshClientState();
  const paged = await nugetExe(['install', 'Contoso.Paged', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], dir, state);
  assert.equal(paged.code, 0, paged.stdout + paged.stderr);
  assert.ok(existsSync(join(dir, 'out', 'Contoso.Paged.1.0.139')), (await readdir(join(dir, 'out'))).join(','));
  // The latest version sits on the third, separate registration page: the proxy served it.
  assert.ok(upstream.count(/\/contoso\.paged\/page\/1\.0\.128\/1\.0\.139\.json$/) >= 1);
  const nj = await nugetExe(['install', 'Newtonsoft.Json', '-Version', '13.0.3', '-OutputDirectory', 'out', '-ConfigFile', 'nuget.config'], dir, state);
  assert.equal(nj.code, 0, nj.stdout + nj.stderr);
  const file = join(dir, 'out', 'Newtonsoft.Json.13.0.3', 'Newtonsoft.Json.13.0.3.nupkg');
  assert.equal(await sha512File(file), await sha512File('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg'));
  onlyProxyReachedUpstream();
});

test('nuget.exe search through the proxy', async () => {
  upstream.resetLog();
  const dir = await solutionDir('search');
  const state = await freshClientState();
  const r = await nugetExe(['search', 'contoso', '-Source', `${proxy.url}/v3/index.json`, '-Take', '50'], dir, state);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Contoso\.MixedCase\.Lib/);
  assert.match(r.stdout, /Contoso\.Paged/);
  assert.ok(upstream.count(/\/query\?/, { server: 'search' }) >= 1);
  onlyProxyReachedUpstream();
});
