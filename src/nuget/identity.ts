// Package ids and versions exactly as NuGet treats them: validate, lowercase, normalize, compare.
// Rules: NuGet.Versioning (NuGetVersionFactory.cs, SemanticVersionFactory.cs, VersionFormatter.cs) and
// docs/concepts/Package-Versioning.md; package ids: NuGet.Packaging PackageIdValidator.cs.

export interface NuGetVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly revision: number;
  /** Release labels as written (case preserved); empty for a stable version. */
  readonly releaseLabels: readonly string[];
  /** Build metadata without the '+', or '' when absent. */
  readonly metadata: string;
}

const MAX_ID_LENGTH = 100;
// .NET's \w is letters, nonspacing marks, decimal digits and connector punctuation.
const ID_PATTERN = /^[\p{L}\p{Mn}\p{Nd}\p{Pc}]+(?:[.-][\p{L}\p{Mn}\p{Nd}\p{Pc}]+)*$/u;
const MAX_INT32 = 2147483647;

export function isValidPackageId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id);
}

/**
 * .NET's String.ToLowerInvariant: a one-to-one (simple) case mapping per UTF-16 unit. JavaScript's
 * toLowerCase applies full and context-sensitive mappings (İ → i̇, final Σ → ς), so map per code point
 * and keep only one-code-point results.
 */
export function toLowerInvariant(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\u0130') {
      out += 'i';
      continue;
    }
    const lower = ch.toLowerCase();
    out += [...lower].length === 1 ? lower : ch;
  }
  return out;
}

/** The lower-cased id used in URLs and cache keys, or null when the id is not a valid package id. */
export function toLowerId(id: string): string | null {
  return isValidPackageId(id) ? toLowerInvariant(id) : null;
}

function isLetterOrDigitOrDash(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 45;
}

function isNumeric(part: string): boolean {
  return /^[0-9]+$/.test(part);
}

function isValidLabelPart(part: string, allowLeadingZeros: boolean): boolean {
  if (part.length === 0) return false;
  if (!allowLeadingZeros && part.length > 1 && part[0] === '0' && isNumeric(part)) return false;
  for (let i = 0; i < part.length; i++) {
    if (!isLetterOrDigitOrDash(part.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * NuGetVersion.TryParse: 1–4 numeric parts (missing parts are 0), optional release labels and build
 * metadata. Numeric parts are plain decimal digits here (System.Version would also accept inner
 * whitespace, which no real version uses). Returns null for anything NuGet rejects.
 */
export function parseVersion(input: string): NuGetVersion | null {
  const value = input.trim();
  if (value.length === 0) return null;
  const plus = value.indexOf('+');
  const beforeMeta = plus >= 0 ? value.slice(0, plus) : value;
  const metadata = plus >= 0 ? value.slice(plus + 1) : null;
  const dash = beforeMeta.indexOf('-');
  const numbers = dash >= 0 ? beforeMeta.slice(0, dash) : beforeMeta;
  const labels = dash >= 0 ? beforeMeta.slice(dash + 1) : null;

  const parts = numbers.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const part of parts) {
    if (!isNumeric(part)) return null;
    const n = Number(part);
    if (!Number.isSafeInteger(n) || n > MAX_INT32) return null;
    nums.push(n);
  }
  const releaseLabels = labels === null ? [] : labels.split('.');
  if (labels !== null && !releaseLabels.every((l) => isValidLabelPart(l, false))) return null;
  if (metadata !== null && !metadata.split('.').every((m) => isValidLabelPart(m, true))) return null;
  return {
    major: nums[0] ?? 0,
    minor: nums[1] ?? 0,
    patch: nums[2] ?? 0,
    revision: nums[3] ?? 0,
    releaseLabels,
    metadata: metadata ?? '',
  };
}

/** VersionFormatter "N": Major.Minor.Patch[.Revision if > 0][-labels]; metadata dropped, label case kept. */
export function toNormalizedString(v: NuGetVersion): string {
  let s = `${v.major}.${v.minor}.${v.patch}`;
  if (v.revision > 0) s += `.${v.revision}`;
  if (v.releaseLabels.length > 0) s += `-${v.releaseLabels.join('.')}`;
  return s;
}

/** VersionFormatter "F": the normalized string plus '+metadata' when present. */
export function toFullString(v: NuGetVersion): string {
  const n = toNormalizedString(v);
  return v.metadata ? `${n}+${v.metadata}` : n;
}

/** The token used in flat-container and registration URLs: normalized, lower-cased, no metadata. */
export function toLowerVersion(v: NuGetVersion): string {
  return toNormalizedString(v).toLowerCase();
}

/** Parse and lower-normalize in one step; null when the version is invalid. */
export function normalizeLowerVersion(input: string): string | null {
  const v = parseVersion(input);
  return v ? toLowerVersion(v) : null;
}

export function isPrerelease(v: NuGetVersion): boolean {
  return v.releaseLabels.length > 0;
}

/** SemVer 2.0.0-only: a dotted release label or build metadata (NuGetVersion.IsSemVer2). */
export function isSemVer2(v: NuGetVersion): boolean {
  return v.releaseLabels.length > 1 || v.metadata.length > 0;
}

function compareLabel(a: string, b: string): number {
  const aNum = isNumeric(a);
  const bNum = isNumeric(b);
  if (aNum && bNum) {
    // Numeric identifiers compare numerically; they have no leading zeros, so length decides first.
    return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
  }
  if (aNum) return -1;
  if (bNum) return 1;
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  return al < bl ? -1 : al > bl ? 1 : 0;
}

/** NuGet precedence: four numeric parts, then release labels (a release sorts above its prereleases). */
export function compareVersions(a: NuGetVersion, b: NuGetVersion): number {
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.revision - b.revision;
  if (d !== 0) return Math.sign(d);
  const al = a.releaseLabels;
  const bl = b.releaseLabels;
  if (al.length === 0 && bl.length === 0) return 0;
  if (al.length === 0) return 1;
  if (bl.length === 0) return -1;
  const n = Math.min(al.length, bl.length);
  for (let i = 0; i < n; i++) {
    const c = compareLabel(al[i] ?? '', bl[i] ?? '');
    if (c !== 0) return Math.sign(c);
  }
  return Math.sign(al.length - bl.length);
}

/** Sorts version strings ascending by NuGet precedence; unparsable strings are dropped. */
export function sortVersionStrings(versions: Iterable<string>): string[] {
  const parsed: Array<[string, NuGetVersion]> = [];
  for (const s of versions) {
    const v = parseVersion(s);
    if (v) parsed.push([s, v]);
  }
  parsed.sort((x, y) => compareVersions(x[1], y[1]));
  return parsed.map((p) => p[0]);
}
