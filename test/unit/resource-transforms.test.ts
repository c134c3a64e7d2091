// The small pure transforms resources apply to upstream documents, and the metadata entry serialization.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deserializeEntry, serializeEntry, type MetaEntry } from '../../src/storage/metadata-store.ts';
import { BASE_MARKER, renderJson } from '../../src/nuget/rewrite.ts';
import { versionsDocument } from '../../src/resources/flat-container.ts';
import { normalizeVulnerabilityPage, rewriteVulnerabilityIndex } from '../../src/resources/vulnerability.ts';

test('version lists are normalized, lower-cased, de-duplicated and sorted by NuGet precedence', () => {
  assert.equal(
    versionsDocument(['1.0.0-RC.10', '1.0.0-rc.2', '1.0', '1.0.0.0', '2.0.0+meta', 'not-a-version', '1.0.0-Beta']),
    JSON.stringify({ versions: ['1.0.0-beta', '1.0.0-rc.2', '1.0.0-rc.10', '1.0.0', '2.0.0'] }),
  );
});

test('vulnerability index: page URLs point at the proxy, keyed by a token of the upstream URL', () => {
  const upstream = [
    { '@name': 'base', '@id': 'https://api.nuget.org/v3-vulnerabilities/2024.01.01/vulnerability.base.json', '@updated': '2024-01-01T00:00:00Z' },
    { '@name': 'update', '@id': 'https://api.nuget.org/v3-vulnerabilities/2024.01.01/2024.01.02/vulnerability.update.json', '@updated': '2024-01-02T00:00:00Z' },
    { '@name': 'bad name!', '@id': 'https://x/y.json' },
    { '@name': 'relative', '@id': '/not/absolute.json' },
  ];
  const { body, extra } = rewriteVulnerabilityIndex(JSON.stringify(upstream));
  const rendered = JSON.parse(renderJson(body, 'https://proxy.example')) as Array<{ '@name': string; '@id': string; '@updated': string }>;
  assert.deepEqual(rendered.map((r) => r['@name']), ['base', 'update']);
  for (const r of rendered) {
    const m = /^https:\/\/proxy\.example\/v3\/vulnerabilities\/(base|update)\/([0-9a-f]{16})\.json$/.exec(r['@id']);
    assert.ok(m?.[2], r['@id']);
    assert.equal(extra[m[2]], upstream.find((u) => u['@name'] === r['@name'])?.['@id']);
  }
  assert.equal(rendered[0]?.['@updated'], '2024-01-01T00:00:00Z');
  assert.throws(() => rewriteVulnerabilityIndex('{"not":"an array"}'));
});

test('an empty vulnerability page is served as {} (the client reads a dictionary; [] raises NU1900)', () => {
  assert.equal(normalizeVulnerabilityPage('[]'), '{}');
  assert.equal(normalizeVulnerabilityPage(' '), '{}');
  assert.equal(normalizeVulnerabilityPage('{}'), '{}');
  const page = '{"contoso.lib":[{"url":"https://a","severity":2,"versions":"(, 2.0.0)"}]}';
  assert.equal(normalizeVulnerabilityPage(page), page);
  assert.throws(() => normalizeVulnerabilityPage('[1]'));
  assert.throws(() => normalizeVulnerabilityPage('{broken'));
});

test('metadata entries round-trip through the keyv serializer with the body kept verbatim', () => {
  const body = `{"@id":"${JSON.stringify(BASE_MARKER).slice(1, -1)}/v3/x","text":"line1\\nline2 \\"quoted\\""}\n`;
  const entry: MetaEntry = { status: 200, body, etag: '"abc"', lastModified: null, fetchedAt: 1700000000000, extra: { a: 'b' } };
  const text = serializeEntry({ value: entry, expires: 123 });
  assert.ok(text.endsWith(body), 'the body is stored as is, not escaped');
  assert.equal(text.split('\n')[0]?.includes('"fetchedAt":1700000000000'), true);
  assert.deepEqual(deserializeEntry(text), { value: entry, expires: 123 });
  const negative: MetaEntry = { status: 404, body: '', etag: null, lastModified: null, fetchedAt: 5 };
  assert.deepEqual(deserializeEntry(serializeEntry({ value: negative })), { value: negative });
  assert.equal(deserializeEntry('garbage without newline'), undefined);
  assert.equal(deserializeEntry('{broken\nbody'), undefined);
});
