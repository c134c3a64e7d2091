// X-Cache tells apart how every resource was answered: MISS (filled from upstream now), COALESCED (waited
// for a fill another request started), HIT (from the cache), STALE (an expired copy, upstream failing) and
// LOCAL (built from what the proxy holds: its own service index, held versions, synthesized
// registration, local search).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStandardFakeUpstream, type FakeUpstream, type ServerName } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';

interface Resource {
  readonly name: string;
  readonly path: string;
  /** Its upstream request (for a delay fault that makes two requests overlap). */
  readonly match: string | RegExp;
  readonly server?: ServerName;
  /** Metadata (expires, may be served stale) or an immutable package file. */
  readonly expires: boolean;
  /** Answered from what the proxy holds when upstream is gone and nothing is cached. */
  readonly local: boolean;
}

const RESOURCES: readonly Resource[] = [
  { name: 'service index', path: '/v3/index.json', match: '/v3/index.json', expires: true, local: true },
  { name: 'versions', path: '/v3/flatcontainer/contoso.tool/index.json', match: '/v3-flatcontainer/contoso.tool/index.json', expires: true, local: true },
  { name: 'registration index', path: '/v3/registration/semver2/contoso.tool/index.json', match: '/v3/registration5-gz-semver2/contoso.tool/index.json', expires: true, local: true },
  { name: 'registration page', path: '/v3/registration/semver2/contoso.paged/page/1.0.0/1.0.63.json', match: '/v3/registration5-gz-semver2/contoso.paged/page/1.0.0/1.0.63.json', expires: true, local: false },
  { name: 'nupkg', path: '/v3/flatcontainer/contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg', match: '/v3-flatcontainer/contoso.dependent/1.0.0/contoso.dependent.1.0.0.nupkg', expires: false, local: false },
  { name: 'nuspec', path: '/v3/flatcontainer/contoso.deprecated/1.0.0/contoso.deprecated.nuspec', match: '/v3-flatcontainer/contoso.deprecated/1.0.0/contoso.deprecated.nuspec', expires: false, local: false },
  { name: 'search', path: '/v3/search/query?q=contoso&take=3', match: /\/query\?/, server: 'search', expires: true, local: true },
  { name: 'autocomplete', path: '/v3/search/autocomplete?q=contoso', match: /\/autocomplete\?/, server: 'search', expires: true, local: true },
  { name: 'vulnerability index', path: '/v3/vulnerabilities/index.json', match: '/v3/vulnerabilities/index.json', expires: true, local: false },
];

const TTL = {
  NUGET_PROXY_SERVICE_INDEX_TTL_SECONDS: '1',
  NUGET_PROXY_VERSIONS_TTL_SECONDS: '1',
  NUGET_PROXY_REGISTRATION_TTL_SECONDS: '1',
  NUGET_PROXY_SEARCH_TTL_SECONDS: '1',
  NUGET_PROXY_VULNERABILITY_TTL_SECONDS: '1',
  NUGET_PROXY_STALE_WAIT_MS: '100',
  NUGET_PROXY_UPSTREAM_RESPONSE_TIMEOUT_MS: '1000',
  NUGET_PROXY_REQUEST_DEADLINE_MS: '1500',
  NUGET_PROXY_REWRITE_WORKERS: '0',
  NUGET_PROXY_LOG_LEVEL: 'warn',
};

let upstream: FakeUpstream;
const proxies: TestProxy[] = [];

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
});

after(async () => {
  for (const p of proxies) await p.dispose();
  await upstream?.stop();
});

async function xCache(proxy: TestProxy, path: string): Promise<string | null> {
  const res = await fetch(proxy.url + path);
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  await res.arrayBuffer();
  return res.headers.get('x-cache');
}

describe('X-Cache', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startProxy({ ...TTL, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
    proxies.push(proxy);
  });

  it('MISS on a cold request, COALESCED for one that waited for it, HIT afterwards — for every resource', async () => {
    for (const r of RESOURCES) {
      // Upstream answers slowly, so the second request arrives while the first one's fill runs.
      const remove = upstream.addFault({ match: r.match, server: r.server ?? 'main', kind: 'delay', ms: 300, times: 1 });
      try {
        const first = xCache(proxy, r.path);
        await sleep(50);
        const second = xCache(proxy, r.path);
        assert.deepEqual([await first, await second], ['MISS', 'COALESCED'], r.name);
      } finally {
        remove();
      }
      // A package's clients get their last byte once the checks pass, before the commit ends; a request in
      // between joins the fill (COALESCED). Once the fill is over: HIT.
      let next = await xCache(proxy, r.path);
      for (let i = 0; i < 50 && next === 'COALESCED' && !r.expires; i++) {
        await sleep(20);
        next = await xCache(proxy, r.path);
      }
      assert.equal(next, 'HIT', r.name);
    }
  });

  it('STALE for expired metadata while upstream does not answer', async () => {
    await sleep(1100);
    upstream.setBlackhole(true, 'both');
    try {
      for (const r of RESOURCES.filter((x) => x.expires)) assert.equal(await xCache(proxy, r.path), 'STALE', r.name);
      // Package files never expire: still HIT.
      for (const r of RESOURCES.filter((x) => !x.expires)) assert.equal(await xCache(proxy, r.path), 'HIT', r.name);
    } finally {
      upstream.setBlackhole(false, 'both');
    }
  });

  it('LOCAL when upstream is gone and only packages are held (service index, versions, registration, search)', async () => {
    const cacheDir = await makeTempDir('x-cache-local');
    const filler = await startProxy({ ...TTL, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl }, { cacheDir });
    proxies.push(filler);
    assert.equal((await fetch(`${filler.url}/v3/flatcontainer/contoso.tool/1.0.0/contoso.tool.1.0.0.nupkg`)).status, 200);
    await filler.stop();
    // The packages stay; every metadata document goes.
    await rm(join(cacheDir, 'metadata'), { recursive: true, force: true });
    upstream.setBlackhole(true, 'both');
    try {
      const cut = await startProxy({ ...TTL, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl }, { cacheDir });
      proxies.push(cut);
      for (const r of RESOURCES.filter((x) => x.local)) assert.equal(await xCache(cut, r.path), 'LOCAL', r.name);
    } finally {
      upstream.setBlackhole(false, 'both');
    }
  });
});
