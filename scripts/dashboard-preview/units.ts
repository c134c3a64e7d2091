// Grafana's value formatting for the units the dashboard uses (reqps, ops, percentunit, s, bytes, Bps,
// short, none), and "nice" axis ticks for them.

export interface Formatted {
  readonly text: string;
  readonly suffix: string;
}

/** Up to `sig` significant digits, trailing zeros dropped (axis ticks), or Grafana-like auto decimals. */
function num(v: number, trim: boolean): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  let decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(a)));
  if (trim) decimals = Math.min(decimals, 6);
  let s = v.toFixed(decimals);
  if (trim && s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

function scaled(v: number, base: number, prefixes: readonly string[], unit: string, trim: boolean, space = true): Formatted {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < prefixes.length - 1) {
    x /= base;
    i++;
  }
  const p = prefixes[i] ?? '';
  const suffix = `${p}${unit}`;
  return { text: num(x, trim), suffix: suffix ? (space ? ` ${suffix}` : suffix) : '' };
}

/** `unit` as in fieldConfig.defaults.unit. `trim` drops trailing zeros (axis ticks). */
export function formatValue(v: number, unit: string | undefined, trim = false): Formatted {
  switch (unit) {
    case 'reqps':
      return scaled(v, 1000, ['', 'K', 'M', 'B'], 'req/s', trim);
    case 'ops':
      return scaled(v, 1000, ['', 'K', 'M', 'B'], 'ops/s', trim);
    case 'percentunit':
      return { text: num(v * 100, trim), suffix: '%' };
    case 'percent':
      return { text: num(v, trim), suffix: '%' };
    case 'bytes':
      return scaled(v, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB'], '', trim);
    case 'Bps':
      return scaled(v, 1000, ['B/s', 'kB/s', 'MB/s', 'GB/s', 'TB/s'], '', trim);
    case 's': {
      const a = Math.abs(v);
      if (a === 0) return { text: '0', suffix: '' };
      if (a < 1e-3) return { text: num(v * 1e6, trim), suffix: ' µs' };
      if (a < 1) return { text: num(v * 1e3, trim), suffix: ' ms' };
      if (a < 60) return { text: num(v, trim), suffix: ' s' };
      return { text: num(v / 60, trim), suffix: ' min' };
    }
    case 'short':
      return scaled(v, 1000, ['', 'K', 'Mil', 'Bil', 'Tri'], '', trim);
    default:
      return { text: num(v, trim), suffix: '' };
  }
}

export function formatText(v: number, unit: string | undefined, trim = false): string {
  const f = formatValue(v, unit, trim);
  return f.text + f.suffix;
}

/** Axis range and ticks: `target` ticks or so, nice steps (powers of 1024 for bytes). */
export function niceTicks(min: number, max: number, target: number, unit: string | undefined, fixed: { min?: number; max?: number } = {}): { min: number; max: number; ticks: number[] } {
  if (!(max > min)) max = min + (min === 0 ? 1 : Math.abs(min));
  const raw = (max - min) / Math.max(1, target);
  const binary = unit === 'bytes';
  const base = binary ? 1024 ** Math.max(0, Math.floor(Math.log(raw) / Math.log(1024))) : 10 ** Math.floor(Math.log10(raw));
  const mults = binary ? [1, 2, 4, 5, 8, 10, 16, 20, 32, 50, 64, 100, 128, 200, 256, 500, 512, 1000, 1024] : [1, 2, 2.5, 5, 10];
  const step = (mults.find((m) => m * base >= raw) ?? mults[mults.length - 1]!) * base;
  const lo = fixed.min ?? Math.floor(min / step) * step;
  const hi = fixed.max ?? Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) ticks.push(i === 0 ? 0 : i * step);
  return { min: lo, max: hi, ticks };
}
