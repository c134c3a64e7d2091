// The dashboard picture program (scripts/dashboard-preview/): its pure parts run here — Grafana's unit
// formatting and axis ticks, and the SVG drawing of the real dashboard JSON from synthetic series — so a
// change that breaks them fails CI, not the next person who redraws the README picture.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { drawDashboard, type PanelJson, type PanelResult } from '../../scripts/dashboard-preview/draw.ts';
import { formatText, niceTicks } from '../../scripts/dashboard-preview/units.ts';

describe('dashboard preview: units', () => {
  const cases: Array<[number, string | undefined, string]> = [
    [0.0423, 'percentunit', '4.23%'],
    [1536, 'bytes', '1.50 KiB'],
    [0.25, 's', '250 ms'],
    [12_500, 'reqps', '12.5 Kreq/s'],
    [3, undefined, '3.00'],
  ];
  for (const [v, unit, text] of cases) it(`${v} ${unit ?? '(none)'} → ${text}`, () => assert.equal(formatText(v, unit), text));

  it('picks nice ticks covering the range (powers of 1024 for bytes)', () => {
    assert.deepEqual(niceTicks(0, 97, 4, undefined).ticks, [0, 25, 50, 75, 100]);
    const bytes = niceTicks(0, 3 * 1024 * 1024, 3, 'bytes');
    assert.ok(bytes.ticks.every((t) => t % 1024 === 0), bytes.ticks.join());
    assert.ok(bytes.max >= 3 * 1024 * 1024);
  });
});

describe('dashboard preview: drawing', () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../grafana/dashboards/nuget-proxy.json', import.meta.url), 'utf8')) as { title: string; panels: PanelJson[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const times = Array.from({ length: 60 }, (_, i) => 1_700_000_000 + i);
  const results = new Map<number, PanelResult>(
    panels.filter((p) => p.type !== 'row').map((p) => [p.id, { series: [{ name: 'a', values: times.map((_, i) => (i % 7 === 0 ? null : Math.abs(Math.sin(i / 9)))) }] }]),
  );

  it('draws every panel of the real dashboard into one SVG', () => {
    const { svg, width, height } = drawDashboard({ title: dashboard.title, panels, results, times, variables: [{ label: 'Job', value: 'nuget-proxy' }], timeRange: '00:00 to 00:01', footer: 'test' });
    assert.ok(width >= 1000 && height > 500, `${width}×${height}`);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
    const escaped = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    for (const p of panels) assert.ok(svg.includes(escaped(p.title).slice(0, 12)), `panel "${p.title}" is drawn`);
  });
});
