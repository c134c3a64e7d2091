// Figures for the benchmark tables: percentiles, medians, unit formatting and a markdown table.

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** The middle value (the mean of the two middle ones for an even count); NaN values are left out. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** 1234567 → "1,234,567". */
export const count = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

export const ratio = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');

export const ms = (n: number): string => (!Number.isFinite(n) ? '—' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));

export const seconds = (msValue: number): string => (Number.isFinite(msValue) ? (msValue / 1000).toFixed(1) : '—');

/** Bytes per second → "1.23 GB/s" (decimal units: GB/s as the issue quotes them). */
export function rate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond)) return '—';
  if (bytesPerSecond >= 1e9) return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;
  return `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;
}

export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A GitHub-flavoured markdown table, columns padded so it also reads as plain text. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const text = (c: string | number | undefined): string => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(1)) : (c ?? ''));
  const cells = [headers.map(text), ...rows.map((r) => headers.map((_, i) => text(r[i])))];
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** One progress line on stderr, so a long run is not silent (the tables go to stdout at the end). */
export function progress(message: string): void {
  process.stderr.write(`  · ${message}\n`);
}
