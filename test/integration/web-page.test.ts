// The web page over plain HTTP against a real proxy and a real fake upstream: status codes (400 for bad
// input, 404 for what the cache does not hold, never 500), security headers, what the overview and the
// package page say, the catalog following fills and another process's import, the public URL prefix and
// the access-token gate. The browser tests (test/e2e/web-browser.test.ts) cover rendering and scripts.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeBlob } from '../../src/storage/blob-store.ts';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { bumpGeneration } from '../../src/storage/generation.ts';
import { packageKey } from '../../src/storage/layout.ts';
import { buildPackage } from '../helpers/packages.ts';
import { makeTempDir, startProxy } from '../helpers/proxy.ts';
import { FAILING_PACKAGE, pagingPackages, startWebFixture, type WebFixture } from '../helpers/web-fixture.ts';

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The text of HTML-escaped content (the snippets are shown escaped). */
function unescaped(body: string): string {
  return body.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Package ids in the list table, in order. */
function listedIds(body: string): string[] {
  const table = /<table class="list" id="package-list">([\s\S]*?)<\/table>/.exec(body)?.[1] ?? '';
  return [...table.matchAll(/<a href="\/packages\/([^"/]+)">/g)].map((m) => m[1] ?? '');
}

describe('web page over HTTP', () => {
  let fx: WebFixture;
  let base: string;

  before(async () => {
    fx = await startWebFixture({ packages: pagingPackages(55) });
    base = fx.proxy.url;
  });
  after(() => fx.dispose());

  it('serves the overview with strict security headers', async () => {
    const r = await get(`${base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /script-src|unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(r.body, /<script/i);
    assert.doesNotMatch(r.body, /(src|href)="(https?:)?\/\/(?!127\.0\.0\.1)/, 'no resource from another host');
  });

  it('shows the upstream and its breaker, Redis, storage, traffic and the failed fill with its reason', async () => {
    const { body } = await get(`${base}/`);
    const upstreamHost = new URL(fx.upstream.url).host;
    assert.match(body, new RegExp(`<strong>${upstreamHost.replace(/\./g, '\\.')}</strong>`));
    assert.match(body, /<span class="badge ok">reachable<\/span>/);
    assert.match(body, /id="redis"><h3>Redis<\/h3><span class="badge none">not configured/);
    assert.match(body, /id="storage">[\s\S]*?60 packages, 64 versions/);
    // Every package was filled through /v3 (and one fill failed): the traffic card counted them.
    const requests = Number(/([0-9,]+) requests · /.exec(body)?.[1]?.replace(/,/g, ''));
    assert.ok(requests >= 65, `requests counted: ${requests}`);
    assert.match(body, new RegExp(`${FAILING_PACKAGE.id.toLowerCase()}</a> <span class="mono">1\\.0\\.0</span>[\\s\\S]*?UPSTREAM_STATUS</span> <span class="small">upstream [^<]* answered HTTP 500`));
    assert.ok(unescaped(body).includes(`<add key="nuget-proxy" value="${base}/v3/index.json" protocolVersion="3" allowInsecureConnections="true" />`));
  });

  it('searches and pages the package list', async () => {
    const first = listedIds((await get(`${base}/`)).body);
    const second = listedIds((await get(`${base}/?page=2`)).body);
    assert.equal(first.length, 50);
    assert.equal(second.length, 10);
    assert.deepEqual([...first, ...second], [...first, ...second].sort(), 'sorted by id across pages');
    assert.equal(new Set([...first, ...second]).size, 60);
    const search = await get(`${base}/?q=RESILIENCE`);
    assert.deepEqual(listedIds(search.body), ['contoso.http.resilience']);
    assert.match(search.body, /1 cached package matches <span class="mono">RESILIENCE<\/span>/);
    assert.deepEqual(listedIds((await get(`${base}/?q=paging+pkg.05`)).body), ['paging.pkg.050', 'paging.pkg.051', 'paging.pkg.052', 'paging.pkg.053', 'paging.pkg.054']);
    assert.match((await get(`${base}/?q=no-such-thing`)).body, /No cached package id contains that text/);
    const bySize = listedIds((await get(`${base}/?sort=size`)).body);
    assert.equal(bySize.length, 50);
    assert.notDeepEqual(bySize, first);
  });

  it('shows a package: versions, dependencies per framework, license, readme and how to use it', async () => {
    const r = await get(`${base}/packages/Contoso.Http.Resilience`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<h1 id="package-id">Contoso\.Http\.Resilience <span class="muted mono">1\.1\.0<\/span>/, 'newest stable by default');
    assert.match(r.body, /<h4>net8\.0<\/h4><ul><li><a href="\/packages\/contoso\.core">Contoso\.Core<\/a> <span class="mono small">\[2\.1\.0, \)/);
    assert.match(r.body, /<h4>\.NETFramework4\.7\.2<\/h4>[\s\S]*?<li>System\.Net\.Http\.Extras <span/, 'a dependency the cache does not hold is not linked');
    assert.match(r.body, /id="package-license"><span class="mono">Apache-2\.0<\/span>/);
    assert.match(r.body, /<div class="readme" id="readme"><h1>Contoso\.Http\.Resilience<\/h1>/);
    assert.match(r.body, /<td class="align-right">3<\/td>/);
    assert.match(r.body, /&lt;PackageReference Include=&quot;Contoso\.Http\.Resilience&quot; Version=&quot;1\.1\.0&quot; \/&gt;/);
    assert.match(r.body, /<img src="\/ui\/icon\/contoso\.http\.resilience\/1\.1\.0" alt="">/);
    for (const v of ['1.2.0-preview.1', '1.1.0', '1.0.0']) assert.match(r.body, new RegExp(`href="/packages/contoso.http.resilience/${v}"`));
    const pre = await get(`${base}/packages/contoso.http.resilience/1.2.0-PREVIEW.1`);
    assert.equal(pre.status, 200);
    assert.match(pre.body, /<span class="muted mono">1\.2\.0-preview\.1<\/span>/);
  });

  it('serves cached icons as images and nothing else', async () => {
    const icon = await fetch(`${base}/ui/icon/contoso.http.resilience/1.1.0`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/png');
    assert.equal((await icon.arrayBuffer()).byteLength > 50, true);
    assert.equal((await get(`${base}/ui/icon/contoso.core/2.2.0`)).status, 404);
  });

  const cases: Array<[string, number]> = [
    ['/packages/no.such.package', 404],
    ['/packages/contoso.core/9.9.9', 404],
    ['/packages/bad..id', 400],
    ['/packages/%ZZ', 400],
    ['/packages/contoso.core/not-a-version', 400],
    ['/packages/contoso.core/1.0.0/extra', 404],
    ['/packages/', 404],
    [`/packages/${'a'.repeat(101)}`, 400],
    ['/?page=0', 400],
    ['/?page=abc', 400],
    ['/?page=1e3', 400],
    ['/?page=99', 404],
    ['/?sort=bogus', 400],
    [`/?q=${'x'.repeat(201)}`, 400],
    ['/?q=a&q=b', 400],
    ['/?q=%00%3Cscript%3E', 200],
    ['/ui/icon/contoso.core/x..y', 400],
    ['/ui/icon/no.such/1.0.0', 404],
    ['/ui/nothing', 404],
    ['/ui/login', 303],
  ];
  for (const [path, status] of cases) {
    it(`GET ${path.slice(0, 60)} → ${status}`, async () => {
      const r = await get(`${base}${path}`);
      assert.equal(r.status, status, r.body.slice(0, 300));
      if (status === 400 || status === 404) assert.match(r.headers.get('content-type') ?? '', /text\/(html|plain)/);
    });
  }

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.text()).length, 0);
    assert.equal((await get(`${base}/`, { method: 'POST' })).status, 405);
    assert.equal((await get(`${base}/ui/login`, { method: 'POST', body: 'token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 303, 'no token configured: back to the page');
  });

  it('lists a package as soon as a fill commits it', async () => {
    const dir = await makeTempDir('web-new-package');
    const path = join(dir, 'late.arrival.1.0.0.nupkg');
    await writeFile(path, buildPackage({ id: 'Late.Arrival', version: '1.0.0' }));
    await fx.upstream.addPackage(path);
    assert.deepEqual(listedIds((await get(`${base}/?q=late`)).body), []);
    await fx.fill('Late.Arrival', '1.0.0');
    let ids: string[] = [];
    for (let i = 0; i < 50 && ids.length === 0; i++) {
      ids = listedIds((await get(`${base}/?q=late`)).body);
      if (ids.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(ids, ['late.arrival']);
  });

  it('picks up what another process imported once the generation stamp changes', async () => {
    const store = new DiskBlobStore(fx.proxy.cacheDir);
    await writeBlob(store, packageKey('imported.by.tool', '2.0.0', 'nupkg'), buildPackage({ id: 'Imported.By.Tool', version: '2.0.0' }));
    await bumpGeneration(store);
    let ids: string[] = [];
    // The proxy checks the stamp at most once a second; the rebuild runs in the background.
    for (let i = 0; i < 40 && ids.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      ids = listedIds((await get(`${base}/?q=imported`)).body);
    }
    assert.deepEqual(ids, ['imported.by.tool']);
  });
});

describe('web page behind a public URL with a path prefix', () => {
  it('links and the nuget.config snippet use the public URL', async () => {
    const proxy = await startProxy({ NUGET_PROXY_PUBLIC_URL: 'https://mirror.corp.invalid/nuget', NUGET_PROXY_OFFLINE: 'true' });
    try {
      const r = await get(`${proxy.url}/nuget/`);
      assert.equal(r.status, 200);
      assert.match(r.body, /href="\/nuget\/ui\/style\.css\?v=[0-9a-f]{12}"/);
      assert.ok(unescaped(r.body).includes('value="https://mirror.corp.invalid/nuget/v3/index.json" protocolVersion="3" />'));
      assert.match(r.body, /<span class="badge none">offline mode<\/span>/);
      assert.match(r.body, /The cache holds no package yet/);
      assert.equal((await get(`${proxy.url}/nuget/ui/style.css`)).status, 200);
    } finally {
      await proxy.dispose();
    }
  });
});

describe('web page access token (--ui-token)', () => {
  const TOKEN = 'correct horse battery staple';

  it('gates the page and its assets, not the NuGet API', async () => {
    const proxy = await startProxy({ NUGET_PROXY_UI_TOKEN: TOKEN, NUGET_PROXY_OFFLINE: 'true' });
    try {
      const base = proxy.url;
      for (const path of ['/', '/?q=x', '/packages/some.package', '/ui/style.css', '/ui/favicon.svg', '/ui/icon/some.package/1.0.0']) {
        const r = await get(`${base}${path}`);
        assert.equal(r.status, 401, path);
        assert.match(r.body, /<form method="post" action="\/ui\/login">/, path);
        assert.doesNotMatch(r.body, /Status|cached packages/, `${path} shows nothing of the cache`);
      }
      const login = await get(`${base}/`);
      assert.match(login.headers.get('content-security-policy') ?? '', /style-src 'sha256-[A-Za-z0-9+/=]+'; img-src data:/);
      assert.equal((await get(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      assert.equal((await get(`${base}/`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      assert.equal((await get(`${base}/healthz`)).status, 200);
      assert.notEqual((await get(`${base}/v3/index.json`)).status, 401, 'the NuGet API is not gated');

      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const wrong = await get(`${base}/ui/login`, { method: 'POST', headers: form, body: 'token=nope' });
      assert.equal(wrong.status, 401);
      assert.match(wrong.body, /That token is not right/);
      assert.equal(wrong.headers.get('set-cookie'), null);
      const right = await get(`${base}/ui/login`, { method: 'POST', headers: form, body: new URLSearchParams({ token: TOKEN }).toString() });
      assert.equal(right.status, 303);
      assert.equal(right.headers.get('location'), '/');
      const cookie = (right.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      assert.match(right.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
      assert.doesNotMatch(cookie, /horse/);
      assert.equal((await get(`${base}/`, { headers: { cookie } })).status, 200);
      assert.equal((await get(`${base}/ui/style.css`, { headers: { cookie } })).status, 200);

      assert.equal((await get(`${base}/ui/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 415);
      assert.equal((await get(`${base}/ui/login`, { method: 'POST', headers: form, body: `token=${'x'.repeat(10_000)}` })).status, 413);
      const logout = await get(`${base}/ui/logout`, { headers: { cookie } });
      assert.equal(logout.status, 303);
      assert.match(logout.headers.get('set-cookie') ?? '', /Max-Age=0/);
      // The token never reaches the log.
      assert.doesNotMatch(JSON.stringify(proxy.logs()), /horse/);
    } finally {
      await proxy.dispose();
    }
  });
});
