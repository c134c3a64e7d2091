// Tests for render templates (src/nuget/rewrite.ts makeTemplate/renderTemplate) and the worker pool that builds
// and renders them (src/rewrite-pool.ts): a template render must give exactly the bytes renderJson gives, for
// every base and every document, inline and on a worker thread.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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

  it('hands the template made by a large rewrite to its first render (no second trip of the text to a worker), bounded', async () => {
    const upstreamDoc = (n: number) =>
      JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => ({ '@id': `https://api.example/v3/registration5-semver1/big${n}/1.0.${i}.json`, description: `Ünïcode ${i} `.repeat(4) })) });
    const rules = [{ from: 'https://api.example/v3/registration5-semver1/', to: `${M}/v3/registration/semver1/` }];
    const first = await pool.rewrite(Buffer.from(upstreamDoc(0)), rules);
    assert.ok(first.text.length > INLINE_LIMIT_BYTES);
    const before = { ...pool.templateStats };
    const t = await pool.template(first.text);
    assert.deepEqual(pool.templateStats, { handedOver: before.handedOver + 1, built: before.built }, 'taken from the hand-over');
    assert.ok(t.bytes.buffer instanceof SharedArrayBuffer);
    for (const base of BASES) assert.equal((await pool.render(t, base)).toString('utf8'), renderJson(first.text, base));
    // Taken once: the next render of the same text builds its own (the caller holds the first).
    await pool.template(first.text);
    assert.equal(pool.templateStats.built, before.built + 1);
    // Bounded: the oldest of many rewrites are forgotten (then built on demand, still right).
    const texts: string[] = [];
    for (let n = 1; n <= 12; n++) texts.push((await pool.rewrite(Buffer.from(upstreamDoc(n)), rules)).text);
    const built = pool.templateStats.built;
    const oldest = await pool.template(texts[0] as string);
    assert.equal(pool.templateStats.built, built + 1, 'the oldest was no longer held');
    assert.equal((await pool.render(oldest, 'http://x')).toString('utf8'), renderJson(texts[0] as string, 'http://x'));
    await pool.template(texts[11] as string);
    assert.equal(pool.templateStats.built, built + 1, 'the newest still was');
  });

  it('runs its threads at a lower priority than the event loop (Linux: nice 10), so big documents yield the CPU to requests', async (t) => {
    if (process.platform !== 'linux') {
      t.diagnostic('thread priorities are set on Linux only');
      return;
    }
    await pool.template(storedOf({ items: Array.from({ length: 3000 }, (_, i) => ({ '@id': `${M}/p/${i}.json`, d: 'x'.repeat(20) })) }));
    const niceOf = (task: string): number => {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const tasks = readdirSync('/proc/self/task');
    assert.equal(niceOf(String(process.pid)), 0, 'the event loop keeps its priority');
    assert.ok(tasks.some((task) => niceOf(task) === 10), `a thread at nice 10 among ${tasks.map(niceOf).join(',')}`);
  });

  it('keeps small documents inline', async () => {
    const t = await pool.template(DOCS['many urls'] as string);
    assert.ok(!(t.bytes.buffer instanceof SharedArrayBuffer));
    assert.equal((await pool.render(t, 'http://x')).toString('utf8'), renderJson(DOCS['many urls'] as string, 'http://x'));
  });
});
