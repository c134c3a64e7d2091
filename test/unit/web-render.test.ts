// The web page's rendering: the escaping HTML template, the Markdown readme renderer against script
// injection (raw HTML, event handlers, javascript: and data: URLs, remote images), and the formats.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html, safeExternalUrl, trustedHtml } from '../../src/web/html.ts';
import { isAllowedMarkup, renderReadme } from '../../src/web/markdown.ts';
import { formatAgo, formatBytes, formatPercent } from '../../src/web/format.ts';
import { nugetConfigSnippet } from '../../src/web/snippets.ts';
import { basePathOf, listHref, packageHref } from '../../src/web/paths.ts';
import { renderHome } from '../../src/web/home-page.ts';
import { TrafficWindow } from '../../src/activity.ts';
import { CircuitBreaker } from '../../src/breaker.ts';
import { singleUpstreamFacts, type PackageListView, type StatusView } from '../../src/resources/web-page.ts';

/** No tag of the output may carry an event handler, a style, or a script/iframe/img/object element. */
function assertInert(markup: string): void {
  assert.ok(isAllowedMarkup(markup), markup);
  assert.doesNotMatch(markup, /<(script|iframe|img|object|embed|svg|style|details|form|input|link|meta)\b/i);
  for (const tag of markup.match(/<[a-z][^>]*>/gi) ?? []) {
    for (const [, name = '', value = ''] of tag.matchAll(/\s([^\s=>]+)(?:="([^"]*)")?/g)) {
      assert.doesNotMatch(name, /^on|^style$|^src$/i, tag);
      if (name === 'href') assert.match(value, /^(https?:|mailto:|#)/, tag);
    }
  }
}

describe('html template', () => {
  it('escapes every interpolated string, number and array element', () => {
    const evil = `"><script>alert('x')</script>`;
    const out = html`<a title="${evil}">${evil}${[evil, 1]}</a>`.value;
    assert.equal(out, `<a title="${escapeHtml(evil)}">${escapeHtml(evil)}${escapeHtml(evil)}1</a>`);
    assert.doesNotMatch(out, /<script/);
  });

  it('inserts Html values as they are and drops null, undefined and false', () => {
    assert.equal(html`<p>${trustedHtml('<b>x</b>')}${null}${undefined}${false}</p>`.value, '<p><b>x</b></p>');
  });

  it('keeps only http, https and mailto as external links', () => {
    assert.equal(safeExternalUrl(' https://example.invalid/a?b=1 '), 'https://example.invalid/a?b=1');
    assert.equal(safeExternalUrl('mailto:someone@example.invalid'), 'mailto:someone@example.invalid');
    for (const bad of ['javascript:alert(1)', ' JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<script>x</script>', 'vbscript:x', 'file:///etc/passwd', '/relative', '']) {
      assert.equal(safeExternalUrl(bad), null, bad);
    }
  });
});

describe('renderReadme', () => {
  const payloads: Array<[string, string]> = [
    ['raw script', '<script>alert(1)</script>'],
    ['script in a heading', '# Title <script>alert(1)</script>'],
    ['img onerror', '<img src=x onerror=alert(1)>'],
    ['svg onload', '<svg onload=alert(1)></svg>'],
    ['iframe', '<iframe src="https://remote.invalid/"></iframe>'],
    ['javascript link', '[x](javascript:alert(1))'],
    ['encoded javascript link', '[x](jav&#x61;script:alert(1))'],
    ['javascript autolink', '<javascript:alert(1)>'],
    ['data link', '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
    ['data image', '![x](data:image/png;base64,iVBORw0KGgo=)'],
    ['remote image', '![tracker](https://remote.invalid/pixel.png)'],
    ['raw anchor', '<a href="javascript:alert(1)">x</a>'],
    ['details ontoggle', '<details open ontoggle=alert(1)>x</details>'],
    ['style attribute', '<p style="background:url(https://remote.invalid/x)">x</p>'],
    ['link title breakout', '[x](https://example.invalid "a\\" onmouseover=\\"alert(1)")'],
    ['reference link', '[x][1]\n\n[1]: javascript:alert(1)'],
    ['html comment', '<!-- <script>alert(1)</script> -->'],
    ['table cell', '| a |\n|---|\n| <img src=x onerror=alert(1)> |'],
  ];
  for (const [name, markdown] of payloads) {
    it(`renders ${name} inert`, () => assertInert(renderReadme(markdown).value));
  }

  it('turns images into links and never emits an <img>', () => {
    const out = renderReadme('![logo](https://example.invalid/logo.png)').value;
    assert.match(out, /<a href="https:\/\/example.invalid\/logo.png" rel="nofollow noopener noreferrer" class="image-link">\[image: logo\]<\/a>/);
  });

  it('keeps ordinary Markdown: headings, code, tables with alignment as classes, safe links', () => {
    const out = renderReadme('# Hi\n\n`code` and [docs](https://example.invalid/docs)\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n```cs\nvar x = "<b>";\n```').value;
    assert.match(out, /<h1>Hi<\/h1>/);
    assert.match(out, /<code>code<\/code>/);
    assert.match(out, /<a href="https:\/\/example.invalid\/docs" rel="nofollow noopener noreferrer">docs<\/a>/);
    assert.match(out, /<th class="align-left">a<\/th>/);
    assert.match(out, /<td class="align-right">2<\/td>/);
    assert.match(out, /<pre><code class="language-cs">var x = &quot;&lt;b&gt;&quot;;/);
    assertInert(out);
  });

  it('shows raw HTML as text, as nuget.org does', () => {
    assert.match(renderReadme('<b>bold</b>').value, /&lt;b&gt;bold&lt;\/b&gt;/);
  });

  it('the allowlist check refuses markup the renderer would never produce', () => {
    assert.equal(isAllowedMarkup('<p>ok <a href="https://x.invalid/" rel="nofollow">x</a></p>'), true);
    assert.equal(isAllowedMarkup('<p onclick="x">'), false);
    assert.equal(isAllowedMarkup('<img src="x">'), false);
    assert.equal(isAllowedMarkup('<a href="javascript:x">'), false);
    assert.equal(isAllowedMarkup('<p>a < b</p>'), false);
  });
});

describe('formats, snippets and links', () => {
  it('writes sizes in binary units and times relative to now', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(50 * 1024 ** 3), '50.0 GiB');
    assert.equal(formatAgo(1_000_000 - 30_000, 1_000_000), 'just now');
    assert.equal(formatAgo(1_000_000 - 5 * 60_000, 1_000_000), '5 min ago');
    assert.equal(formatAgo(0, 3 * 86_400_000), '3 days ago');
    assert.equal(formatPercent(0.5), '50%');
  });

  it('nuget.config opts in to http only for an http proxy', () => {
    assert.match(nugetConfigSnippet('http://mirror:5555'), /value="http:\/\/mirror:5555\/v3\/index.json" protocolVersion="3" allowInsecureConnections="true"/);
    assert.doesNotMatch(nugetConfigSnippet('https://nuget.corp.invalid/feed'), /allowInsecureConnections/);
    assert.match(nugetConfigSnippet('https://nuget.corp.invalid/feed'), /<clear \/>/);
  });

  it('links keep the public base path and leave defaults out of the query', () => {
    assert.equal(basePathOf('https://corp.invalid/nuget/'), '/nuget');
    assert.equal(basePathOf('http://127.0.0.1:5555'), '');
    assert.equal(packageHref('/nuget', 'newtonsoft.json', '13.0.3'), '/nuget/packages/newtonsoft.json/13.0.3');
    assert.equal(listHref('', { q: '', sort: 'id', page: 1 }), '/#packages');
    assert.equal(listHref('/p', { q: 'a b', sort: 'size', page: 3 }), '/p/?q=a+b&sort=size&page=3#packages');
  });
});

describe('overview page', () => {
  const NOW = Date.UTC(2026, 0, 15, 12, 0);

  function status(overrides: Partial<StatusView> = {}): StatusView {
    return {
      nowMs: NOW,
      instance: 'host:1',
      offline: false,
      upstreams: [],
      redis: 'none',
      storage: { description: '/data', packages: 3, versions: 7, packageBytes: 1000, sweep: null, quotaBytes: null, evictUnusedDays: null },
      traffic: new TrafficWindow(60, () => NOW).summary(),
      failures: [],
      catalogBuiltAtMs: NOW,
      catalogBuilding: false,
      ...overrides,
    };
  }
  const list: PackageListView = {
    query: { q: '', sort: 'id', page: 1, pageSize: 50 },
    total: 1,
    pages: 1,
    ready: true,
    rows: [{ lowerId: 'a.b', id: 'A.B', description: 'd', latest: '1.0.0', versions: 2, bytes: 2048, lastServedMs: NOW - 120_000, upstream: 'feed', policy: { label: 'younger than 7d', blocked: true } }],
  };
  const render = (s: StatusView) => renderHome({ basePath: '', publicBase: 'http://127.0.0.1:5555', status: s, list, tokenGate: false });

  it('shows each upstream host with its breaker state', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, backoffMs: 5000, maxBackoffMs: 60_000 });
    breaker.recordFailure('search.feed.invalid');
    breaker.recordSuccess('api.feed.invalid');
    const facts = singleUpstreamFacts({ upstream: 'https://api.feed.invalid/v3/index.json', offline: false }, breaker);
    const out = render(status({ upstreams: facts.upstreams() }));
    assert.match(out, /<strong>api\.feed\.invalid<\/strong>/);
    assert.match(out, /search\.feed\.invalid<\/span> <span class="badge bad">breaker open<\/span> <span class="muted">1 failure in a row<\/span> <span class="muted">back-off 5 s<\/span>/);
    assert.match(out, /api\.feed\.invalid<\/span> <span class="badge ok">reachable<\/span>/);
    assert.equal(facts.upstreamOf('a.b', '1.0.0'), 'api.feed.invalid');
    assert.equal(facts.policyOf('a.b', '1.0.0'), null);
  });

  it('shows Redis down, storage near the quota from the last sweep, and a policy column', () => {
    const out = render(
      status({
        redis: 'down',
        storage: { description: 's3://bucket/cache/', packages: 3, versions: 7, packageBytes: 900, sweep: { usedBytes: 970, atMs: NOW - 60_000, evicted: 4, overQuota: false }, quotaBytes: 1000, evictUnusedDays: 30 },
      }),
    );
    assert.match(out, /id="redis"><h3>Redis<\/h3><span class="badge bad">down<\/span>/);
    assert.match(out, /<div class="big">970 B<\/div>\n<div class="sub">of 1000 B quota<\/div>/);
    assert.match(out, /<rect class="used bad" x="0" y="0" width="97.00" height="8"\/>/);
    assert.match(out, /97% used <span class="muted">· last sweep 1 min ago, 4 evicted<\/span>/);
    assert.match(out, /unused for 30 days are evicted/);
    assert.match(out, /<span class="badge bad">younger than 7d<\/span>/);
    assert.match(out, /<td class="small">2 min ago<\/td>/);
  });

  it('says so when offline and when nothing has failed', () => {
    const out = render(status({ offline: true }));
    assert.match(out, /<span class="badge none">offline mode<\/span>/);
    assert.match(out, /No package fill has failed since this process started/);
    assert.match(out, /no quota \(--max-cache-size\)/);
  });
});
