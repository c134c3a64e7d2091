// Draws a Grafana dashboard JSON plus query results as one SVG in Grafana's dark theme: the 24-column
// gridPos layout, rows, time series (lines, fills, stacking, units, legend), stat panels (background
// colour from thresholds / value mappings, sparkline) and state timelines. Hand-written SVG, no
// dependencies; text is laid out with the real advance widths of the font the rasterizer will use.

import { loadMeasurer, type Measurer } from './font.ts';
import { formatText, formatValue, niceTicks } from './units.ts';

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Mapping {
  type: string;
  options?: Record<string, { text?: string; color?: string; index?: number }>;
}

interface Threshold {
  color: string;
  value: number | null;
}

export interface PanelJson {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  targets?: Array<{ expr: string; legendFormat?: string; refId?: string }>;
  fieldConfig?: {
    defaults?: {
      unit?: string;
      min?: number;
      max?: number;
      noValue?: string;
      mappings?: Mapping[];
      thresholds?: { steps?: Threshold[] };
      custom?: { fillOpacity?: number; lineWidth?: number; stacking?: { mode?: string } };
    };
  };
  options?: { rowHeight?: number; graphMode?: string; colorMode?: string };
  panels?: PanelJson[];
}

export interface Series {
  readonly name: string;
  /** One value per entry of `times` (null: no sample / NaN). */
  readonly values: ReadonlyArray<number | null>;
}

export interface PanelResult {
  readonly series: Series[];
  readonly error?: string;
}

export interface Region {
  readonly label: string;
  readonly from: number;
  readonly to: number;
}

export interface Picture {
  readonly title: string;
  /** Rows and panels, flattened. */
  readonly panels: readonly PanelJson[];
  readonly results: ReadonlyMap<number, PanelResult>;
  /** Unix seconds, evenly spaced. */
  readonly times: readonly number[];
  readonly variables: ReadonlyArray<{ label: string; value: string }>;
  readonly timeRange: string;
  readonly footer: string;
  /** Drawn as annotation regions on the time axes (optional). */
  readonly regions?: readonly Region[];
  readonly width?: number;
}

// Grafana's dark theme.
const T = {
  canvas: '#111217',
  panel: '#181b1f',
  border: '#ccccdc',
  borderOpacity: 0.12,
  text: '#ccccdc',
  textSecondary: '#9b9ca6',
  grid: '#ccccdc',
  gridOpacity: 0.08,
  input: '#111217',
  region: '#5794F2',
};
const FONT = 'Inter, DejaVu Sans, sans-serif';
const NAMED: Record<string, string> = {
  green: '#73BF69',
  'semi-dark-green': '#56A64B',
  red: '#F2495C',
  'semi-dark-red': '#E02F44',
  orange: '#FF9830',
  yellow: '#FADE2A',
  blue: '#5794F2',
  purple: '#B877D9',
  text: T.text,
  transparent: T.panel,
};
/** Grafana's "classic palette". */
const PALETTE = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300', '#447EBC', '#C15C17', '#890F02', '#0A437C', '#6D1F62', '#584477'];

const color = (c: string | undefined) => (c ? (NAMED[c] ?? c) : T.text);

let fonts: { regular: Measurer; medium: Measurer } | null = null;
function measure(text: string, size: number, weight: 400 | 500 = 400): number {
  fonts ??= { regular: loadMeasurer('Inter:style=Regular'), medium: loadMeasurer('Inter:style=Medium') };
  return (weight === 500 ? fonts.medium : fonts.regular).width(text, size);
}

export function fontFiles(): string[] {
  measure('x', 10);
  return [fonts?.regular.file ?? 'estimate', fonts?.medium.file ?? 'estimate'];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (n: number) => Math.round(n * 10) / 10;

function ellipsize(s: string, maxW: number, size: number, weight: 400 | 500 = 400): string {
  if (measure(s, size, weight) <= maxW) return s;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(s.slice(0, mid) + '…', size, weight) <= maxW) lo = mid;
    else hi = mid - 1;
  }
  return s.slice(0, lo) + '…';
}

function wrap(s: string, maxW: number, size: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next, size) > maxW) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

interface TextOpts {
  size?: number;
  fill?: string;
  weight?: 400 | 500;
  anchor?: 'start' | 'middle' | 'end';
  opacity?: number;
}

function text(x: number, y: number, s: string, o: TextOpts = {}): string {
  return `<text x="${r1(x)}" y="${r1(y)}" font-size="${o.size ?? 12}"${o.weight === 500 ? ' font-weight="500"' : ''} fill="${o.fill ?? T.text}"${o.anchor && o.anchor !== 'start' ? ` text-anchor="${o.anchor}"` : ''}${o.opacity !== undefined ? ` fill-opacity="${o.opacity}"` : ''}>${esc(s)}</text>`;
}

function clock(t: number): string {
  return new Date(t * 1000).toLocaleTimeString('en-GB', { hour12: false });
}

function thresholdColor(v: number, steps: readonly Threshold[] | undefined): string {
  let c = 'green';
  for (const s of steps ?? []) if (s.value === null || v >= s.value) c = s.color;
  return color(c);
}

function mapped(v: number, mappings: readonly Mapping[] | undefined): { text?: string; color?: string } | undefined {
  for (const m of mappings ?? []) {
    if (m.type === 'value' && m.options && String(v) in m.options) return m.options[String(v)];
  }
  return undefined;
}

function shade(hex: string, f: number): string {
  const n = parseInt(hex.slice(1), 16);
  const ch = (s: number) => Math.max(0, Math.min(255, Math.round(((n >> s) & 255) * f)));
  return `#${[16, 8, 0].map((s) => ch(s).toString(16).padStart(2, '0')).join('')}`;
}

/** Time axis: ticks, grid lines and labels under a plot. */
function timeAxis(out: string[], times: readonly number[], x0: number, w: number, yTop: number, yBottom: number): void {
  const t0 = times[0]!;
  const t1 = times[times.length - 1]!;
  const span = Math.max(1, t1 - t0);
  const labelW = measure('00:00:00', 12) + 16;
  const step = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => (s / span) * w >= Math.max(labelW, 110)) ?? 3600;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = x0 + ((t - t0) / span) * w;
    out.push(`<line x1="${r1(x)}" y1="${r1(yTop)}" x2="${r1(x)}" y2="${r1(yBottom)}" stroke="${T.grid}" stroke-opacity="${T.gridOpacity}"/>`);
    const half = measure(clock(t), 12) / 2;
    if (x - half >= x0 - 4 && x + half <= x0 + w + 4) out.push(text(x, yBottom + 15, clock(t), { fill: T.textSecondary, anchor: 'middle' }));
  }
}

interface LegendItem {
  name: string;
  color: string;
}

function legendLayout(items: readonly LegendItem[], w: number): Array<{ item: LegendItem; x: number; row: number; label: string }> {
  const out: Array<{ item: LegendItem; x: number; row: number; label: string }> = [];
  let x = 0;
  let row = 0;
  for (const item of items) {
    const label = ellipsize(item.name, w - 24, 12);
    const iw = 14 + 6 + measure(label, 12);
    if (x > 0 && x + iw > w) {
      x = 0;
      row++;
    }
    out.push({ item, x, row, label });
    x += iw + 16;
  }
  return out;
}

function drawLegend(out: string[], items: readonly LegendItem[], x0: number, y0: number, w: number): void {
  for (const { item, x, row, label } of legendLayout(items, w)) {
    const y = y0 + row * 18;
    out.push(`<rect x="${r1(x0 + x)}" y="${r1(y + 7)}" width="14" height="4" rx="2" fill="${item.color}"/>`);
    out.push(text(x0 + x + 20, y + 13, label));
  }
}

function legendHeight(items: readonly LegendItem[], w: number): number {
  if (items.length === 0) return 0;
  const rows = Math.max(...legendLayout(items, w).map((l) => l.row)) + 1;
  return rows * 18 + 6;
}

function noData(out: string[], x: number, y: number, w: number, h: number, msg = 'No data'): void {
  out.push(text(x + w / 2, y + h / 2 + 5, msg, { fill: T.textSecondary, anchor: 'middle', size: 14 }));
}

function drawRegions(out: string[], p: Picture, x0: number, w: number, yTop: number, yBottom: number): void {
  const t0 = p.times[0]!;
  const span = Math.max(1, p.times[p.times.length - 1]! - t0);
  for (const r of p.regions ?? []) {
    const a = x0 + (Math.max(t0, r.from) - t0) / span * w;
    const b = x0 + (Math.min(t0 + span, r.to) - t0) / span * w;
    if (b <= a) continue;
    out.push(`<rect x="${r1(a)}" y="${r1(yTop)}" width="${r1(b - a)}" height="${r1(yBottom - yTop)}" fill="${T.region}" fill-opacity="0.07"/>`);
  }
}

let clipSeq = 0;

function drawTimeseries(out: string[], p: Picture, panel: PanelJson, res: PanelResult | undefined, box: { x: number; y: number; w: number; h: number }): void {
  const d = panel.fieldConfig?.defaults ?? {};
  const unit = d.unit;
  const series = res?.series ?? [];
  if (res?.error) return noData(out, box.x, box.y, box.w, box.h, 'Query error');
  if (series.length === 0 || series.every((s) => s.values.every((v) => v === null))) return noData(out, box.x, box.y, box.w, box.h, d.noValue ?? 'No data');
  const items = series.map((s, i) => ({ name: s.name, color: PALETTE[i % PALETTE.length]! }));
  const legendH = legendHeight(items, box.w);
  const stacked = d.custom?.stacking?.mode === 'normal';
  const n = p.times.length;

  // Stacked series are drawn as cumulative sums (a null adds nothing to the stack).
  const tops: Array<Array<number | null>> = [];
  const bases: number[][] = [];
  let acc = new Array<number>(n).fill(0);
  for (const s of series) {
    bases.push(acc);
    if (stacked) {
      const next = acc.map((a, i) => a + (s.values[i] ?? 0));
      tops.push(s.values.map((v, i) => (v === null ? null : next[i]!)));
      acc = next;
    } else tops.push([...s.values]);
  }
  const all = tops.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const dataMin = Math.min(...all);
  const dataMax = Math.max(...all);
  const plotTop = box.y + 6;
  const plotBottom = box.y + box.h - legendH - 20;
  const target = Math.max(2, Math.floor((plotBottom - plotTop) / 38));
  const axis = niceTicks(d.min ?? Math.min(0, dataMin), d.max ?? dataMax, target, unit, { min: d.min, max: d.max });
  const labels = axis.ticks.map((t) => formatText(t, unit, true));
  const axisW = Math.max(...labels.map((l) => measure(l, 12))) + 8;
  const px = box.x + axisW;
  const pw = box.w - axisW - 6;
  const ph = plotBottom - plotTop;
  const X = (i: number) => px + (i / Math.max(1, n - 1)) * pw;
  const Y = (v: number) => plotBottom - ((v - axis.min) / (axis.max - axis.min)) * ph;

  axis.ticks.forEach((t, i) => {
    const y = Y(t);
    out.push(`<line x1="${r1(px)}" y1="${r1(y)}" x2="${r1(px + pw)}" y2="${r1(y)}" stroke="${T.grid}" stroke-opacity="${T.gridOpacity}"/>`);
    out.push(text(px - 8, y + 4, labels[i]!, { fill: T.textSecondary, anchor: 'end' }));
  });
  timeAxis(out, p.times, px, pw, plotTop, plotBottom);
  drawRegions(out, p, px, pw, plotTop, plotBottom);

  const clip = `clip${++clipSeq}`;
  out.push(`<clipPath id="${clip}"><rect x="${r1(px)}" y="${r1(plotTop - 1)}" width="${r1(pw)}" height="${r1(ph + 2)}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clip})">`);
  const fillOpacity = (d.custom?.fillOpacity ?? 0) / 100;
  const lineWidth = d.custom?.lineWidth ?? 1;
  series.forEach((_, si) => {
    const c = items[si]!.color;
    const top = tops[si]!;
    const base = bases[si]!;
    // Runs of consecutive non-null points.
    const runs: number[][] = [];
    let run: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = top[i];
      if (v === null || v === undefined || !Number.isFinite(v)) {
        if (run.length) runs.push(run);
        run = [];
      } else run.push(i);
    }
    if (run.length) runs.push(run);
    for (const r of runs) {
      const line = r.map((i, k) => `${k === 0 ? 'M' : 'L'}${r1(X(i))},${r1(Y(top[i]!))}`).join('');
      if (fillOpacity > 0) {
        const floor = (i: number) => Y(stacked ? base[i]! : Math.max(axis.min, Math.min(axis.max, 0)));
        const back = [...r].reverse().map((i) => `L${r1(X(i))},${r1(floor(i))}`).join('');
        out.push(`<path d="${line}${back}Z" fill="${c}" fill-opacity="${fillOpacity}"/>`);
      }
      if (r.length === 1) out.push(`<circle cx="${r1(X(r[0]!))}" cy="${r1(Y(top[r[0]!]!))}" r="${lineWidth + 0.5}" fill="${c}"/>`);
      else out.push(`<path d="${line}" fill="none" stroke="${c}" stroke-width="${lineWidth}" stroke-linejoin="round"/>`);
    }
  });
  out.push('</g>');
  drawLegend(out, items, box.x, plotBottom + 22, box.w);
}

function drawStateTimeline(out: string[], p: Picture, panel: PanelJson, res: PanelResult | undefined, box: { x: number; y: number; w: number; h: number }): void {
  const d = panel.fieldConfig?.defaults ?? {};
  const series = res?.series ?? [];
  if (series.length === 0) return noData(out, box.x, box.y, box.w, box.h, d.noValue ?? 'No data');
  const opts = Object.entries(d.mappings?.find((m) => m.type === 'value')?.options ?? {}).sort((a, b) => (a[1].index ?? 0) - (b[1].index ?? 0));
  const items: LegendItem[] = opts.map(([v, o]) => ({ name: o.text ?? v, color: color(o.color) }));
  const legendH = legendHeight(items, box.w);
  const labelW = Math.min(box.w * 0.4, Math.max(...series.map((s) => measure(s.name, 12))) + 10);
  const px = box.x + labelW;
  const pw = box.w - labelW - 6;
  const top = box.y + 4;
  const bottom = box.y + box.h - legendH - 20;
  const slot = (bottom - top) / series.length;
  const barH = Math.min(slot * (panel.options?.rowHeight ?? 0.9), 60);
  const n = p.times.length;
  const X = (i: number) => px + (i / Math.max(1, n - 1)) * pw;
  timeAxis(out, p.times, px, pw, top, bottom);
  drawRegions(out, p, px, pw, top, bottom);
  series.forEach((s, si) => {
    const cy = top + slot * si + slot / 2;
    out.push(text(px - 8, cy + 4, ellipsize(s.name, labelW - 10, 12), { anchor: 'end' }));
    let i = 0;
    while (i < n) {
      const v = s.values[i];
      if (v === null || v === undefined) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < n && s.values[j] === v) j++;
      const a = X(i);
      const b = j < n ? X(j) : X(n - 1);
      const m = mapped(v, d.mappings);
      const c = m?.color ? color(m.color) : thresholdColor(v, d.thresholds?.steps);
      out.push(`<rect x="${r1(a)}" y="${r1(cy - barH / 2)}" width="${r1(Math.max(1, b - a - 1))}" height="${r1(barH)}" fill="${c}" fill-opacity="0.75"/>`);
      const label = m?.text ?? formatText(v, d.unit);
      if (measure(label, 12) + 10 < b - a) out.push(text(a + 5, cy + 4, label, { fill: '#ffffff' }));
      i = j;
    }
  });
  drawLegend(out, items, box.x, bottom + 22, box.w);
}

function drawStat(out: string[], panel: PanelJson, res: PanelResult | undefined, frame: { x: number; y: number; w: number; h: number }): void {
  const d = panel.fieldConfig?.defaults ?? {};
  const s = res?.series[0];
  const values = s?.values ?? [];
  let last: number | null = null;
  for (const v of values) if (v !== null && Number.isFinite(v)) last = v;
  const content = { x: frame.x + 8, y: frame.y + 32, w: frame.w - 16, h: frame.h - 40 };
  if (last === null) {
    out.push(`<rect x="${r1(frame.x)}" y="${r1(frame.y)}" width="${r1(frame.w)}" height="${r1(frame.h)}" rx="2" fill="${T.panel}" stroke="${T.border}" stroke-opacity="${T.borderOpacity}"/>`);
    out.push(text(frame.x + 8, frame.y + 21, ellipsize(panel.title, frame.w - 16, 14, 500), { size: 14, weight: 500 }));
    return noData(out, content.x, content.y, content.w, content.h, d.noValue ?? 'No data');
  }
  const m = mapped(last, d.mappings);
  const c = m?.color ? color(m.color) : thresholdColor(last, d.thresholds?.steps);
  const grad = `g${panel.id}`;
  out.push(`<linearGradient id="${grad}" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${shade(c, 1.06)}"/><stop offset="1" stop-color="${shade(c, 0.82)}"/></linearGradient>`);
  out.push(`<rect x="${r1(frame.x)}" y="${r1(frame.y)}" width="${r1(frame.w)}" height="${r1(frame.h)}" rx="2" fill="url(#${grad})"/>`);
  out.push(text(frame.x + 8, frame.y + 21, ellipsize(panel.title, frame.w - 16, 14, 500), { size: 14, weight: 500, fill: '#ffffff' }));

  // Sparkline over the lower part of the panel.
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (panel.options?.graphMode !== 'none' && finite.length > 1) {
    const lo = Math.min(0, ...finite);
    const hi = Math.max(...finite);
    const span = hi - lo || 1;
    const sparkTop = frame.y + frame.h * 0.55;
    const sparkBottom = frame.y + frame.h;
    const X = (i: number) => frame.x + (i / Math.max(1, values.length - 1)) * frame.w;
    const Y = (v: number) => sparkBottom - ((v - lo) / span) * (sparkBottom - sparkTop) * 0.92;
    const pts = values.map((v, i) => (v === null || !Number.isFinite(v) ? null : ([X(i), Y(v)] as const))).filter((q) => q !== null);
    const line = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${r1(x)},${r1(y)}`).join('');
    out.push(`<path d="${line}L${r1(pts[pts.length - 1]![0])},${r1(sparkBottom)}L${r1(pts[0]![0])},${r1(sparkBottom)}Z" fill="#ffffff" fill-opacity="0.13"/>`);
    out.push(`<path d="${line}" fill="none" stroke="#ffffff" stroke-opacity="0.45" stroke-width="1.5"/>`);
  }

  const f = m?.text !== undefined ? { text: m.text, suffix: '' } : formatValue(last, d.unit);
  // A leading space in the unit is drawn as a gap (SVG would collapse it).
  const suffix = f.suffix.trimStart();
  const gap = (sz: number) => (suffix !== f.suffix ? sz * 0.18 : 0);
  let size = Math.min(44, content.h * 0.5);
  const widthAt = (sz: number) => measure(f.text, sz, 500) + gap(sz) + measure(suffix, sz * 0.7, 500);
  while (size > 12 && widthAt(size) > content.w * 0.92) size -= 1;
  const total = widthAt(size);
  const x = frame.x + (frame.w - total) / 2;
  const y = content.y + content.h * 0.36 + size * 0.36;
  out.push(
    `<text x="${r1(x)}" y="${r1(y)}" font-size="${size}" font-weight="500" fill="#ffffff">${esc(f.text)}` +
      (suffix ? `<tspan dx="${r1(gap(size))}" font-size="${r1(size * 0.7)}" fill-opacity="0.9">${esc(suffix)}</tspan>` : '') +
      '</text>',
  );
}

export function drawDashboard(p: Picture): { svg: string; width: number; height: number } {
  const W = p.width ?? 1600;
  const PAD = 16;
  const GAP = 8;
  const CELL = 30;
  const cellW = (W - 2 * PAD + GAP) / 24;
  const TOP = 112;
  const bottomUnits = Math.max(...p.panels.map((q) => q.gridPos.y + q.gridPos.h));
  const footerLines = wrap(p.footer, W - 2 * PAD, 12);
  const H = TOP + bottomUnits * (CELL + GAP) + 19 + footerLines.length * 17;
  const out: string[] = [];
  out.push(`<rect width="${W}" height="${H}" fill="${T.canvas}"/>`);

  // Top bar: breadcrumb and time range.
  out.push(`<rect width="${W}" height="48" fill="${T.panel}"/><line x1="0" y1="48.5" x2="${W}" y2="48.5" stroke="${T.border}" stroke-opacity="${T.borderOpacity}"/>`);
  const crumb = 'Home  ›  Dashboards  › ';
  out.push(text(PAD, 30, crumb, { size: 14, fill: T.textSecondary }));
  out.push(text(PAD + measure(crumb, 14), 30, p.title, { size: 14, weight: 500 }));
  const trW = measure(p.timeRange, 13) + 24;
  out.push(`<rect x="${r1(W - PAD - trW)}" y="10" width="${r1(trW)}" height="28" rx="2" fill="${T.input}" stroke="${T.border}" stroke-opacity="0.2"/>`);
  out.push(text(W - PAD - trW / 2, 28.5, p.timeRange, { size: 13, anchor: 'middle' }));

  // Variables.
  let vx = PAD;
  for (const v of p.variables) {
    const lw = measure(v.label, 12, 500) + 16;
    const valueW = measure(v.value, 13) + 34;
    out.push(`<rect x="${r1(vx)}" y="62" width="${r1(lw)}" height="30" rx="2" fill="#22252b" stroke="${T.border}" stroke-opacity="0.15"/>`);
    out.push(text(vx + 8, 81.5, v.label, { weight: 500 }));
    out.push(`<rect x="${r1(vx + lw)}" y="62" width="${r1(valueW)}" height="30" rx="2" fill="${T.input}" stroke="${T.border}" stroke-opacity="0.2"/>`);
    out.push(text(vx + lw + 8, 81.5, v.value, { size: 13 }));
    const cx = vx + lw + valueW - 14;
    out.push(`<path d="M${r1(cx - 4)},75 L${r1(cx)},79 L${r1(cx + 4)},75" fill="none" stroke="${T.textSecondary}" stroke-width="1.5"/>`);
    vx += lw + valueW + 12;
  }

  for (const panel of p.panels) {
    const g = panel.gridPos;
    const x = PAD + g.x * cellW;
    const y = TOP + g.y * (CELL + GAP);
    const w = g.w * cellW - GAP;
    const h = g.h * (CELL + GAP) - GAP;
    if (panel.type === 'row') {
      out.push(`<path d="M${r1(x + 2)},${r1(y + 11)} L${r1(x + 7)},${r1(y + 16)} L${r1(x + 12)},${r1(y + 11)}" fill="none" stroke="${T.text}" stroke-width="1.6"/>`);
      out.push(text(x + 20, y + 20, panel.title, { size: 15, weight: 500 }));
      continue;
    }
    const res = p.results.get(panel.id);
    if (panel.type === 'stat') {
      drawStat(out, panel, res, { x, y, w, h });
      continue;
    }
    out.push(`<rect x="${r1(x)}" y="${r1(y)}" width="${r1(w)}" height="${r1(h)}" rx="2" fill="${T.panel}" stroke="${T.border}" stroke-opacity="${T.borderOpacity}"/>`);
    out.push(text(x + 8, y + 21, ellipsize(panel.title, w - 16, 14, 500), { size: 14, weight: 500 }));
    const box = { x: x + 8, y: y + 32, w: w - 16, h: h - 40 };
    if (panel.type === 'timeseries') drawTimeseries(out, p, panel, res, box);
    else if (panel.type === 'state-timeline') drawStateTimeline(out, p, panel, res, box);
    else noData(out, box.x, box.y, box.w, box.h, `(${panel.type} panels are not drawn by this preview)`);
  }
  footerLines.forEach((line, i) => out.push(text(PAD, H - 14 - (footerLines.length - 1 - i) * 17, line, { size: 12, fill: T.textSecondary })));

  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">\n` +
    out.join('\n') +
    '\n</svg>\n';
  return { svg, width: W, height: H };
}
