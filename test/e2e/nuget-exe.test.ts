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
