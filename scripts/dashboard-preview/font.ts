// Text widths for laying out the SVG: the advance widths of the font rsvg-convert will actually draw with
// (fontconfig's match for the family), read from the font file's cmap and hmtx tables. No dependencies;
// without fontconfig or a readable font it falls back to an average glyph width.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Measurer {
  /** Width in px of `text` set at `size` px. */
  width(text: string, size: number): number;
  /** The font file measured, or null for the fallback estimate. */
  readonly file: string | null;
}

function tables(buf: Buffer): Map<string, { offset: number; length: number }> {
  const out = new Map<string, { offset: number; length: number }>();
  const numTables = buf.readUInt16BE(4);
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    out.set(buf.toString('latin1', rec, rec + 4), { offset: buf.readUInt32BE(rec + 8), length: buf.readUInt32BE(rec + 12) });
  }
  return out;
}

/** Code point → glyph id, from a format 4 or format 12 Unicode cmap subtable. */
function cmapLookup(buf: Buffer, cmapOffset: number): (cp: number) => number {
  const n = buf.readUInt16BE(cmapOffset + 2);
  let best: { format: number; offset: number } | null = null;
  for (let i = 0; i < n; i++) {
    const rec = cmapOffset + 4 + i * 8;
    const platform = buf.readUInt16BE(rec);
    const encoding = buf.readUInt16BE(rec + 2);
    const offset = cmapOffset + buf.readUInt32BE(rec + 4);
    const format = buf.readUInt16BE(offset);
    const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (!unicode || (format !== 4 && format !== 12)) continue;
    if (!best || (format === 12 && best.format === 4)) best = { format, offset };
  }
  if (!best) return () => 0;
  const o = best.offset;
  if (best.format === 12) {
    const groups = buf.readUInt32BE(o + 12);
    return (cp) => {
      for (let g = 0; g < groups; g++) {
        const rec = o + 16 + g * 12;
        const start = buf.readUInt32BE(rec);
        const end = buf.readUInt32BE(rec + 4);
        if (cp >= start && cp <= end) return buf.readUInt32BE(rec + 8) + (cp - start);
      }
      return 0;
    };
  }
  const segCount = buf.readUInt16BE(o + 6) / 2;
  const ends = o + 14;
  const starts = ends + segCount * 2 + 2;
  const deltas = starts + segCount * 2;
  const rangeOffsets = deltas + segCount * 2;
  return (cp) => {
    if (cp > 0xffff) return 0;
    for (let s = 0; s < segCount; s++) {
      if (cp > buf.readUInt16BE(ends + s * 2)) continue;
      const start = buf.readUInt16BE(starts + s * 2);
      if (cp < start) return 0;
      const delta = buf.readInt16BE(deltas + s * 2);
      const ro = buf.readUInt16BE(rangeOffsets + s * 2);
      if (ro === 0) return (cp + delta) & 0xffff;
      const g = buf.readUInt16BE(rangeOffsets + s * 2 + ro + (cp - start) * 2);
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
}

function fromFile(file: string): Measurer {
  const buf = readFileSync(file);
  const t = tables(buf);
  const head = t.get('head');
  const hhea = t.get('hhea');
  const hmtx = t.get('hmtx');
  const cmap = t.get('cmap');
  if (!head || !hhea || !hmtx || !cmap) throw new Error(`${file}: missing head/hhea/hmtx/cmap`);
  const unitsPerEm = buf.readUInt16BE(head.offset + 18);
  const numberOfHMetrics = buf.readUInt16BE(hhea.offset + 34);
  const glyphOf = cmapLookup(buf, cmap.offset);
  const advance = (glyph: number) => buf.readUInt16BE(hmtx.offset + Math.min(glyph, numberOfHMetrics - 1) * 4);
  const cache = new Map<number, number>();
  const em = (cp: number) => {
    let w = cache.get(cp);
    if (w === undefined) {
      const g = glyphOf(cp);
      w = (g === 0 ? advance(glyphOf(0x6e /* n */)) : advance(g)) / unitsPerEm;
      cache.set(cp, w);
    }
    return w;
  };
  return {
    file,
    width(text, size) {
      let w = 0;
      for (const ch of text) w += em(ch.codePointAt(0) ?? 0x20);
      return w * size;
    },
  };
}

/** The font fontconfig resolves `pattern` (e.g. "Inter:style=Medium") to, measured; an estimate if that fails. */
export function loadMeasurer(pattern: string): Measurer {
  try {
    const file = execFileSync('fc-match', ['-f', '%{file}', pattern], { encoding: 'utf8', timeout: 10_000 }).trim();
    if (file) return fromFile(file);
  } catch {
    // fall through to the estimate
  }
  return { file: null, width: (text, size) => [...text].length * size * 0.6 };
}
