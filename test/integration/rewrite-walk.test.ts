// Walks every document type the proxy serves (service index, flat container, all registration hives with
// inlined and separate pages and leaves, search, autocomplete, vulnerability index and pages, repository
// signatures) and checks that no response contains an upstream URL of a resource the proxy serves — and
// that every proxy URL found in a response is itself served. Behind a TLS-terminating reverse proxy
// (--trust-proxy with X-Forwarded-Proto/Host/Prefix), so it also checks that no https document lists http.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { createSelfSignedCertificate } from '../helpers/tls.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

let upstream: FakeUpstream;
let proxy: TestProxy;

const PUBLIC = 'https://nuget.corp.example/mirror';
const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'nuget.corp.example', 'x-forwarded-prefix': '/mirror' };

let upstreamEnv: Record<string, string>;

before(async () => {
  // An https upstream, like nuget.org: it advertises RepositorySignatures.
  const cert = createSelfSignedCertificate('fake-upstream');
  const dir = await makeTempDir('walk');
  await writeFile(join(dir, 'ca.pem'), cert.cert);
  upstream = await startStandardFakeUpstream({ tls: cert });
  upstreamEnv = { NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_UPSTREAM_CA_FILE: join(dir, 'ca.pem') };
  proxy = await startProxy({ ...upstreamEnv, NUGET_PROXY_TRUST_PROXY: 'true' });
});

after(async () => {
  await proxy?.dispose();
  await upstream?.stop();
});

/** Upstream paths whose resources the proxy does NOT serve (links and the catalog may keep upstream URLs). */
const ALLOWED_UPSTREAM = [/\/v3\/catalog0\//, /\/packages\//, /\/profiles\//, /\/api\/v2/];

function strings(doc: unknown, out: string[] = []): string[] {
  if (typeof doc === 'string') out.push(doc);
  else if (Array.isArray(doc)) for (const v of doc) strings(v, out);
  else if (doc && typeof doc === 'object') for (const v of Object.values(doc)) strings(v, out);
  return out;
}

test('no served document leaks an upstream URL of a served resource; every proxy URL in them is served', async () => {
  const seeds = [
    '/v3/index.json',
    ...['contoso.paged', 'contoso.twopages', 'contoso.buildmetadata', 'contoso.iconreadme', 'contoso.unlisted', 'contoso.deprecated', 'newtonsoft.json'].flatMap(
      (id) => [
        `/v3/flatcontainer/${id}/index.json`,
        `/v3/registration/semver2/${id}/index.json`,
        `/v3/registration/gz-semver1/${id}/index.json`,
        `/v3/registration/semver1/${id}/index.json`,
      ],
    ),
    // SemVer 2.0.0-only packages live in the semver2 hive only.
    '/v3/registration/semver2/contoso.semver2dep/index.json',
    '/v3/search/query?q=contoso&take=100&prerelease=true&semVerLevel=2.0.0',
    '/v3/search/query?q=contoso&take=100',
    '/v3/search/autocomplete?q=contoso&semVerLevel=2.0.0',
    '/v3/search/autocomplete?id=contoso.prerelease&prerelease=true&semVerLevel=2.0.0',
    '/v3/vulnerabilities/index.json',
  ];
  // Ids the fake upstream holds (autocomplete lists them all).
  const heldUpstream = new Set<string>();
  for (const p of (await (await fetch(`${proxy.url}/v3/search/autocomplete?q=&take=1000&prerelease=true&semVerLevel=2.0.0`)).json() as { data: string[] }).data) heldUpstream.add(p.toLowerCase());
  assert.ok(heldUpstream.has('newtonsoft.json') && heldUpstream.has('contoso.paged'));
  const queue = [...seeds];
  const seen = new Set<string>();
  const leaks: string[] = [];
  const broken: string[] = [];
  const insecure: string[] = [];
  const kinds = new Set<string>();
  let fetched = 0;
  while (queue.length > 0 && fetched < 3000) {
    const path = queue.shift() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    fetched++;
    const res = await fetch(proxy.url + path, { headers: FORWARDED });
    if (res.status !== 200) {
      // Dependencies of the real packages that the fake feed does not carry are 404 upstream too.
      const dep = /^\/v3\/registration\/[^/]+\/([^/]+)\/index\.json$/.exec(path);
      if (!(res.status === 404 && dep && !heldUpstream.has(dep[1] ?? ''))) broken.push(`${res.status} ${path}`);
      await res.arrayBuffer();
      continue;
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('application/json')) {
      await res.arrayBuffer();
      kinds.add(path.split('/').pop()?.replace(/^.*\./, '.') ?? '');
      continue;
    }
    kinds.add(path.replace(/\/[^/]*$/, '').split('/').slice(0, 4).join('/'));
    for (const s of strings(await res.json())) {
      if (s.includes(upstream.url) || s.includes(upstream.searchUrl)) {
        if (!ALLOWED_UPSTREAM.some((re) => re.test(s))) leaks.push(`${path}: ${s}`);
      }
      if (s.startsWith('http://') && !s.startsWith('http://schema.nuget.org') && !s.startsWith('http://www.w3.org')) insecure.push(`${path}: ${s}`);
      if (s.startsWith(PUBLIC)) {
        const target = s.slice(PUBLIC.length).replace(/#.*$/, '');
        // Resource base URLs (ending in '/') and templates are not documents.
        if (!target.includes('{') && !target.endsWith('/') && !seen.has(target)) queue.push(target);
      }
    }
  }
  assert.equal(queue.length, 0, `the walk finished (${fetched} documents)`);
  assert.deepEqual(leaks, [], 'upstream URLs of served resources');
  assert.deepEqual(broken, [], 'proxy URLs that are not served');
  assert.deepEqual(insecure, [], 'http URLs in documents served as https');
  // The walk really covered the document types.
  for (const k of ['/v3/registration/semver2', '/v3/registration/gz-semver1', '/v3/registration/semver1', '/v3/vulnerabilities', '/v3/search', '.nupkg']) {
    assert.ok([...kinds].some((x) => x.startsWith(k) || x === k), `walk never reached ${k}: ${[...kinds].join(' ')}`);
  }
  assert.ok([...seen].some((p) => /\/page\/1\.0\.128\/1\.0\.139\.json$/.test(p)), 'separate registration page walked');
  assert.ok([...seen].some((p) => /\/v3\/vulnerabilities\/base\/[0-9a-f]{16}\.json$/.test(p)), 'vulnerability page walked');
  assert.ok([...seen].some((p) => p.endsWith('/icon')), 'icon walked');
});

test('the service index behind a TLS-terminating reverse proxy lists RepositorySignatures over https', async () => {
  const index = (await (await fetch(`${proxy.url}/v3/index.json`, { headers: FORWARDED })).json()) as { resources: Array<{ '@id': string; '@type': string }> };
  const sig = index.resources.find((r) => r['@type'] === 'RepositorySignatures/5.0.0');
  assert.equal(sig?.['@id'], `${PUBLIC}/v3/repository-signatures/5.0.0/index.json`);
  const doc = await fetch(`${proxy.url}/v3/repository-signatures/5.0.0/index.json`, { headers: FORWARDED });
  assert.equal(doc.status, 200);
  // Plain http: the resource is omitted, and its URL answers 404.
  const plain = (await (await fetch(`${proxy.url}/v3/index.json`)).json()) as { resources: Array<{ '@type': string }> };
  assert.ok(!plain.resources.some((r) => r['@type'].startsWith('RepositorySignatures')));
  assert.equal((await fetch(`${proxy.url}/v3/repository-signatures/5.0.0/index.json`)).status, 404);
});

test('Host headers are not trusted without --trust-proxy or --public-url', async () => {
  const other = await startProxy(upstreamEnv);
  try {
    const port = new URL(other.url).port;
    const res = await fetch(`${other.url}/v3/index.json`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    const text = await res.text();
    assert.doesNotMatch(text, /evil\.example/);
    const index = JSON.parse(text) as { resources: Array<{ '@id': string }> };
    for (const r of index.resources) {
      if (!r['@id'].startsWith(upstream.url)) assert.ok(r['@id'].startsWith(`http://127.0.0.1:${port}/v3/`), r['@id']);
    }
  } finally {
    await other.dispose();
  }
  const fixed = await startProxy({ ...upstreamEnv, NUGET_PROXY_PUBLIC_URL: 'https://packages.example/nuget/' });
  try {
    const text = await (await fetch(`${fixed.url}/v3/index.json`, { headers: { host: 'evil.example' } })).text();
    assert.match(text, /"https:\/\/packages\.example\/nuget\/v3\/flatcontainer\/"/);
    assert.doesNotMatch(text, /evil/);
    // The public URL's path prefix is also accepted on incoming requests (reverse proxy that does not strip it).
    assert.equal((await fetch(`${fixed.url}/nuget/v3/index.json`)).status, 200);
  } finally {
    await fixed.dispose();
  }
});
