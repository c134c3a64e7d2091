// NuGet version ranges and floating versions: parse, test membership, pick the version restore would pick.
// Rules: docs/concepts/Package-Versioning.md ("Version ranges", "Floating versions") and
// NuGet.Versioning VersionRangeFactory.cs / FloatRange.cs / VersionRange.FindBestMatch.

import { compareVersions, isPrerelease, parseVersion, type NuGetVersion } from './identity.ts';

export type FloatBehavior = 'none' | 'major' | 'minor' | 'patch' | 'revision' | 'prerelease';

export interface FloatSpec {
  readonly behavior: FloatBehavior;
  /** Also float the prerelease part (`1.*-*`, `*-*`): prereleases are candidates. */
  readonly includePrerelease: boolean;
  /** The literal prefix of a prerelease float (`beta` in `1.0.0-beta*`). */
  readonly releasePrefix: string;
  /** Fixed numeric parts before the `*` (`[1]` for `1.*`). */
  readonly fixedParts: readonly number[];
}

export interface VersionRange {
  readonly min: NuGetVersion | null;
  readonly minInclusive: boolean;
  readonly max: NuGetVersion | null;
  readonly maxInclusive: boolean;
  readonly float: FloatSpec | null;
  readonly original: string;
}

/** Parses a floating version such as `1.*`, `1.0.*-beta*`, `*-*`; returns the lowest matching version as min. */
function parseFloat(text: string): { min: NuGetVersion; float: FloatSpec } | null {
  const dash = text.indexOf('-');
  const numberPart = dash >= 0 ? text.slice(0, dash) : text;
  const labelPart = dash >= 0 ? text.slice(dash + 1) : null;
  const parts = numberPart.split('.');
  const numericFloat = parts[parts.length - 1] === '*';
  const labelFloat = labelPart !== null && labelPart.endsWith('*');
  if (!numericFloat && !labelFloat) return null;
  if (labelPart !== null && !labelFloat) return null;

  const fixed: number[] = [];
  const fixedCount = numericFloat ? parts.length - 1 : parts.length;
  if (fixedCount > 4 || (numericFloat && parts.length > 4)) return null;
  for (let i = 0; i < fixedCount; i++) {
    const p = parts[i] ?? '';
    if (!/^[0-9]+$/.test(p)) return null;
    fixed.push(Number(p));
  }
  const releasePrefix = labelFloat ? (labelPart ?? '').slice(0, -1) : '';
  if (releasePrefix.includes('*') || !/^[0-9A-Za-z.-]*$/.test(releasePrefix)) return null;

  const behaviors: FloatBehavior[] = ['major', 'minor', 'patch', 'revision'];
  const behavior: FloatBehavior = numericFloat ? (behaviors[fixed.length] ?? 'revision') : 'prerelease';
  // The lowest version a float can match: `1.0.0-beta*` starts at `1.0.0-beta`, `1.1.0-beta.*` at
  // `1.1.0-beta.0`, `1.*-*` at `1.0.0-0` (FloatRange.cs).
  let labels: string[] = [];
  if (labelFloat) {
    labels = releasePrefix === '' ? ['0'] : releasePrefix.split('.');
    if (labels[labels.length - 1] === '') labels[labels.length - 1] = '0';
    if (labels.some((l) => l === '')) return null;
  }
  const min: NuGetVersion = {
    major: fixed[0] ?? 0,
    minor: fixed[1] ?? 0,
    patch: fixed[2] ?? 0,
    revision: fixed[3] ?? 0,
    releaseLabels: labels,
    metadata: '',
  };
  return { min, float: { behavior, includePrerelease: labelFloat, releasePrefix, fixedParts: fixed } };
}

function parseBound(text: string): { version: NuGetVersion | null; float: FloatSpec | null } | null {
  const t = text.trim();
  if (t === '') return { version: null, float: null };
  if (t.includes('*')) {
    const f = parseFloat(t);
    return f ? { version: f.min, float: f.float } : null;
  }
  const v = parseVersion(t);
  return v ? { version: v, float: null } : null;
}

/** VersionRange.Parse (with floating allowed). Returns null for invalid ranges. */
export function parseRange(input: string): VersionRange | null {
  const text = input.trim();
  if (text === '') return null;
  const first = text[0];
  if (first !== '[' && first !== '(') {
    // A bare version means "this or higher"; a bare float means the float.
    const b = parseBound(text);
    if (!b || !b.version) return null;
    return { min: b.version, minInclusive: true, max: null, maxInclusive: false, float: b.float, original: input };
  }
  const last = text[text.length - 1];
  if (last !== ']' && last !== ')') return null;
  const inner = text.slice(1, -1);
  // NuGet rejects "(,)" (VersionRangeFactory), though "(, )" parses as "every version".
  if (inner === ',') return null;
  const comma = inner.indexOf(',');
  if (comma < 0) {
    // `[1.0]` is an exact version; `(1.0)` is invalid.
    if (first !== '[' || last !== ']') return null;
    const v = parseVersion(inner);
    if (!v) return null;
    return { min: v, minInclusive: true, max: v, maxInclusive: true, float: null, original: input };
  }
  if (inner.indexOf(',', comma + 1) >= 0) return null;
  const lo = parseBound(inner.slice(0, comma));
  const hiText = inner.slice(comma + 1);
  if (hiText.includes('*')) return null;
  const hi = parseBound(hiText);
  if (!lo || !hi) return null;
  if (!lo.version && !hi.version && (first === '[' || last === ']')) return null;
  if (lo.version && hi.version) {
    const c = compareVersions(lo.version, hi.version);
    if (c > 0 || (c === 0 && !(first === '[' && last === ']'))) return null;
  }
  return {
    min: lo.version,
    minInclusive: first === '[',
    max: hi.version,
    maxInclusive: last === ']',
    float: lo.float,
    original: input,
  };
}

/** `(, )`: every version. Used for dependencies without a range. */
export const ALL_VERSIONS: VersionRange = {
  min: null,
  minInclusive: false,
  max: null,
  maxInclusive: false,
  float: null,
  original: '',
};

export function rangeContains(range: VersionRange, v: NuGetVersion): boolean {
  if (range.min) {
    const c = compareVersions(v, range.min);
    if (c < 0 || (c === 0 && !range.minInclusive)) return false;
  }
  if (range.max) {
    const c = compareVersions(v, range.max);
    if (c > 0 || (c === 0 && !range.maxInclusive)) return false;
  }
  return true;
}

function floatMatches(f: FloatSpec, v: NuGetVersion): boolean {
  const parts = [v.major, v.minor, v.patch, v.revision];
  for (let i = 0; i < f.fixedParts.length; i++) {
    if (f.behavior !== 'prerelease' && parts[i] !== f.fixedParts[i]) return false;
  }
  if (f.behavior === 'prerelease') {
    for (let i = 0; i < f.fixedParts.length; i++) if (parts[i] !== (f.fixedParts[i] ?? 0)) return false;
  }
  if (isPrerelease(v)) {
    if (!f.includePrerelease) return false;
    const label = v.releaseLabels.join('.').toLowerCase();
    return label.startsWith(f.releasePrefix.toLowerCase());
  }
  return true;
}

/** Prereleases are candidates only when a bound is a prerelease or the float floats the label (VersionRange.IsBetter). */
export function allowsPrerelease(range: VersionRange): boolean {
  return Boolean((range.min && isPrerelease(range.min)) || (range.max && isPrerelease(range.max)) || range.float?.includePrerelease);
}

/**
 * The version restore picks from `available`: for a floating range, the highest version matching the float
 * (falling back to the lowest version in range); otherwise the lowest version in range.
 */
export function findBestMatch(range: VersionRange, available: readonly NuGetVersion[]): NuGetVersion | null {
  const prerelease = allowsPrerelease(range);
  const inRange = available.filter((v) => rangeContains(range, v) && (prerelease || !isPrerelease(v))).sort(compareVersions);
  if (inRange.length === 0) return null;
  if (range.float) {
    const f = range.float;
    const matching = inRange.filter((v) => floatMatches(f, v));
    const best = matching[matching.length - 1];
    if (best) return best;
  }
  return inRange[0] ?? null;
}
