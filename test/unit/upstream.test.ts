// Tests for proxyForUrl (src/upstream.ts), the pure choice of a forward proxy per upstream URL: HTTPS_PROXY for
// https, HTTP_PROXY for http, and the NO_PROXY conventions curl and most HTTP clients share (exact host, domain
// suffix with or without a leading dot, host:port, '*', IPv6 literals).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyForUrl } from '../../src/upstream.ts';

const HTTPS_PROXY = 'http://proxy.corp:3128';
const HTTP_PROXY = 'http://proxy.corp:3129';

function pick(url: string, noProxy: string | null, egress: { httpsProxy?: string | null; httpProxy?: string | null } = {}): string | null {
  return proxyForUrl(new URL(url), {
    httpsProxy: egress.httpsProxy === undefined ? HTTPS_PROXY : egress.httpsProxy,
    httpProxy: egress.httpProxy === undefined ? HTTP_PROXY : egress.httpProxy,
    noProxy,
  });
}

describe('proxyForUrl: scheme', () => {
  it('uses HTTPS_PROXY for https URLs', () => {
    assert.equal(pick('https://api.nuget.org/v3/index.json', null), HTTPS_PROXY);
  });
  it('uses HTTP_PROXY for http URLs', () => {
    assert.equal(pick('http://feed.internal/v3/index.json', null), HTTP_PROXY);
  });
  it('goes direct for https when only HTTP_PROXY is set', () => {
    assert.equal(pick('https://api.nuget.org/v3/index.json', null, { httpsProxy: null }), null);
  });
  it('goes direct for http when only HTTPS_PROXY is set', () => {
    assert.equal(pick('http://feed.internal/v3/index.json', null, { httpProxy: null }), null);
  });
});

describe('proxyForUrl: NO_PROXY', () => {
  // [url, NO_PROXY, bypass?]
  const table: Array<[string, string, boolean, string]> = [
    ['https://api.nuget.org/v3/index.json', 'api.nuget.org', true, 'exact host'],
    ['https://API.NuGet.org/v3/index.json', 'api.nuget.org', true, 'host case-insensitive'],
    ['https://api.nuget.org/v3/index.json', 'API.NUGET.ORG', true, 'entry case-insensitive'],
    ['https://api.nuget.org/v3/index.json', 'nuget.org', true, 'domain suffix without a dot'],
    ['https://api.nuget.org/v3/index.json', '.nuget.org', true, 'domain suffix with a leading dot'],
    ['https://api.nuget.org/v3/index.json', '*.nuget.org', true, 'domain suffix with a leading *.'],
    ['https://nuget.org/v3/index.json', '.nuget.org', true, 'leading-dot entry also matches the domain itself'],
    ['https://evilnuget.org/v3/index.json', 'nuget.org', false, 'suffix must end at a label boundary'],
    ['https://api.nuget.org.evil.example/', 'api.nuget.org', false, 'prefix is not a match'],
    ['https://api.nuget.org/v3/index.json', 'www.nuget.org', false, 'sibling host'],
    ['https://api.nuget.org/v3/index.json', 'localhost, api.nuget.org', true, 'comma and space separated list'],
    ['https://api.nuget.org/v3/index.json', 'localhost api.nuget.org', true, 'space separated list'],
    ['https://api.nuget.org/v3/index.json', ' , ,api.nuget.org,', true, 'empty entries are ignored'],
    ['https://api.nuget.org/v3/index.json', 'api.nuget.org:443', true, 'host:port with the default https port'],
    ['https://api.nuget.org:8443/v3/index.json', 'api.nuget.org:8443', true, 'host:port with an explicit port'],
    ['https://api.nuget.org/v3/index.json', 'api.nuget.org:8443', false, 'host:port with another port'],
    ['http://feed.internal/v3/index.json', 'feed.internal:80', true, 'default http port'],
    ['https://api.nuget.org/v3/index.json', '*', true, 'wildcard'],
    ['http://feed.internal/', 'localhost,*', true, 'wildcard in a list'],
    ['https://10.1.2.3/v3/index.json', '10.1.2.3', true, 'IPv4 literal'],
    ['http://[::1]:5000/v3/index.json', '[::1]', true, 'bracketed IPv6 literal'],
    ['http://[::1]:5000/v3/index.json', '[::1]:5000', true, 'bracketed IPv6 literal with port'],
    ['http://[::1]:5000/v3/index.json', '[::1]:6000', false, 'bracketed IPv6 literal with another port'],
    ['http://[::1]:5000/v3/index.json', '::1', true, 'bare IPv6 loopback, as in the common NO_PROXY=localhost,127.0.0.1,::1'],
    ['http://[::1]:5000/v3/index.json', 'localhost,127.0.0.1,::1', true, 'the common loopback list'],
    ['http://[2001:db8::1]/v3/index.json', '2001:db8::1', true, 'bare IPv6 address'],
    ['http://[2001:db8::1]/v3/index.json', '2001:db8::2', false, 'another IPv6 address'],
    ['https://api.nuget.org/v3/index.json', '', false, 'empty NO_PROXY'],
  ];
  for (const [url, noProxy, bypass, why] of table) {
    it(`${url} with NO_PROXY=${JSON.stringify(noProxy)} → ${bypass ? 'direct' : 'proxy'} (${why})`, () => {
      const expected = bypass ? null : url.startsWith('https:') ? HTTPS_PROXY : HTTP_PROXY;
      assert.equal(pick(url, noProxy), expected);
    });
  }
});
