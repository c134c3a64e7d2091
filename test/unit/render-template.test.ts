// Tests for render templates (src/nuget/rewrite.ts makeTemplate/renderTemplate) and the worker pool that builds
// and renders them (src/rewrite-pool.ts): a template render must give exactly the bytes renderJson gives, for
// every base and every document, inline and on a worker thread.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createMetrics } from '../../src/metrics.ts';
import { BASE_MARKER, makeTemplate, renderJson, renderTemplate, rewriteJsonText } from '../../src/nuget/rewrite.ts';
import { INLINE_LIMIT_BYTES, RewritePool } from '../../src/rewrite-pool.ts';

const M = BASE_MARKER;
const BASES = ['http://127.0.0.1:5555', 'https://proxy.example/deep/prefix', 'http://[::1]:8080', 'https://ünïcode.example/p"q\\r'];

function storedOf(doc: unknown): string {
  // The stored form: rewritten text whose markers sit inside JSON strings.
  return JSON.stringify(doc);
}

const DOCS: Record<string, string> = {
  'no marker': storedOf({ a: 'b', c: [1, 2, 3] }),
  'marker at both ends': `"${JSON.stringify(M).slice(1, -1)}x${JSON.stringify(M).slice(1, -1)}"`,
  'adjacent markers': storedOf({ u: `${M}${M}/v3/flatcontainer/` }),
  'many urls': storedOf({
    items: Array.from({ length: 50 }, (_, i) => ({ '@id': `${M}/v3/registration/semver2/x/1.0.${i}.json`, packageContent: `${M}/v3/flatcontainer/x/1.0.${i}/x.1.0.${i}.nupkg` })),
  }),
  'non-ascii text around markers': storedOf({ d: 'Ünïcödé — 日本語 🚀', u: `${M}/v3/flatcontainer/ü/index.json` }),
  'marker look-alikes': storedOf({ a: '\\u0000nuget-proxy\\u0000', b: 'u0000nuget-proxyu0000', c: `${M}/x` }),
  empty: '',
};

describe('makeTemplate + renderTemplate', () => {
  for (const [name, stored] of Object.entries(DOCS)) {
    it(`renders like renderJson: ${name}`, () => {
      const t = makeTemplate(stored);
      for (const base of BASES) assert.equal(renderTemplate(t, base).toString('utf8'), renderJson(stored, base), base);
    });
  }

  it('holds the document once, without its markers, and one cut per marker', () => {
    const stored = DOCS['many urls'] as string;
    const t = makeTemplate(stored);
    assert.equal(t.cuts.length, 100);
    assert.equal(Buffer.from(t.bytes).includes(Buffer.from(JSON.stringify(M).slice(1, -1))), false);
    assert.ok([...t.cuts].every((c, i, all) => i === 0 || c >= (all[i - 1] as number)), 'cuts ascend');
  });

  it('renders a rewritten upstream document back to valid JSON with the public base', () => {
    const upstream = JSON.stringify({ '@id': 'https://up.example/reg/x/index.json', items: [{ packageContent: 'https://up.example/flat/x/1.0.0/x.1.0.0.nupkg' }] });
    const { text } = rewriteJsonText(upstream, [
      { from: 'https://up.example/reg/', to: '/v3/registration/semver2/' },
      { from: 'https://up.example/flat/', to: '/v3/flatcontainer/' },
    ]);
    const doc = JSON.parse(renderTemplate(makeTemplate(text), 'https://p.example').toString('utf8')) as { '@id': string; items: Array<{ packageContent: string }> };
    assert.equal(doc['@id'], 'https://p.example/v3/registration/semver2/x/index.json');
    assert.equal(doc.items[0]?.packageContent, 'https://p.example/v3/flatcontainer/x/1.0.0/x.1.0.0.nupkg');
  });
});

describe('RewritePool templates on worker threads', () => {
  const pool = new RewritePool(createMetrics({ defaultMetrics: false }), 1);
  after(() => pool.close());

  it('builds a large template in shared memory and renders it on a worker, byte for byte as renderJson', async () => {
    const big = storedOf({
      items: Array.from({ length: 3000 }, (_, i) => ({ '@id': `${M}/v3/registration/semver2/big/1.0.${i}.json`, description: `Ünïcode ${i} `.repeat(4) })),
    });
    assert.ok(big.length > INLINE_LIMIT_BYTES, 'large enough for a worker');
    const t = await pool.template(big);
    assert.ok(t.bytes.buffer instanceof SharedArrayBuffer, 'template bytes are shared with the event loop, not copied');
    assert.equal(t.cuts.length, 3000);
    for (const base of BASES) assert.equal((await pool.render(t, base)).toString('utf8'), renderJson(big, base));
  });

  it('keeps small documents inline', async () => {
    const t = await pool.template(DOCS['many urls'] as string);
    assert.ok(!(t.bytes.buffer instanceof SharedArrayBuffer));
    assert.equal((await pool.render(t, 'http://x')).toString('utf8'), renderJson(DOCS['many urls'] as string, 'http://x'));
  });
});
