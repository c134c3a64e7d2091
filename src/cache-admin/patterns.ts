// Which package versions a cache command works on: `<id>[@<version>]` patterns, where `*` matches any run of
// characters, ids compare as NuGet lower-cases them and a version without `*` as its normalized form (so
// `Newtonsoft.Json@13.0` is 13.0.0). Pure.

import { normalizeLowerVersion, toLowerId, toLowerInvariant } from '../nuget/identity.ts';

export interface PackagePattern {
  /** As given, for messages. */
  readonly text: string;
  /** The lower-cased id when it has no `*` (lets a command list one id's keys instead of the whole store). */
  readonly exactId: string | null;
  readonly id: RegExp;
  /** null: every version. */
  readonly version: RegExp | null;
}

export class PatternError extends Error {}

/** Id characters (NuGet allows letters of any script, digits, `.`, `_`, `-`) plus `*`. */
const ID_GLOB = /^[\p{L}\p{Mn}\p{Nd}\p{Pc}.*-]+$/u;
/** Version characters plus `*`. */
const VERSION_GLOB = /^[A-Za-z0-9.+*-]+$/;

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'u');
}

export function parsePattern(text: string): PackagePattern {
  const at = text.indexOf('@');
  const idPart = at >= 0 ? text.slice(0, at) : text;
  const versionPart = at >= 0 ? text.slice(at + 1) : null;
  if (!idPart || !ID_GLOB.test(idPart)) throw new PatternError(`'${text}': not a package id pattern (letters, digits, . _ - and *)`);
  let exactId: string | null = null;
  if (!idPart.includes('*')) {
    exactId = toLowerId(idPart);
    if (exactId === null) throw new PatternError(`'${text}': '${idPart}' is not a valid package id`);
  }
  let version: RegExp | null = null;
  if (versionPart !== null && versionPart !== '*') {
    if (!versionPart || !VERSION_GLOB.test(versionPart)) throw new PatternError(`'${text}': not a version pattern (a version, or one with *)`);
    if (versionPart.includes('*')) version = globToRegExp(versionPart.toLowerCase());
    else {
      const normalized = normalizeLowerVersion(versionPart);
      if (normalized === null) throw new PatternError(`'${text}': '${versionPart}' is not a valid NuGet version`);
      version = globToRegExp(normalized);
    }
  }
  return { text, exactId, id: exactId !== null ? globToRegExp(exactId) : globToRegExp(toLowerInvariant(idPart)), version };
}

/** Every pattern parsed; all problems reported together. */
export function parsePatterns(texts: readonly string[]): PackagePattern[] {
  const problems: string[] = [];
  const out: PackagePattern[] = [];
  for (const t of texts) {
    try {
      out.push(parsePattern(t));
    } catch (err) {
      if (!(err instanceof PatternError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) throw new PatternError(problems.join('; '));
  return out;
}

/** True when any pattern matches (no patterns: everything). */
export function matchesAny(patterns: readonly PackagePattern[], lowerId: string, lowerVersion: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => p.id.test(lowerId) && (p.version === null || p.version.test(lowerVersion)));
}

/** The ids to list when every pattern names one exactly; null when one has a `*` in its id (list everything). */
export function exactIds(patterns: readonly PackagePattern[]): string[] | null {
  if (patterns.length === 0 || patterns.some((p) => p.exactId === null)) return null;
  return [...new Set(patterns.map((p) => p.exactId as string))].sort();
}
