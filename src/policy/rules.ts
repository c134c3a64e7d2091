// The supply-chain policy as data and as decisions: parse the `policy:` section (durations, severities,
// id patterns with optional NuGet version ranges) and decide, for one package version and what is known
// about it (published date, advisories), whether it is hidden, refused, or neither. Pure.
// Patterns: the Package Source Mapping syntax (src/nuget/source-mapping.ts); ranges: NuGet range syntax
// (docs/concepts/Package-Versioning.md); severities: VulnerabilityInfo's 0 low … 3 critical
// (docs/api/vulnerability-info.md).

import { toFullString, type NuGetVersion } from '../nuget/identity.ts';
import { PatternSet, patternProblem } from '../nuget/source-mapping.ts';
import { parseRange, rangeContains, type VersionRange } from '../nuget/version-range.ts';

export const SEVERITIES = ['low', 'moderate', 'high', 'critical'] as const;

export interface PolicyConfig {
  /** Versions published more recently than this are hidden; null: no age rule. */
  readonly minReleaseAgeMs: number | null;
  readonly minReleaseAgeExempt: readonly string[];
  /** What a download of a version hidden for its age gets. */
  readonly youngPinned: 'refuse' | 'allow';
  readonly vulnerabilities: {
    /** 0 low … 3 critical: advisories at or above it count. */
    readonly minSeverity: number;
    /** hide: absent from lists, a pinned download still works; refuse: listed, but the download is refused (the build fails and says why). */
    readonly action: 'hide' | 'refuse';
    /** Id patterns and advisory URLs the rule ignores. */
    readonly exempt: readonly string[];
  } | null;
  /** `Pattern` or `Pattern RANGE` entries. */
  readonly deny: readonly string[];
  /** When set, only versions matching an entry are permitted. */
  readonly allow: readonly string[] | null;
}

export type PolicyRule = 'deny' | 'allow' | 'min_release_age' | 'vulnerability';
export const POLICY_RULES: readonly PolicyRule[] = ['deny', 'allow', 'min_release_age', 'vulnerability'];

export interface Advisory {
  readonly url: string;
  readonly severity: number;
}

/** What the policy may know about one package version. */
export interface VersionFacts {
  readonly lowerId: string;
  readonly version: NuGetVersion;
  /** null: not known (no registration data). */
  readonly published: Date | null;
  /** Advisories whose range contains this version. */
  readonly advisories: readonly Advisory[];
}

export interface Decision {
  readonly rule: PolicyRule;
  /** Absent from version lists, registration and search. */
  readonly hide: boolean;
  /** A download gets 403. */
  readonly refuse: boolean;
  /** One line for the person reading restore output. */
  readonly reason: string;
}

const DURATION_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** '7d' → ms, '36h', '90m', '2w'; '0' → 0; null when it is not a duration. */
export function parseDuration(raw: string): number | null {
  const t = raw.trim();
  if (t === '0') return 0;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([mhdw])$/i.exec(t);
  if (!m?.[1] || !m[2]) return null;
  const ms = Math.round(Number(m[1]) * (DURATION_UNITS[m[2].toLowerCase()] ?? 0));
  return Number.isFinite(ms) ? ms : null;
}

export function formatDuration(ms: number): string {
  if (ms >= 86_400_000 && ms % 3_600_000 === 0) {
    const days = ms / 86_400_000;
    return Number.isInteger(days) ? `${days} d` : `${Math.round(ms / 3_600_000)} h`;
  }
  if (ms >= 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.max(0, Math.round(ms / 60_000))} min`;
}

interface IdRule {
  readonly text: string;
  readonly ids: PatternSet;
  readonly range: VersionRange | null;
}

/** `Pattern` or `Pattern RANGE`; a problem string when it is not one. */
export function parseIdRule(text: string): IdRule | string {
  const t = text.trim();
  const space = t.search(/\s/);
  const pattern = space < 0 ? t : t.slice(0, space);
  const rangeText = space < 0 ? '' : t.slice(space).trim();
  const problem = patternProblem(pattern);
  if (problem) return problem;
  if (rangeText === '') return { text: t, ids: new PatternSet([pattern]), range: null };
  const range = parseRange(rangeText);
  if (!range || range.float) return `'${rangeText}' is not a NuGet version range (e.g. [1.0.0,1.2.0) or (,2.0.0])`;
  return { text: t, ids: new PatternSet([pattern]), range };
}

function matchesRule(rule: IdRule, f: Pick<VersionFacts, 'lowerId' | 'version'>): boolean {
  return rule.ids.matches(f.lowerId) && (rule.range === null || rangeContains(rule.range, f.version));
}

function severityName(n: number): string {
  return SEVERITIES[n] ?? `severity ${n}`;
}

/** Parses and validates the `policy:` section; problems are appended with `where`. */
export function parsePolicyConfig(raw: unknown, where: string, problems: string[]): PolicyConfig | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(`${where}: must be a mapping (minReleaseAge, vulnerabilities, deny, allow, …)`);
    return null;
  }
  const o = raw as Record<string, unknown>;
  const known = new Set(['minReleaseAge', 'minReleaseAgeExempt', 'youngPinned', 'vulnerabilities', 'deny', 'allow']);
  for (const k of Object.keys(o)) if (!known.has(k)) problems.push(`${where}.${k}: unknown setting (known: ${[...known].join(', ')})`);

  const patternList = (key: string, value: unknown, allowUrls: boolean): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      problems.push(`${where}.${key}: must be a list of id patterns`);
      return [];
    }
    for (const v of value as string[]) {
      if (allowUrls && /^https?:\/\//i.test(v.trim())) continue;
      const p = patternProblem(v);
      if (p) problems.push(`${where}.${key}: ${p}`);
    }
    return (value as string[]).map((v) => v.trim());
  };

  let minReleaseAgeMs: number | null = null;
  if (o['minReleaseAge'] !== undefined && o['minReleaseAge'] !== null) {
    const d = parseDuration(String(o['minReleaseAge']));
    if (d === null) problems.push(`${where}.minReleaseAge: ${JSON.stringify(o['minReleaseAge'])} is not a duration such as 7d, 36h or 90m`);
    else minReleaseAgeMs = d > 0 ? d : null;
  }
  const youngPinned = o['youngPinned'] ?? 'refuse';
  if (youngPinned !== 'refuse' && youngPinned !== 'allow') problems.push(`${where}.youngPinned: must be refuse or allow`);

  let vulnerabilities: PolicyConfig['vulnerabilities'] = null;
  const v = o['vulnerabilities'];
  if (v !== undefined && v !== null) {
    if (typeof v !== 'object' || Array.isArray(v)) problems.push(`${where}.vulnerabilities: must be a mapping (minSeverity, action, exempt)`);
    else {
      const vo = v as Record<string, unknown>;
      for (const k of Object.keys(vo)) if (!['minSeverity', 'action', 'exempt'].includes(k)) problems.push(`${where}.vulnerabilities.${k}: unknown setting`);
      const rawSeverity = vo['minSeverity'] ?? 'high';
      const byName = typeof rawSeverity === 'string' ? SEVERITIES.indexOf(rawSeverity.toLowerCase() as (typeof SEVERITIES)[number]) : -1;
      const severity = byName >= 0 ? byName : typeof rawSeverity === 'number' && Number.isInteger(rawSeverity) && rawSeverity >= 0 && rawSeverity <= 3 ? rawSeverity : -1;
      if (severity < 0) problems.push(`${where}.vulnerabilities.minSeverity: must be one of ${SEVERITIES.join(', ')}`);
      const action = vo['action'] ?? 'refuse';
      if (action !== 'hide' && action !== 'refuse') problems.push(`${where}.vulnerabilities.action: must be hide or refuse`);
      vulnerabilities = {
        minSeverity: Math.max(0, severity),
        action: action === 'hide' ? 'hide' : 'refuse',
        exempt: patternList('vulnerabilities.exempt', vo['exempt'], true),
      };
    }
  }

  const ruleList = (key: 'deny' | 'allow'): string[] | null => {
    const value = o[key];
    if (value === undefined || value === null) return null;
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) {
      problems.push(`${where}.${key}: must be a list of 'Pattern' or 'Pattern [range]' entries`);
      return null;
    }
    for (const entry of value as string[]) {
      const r = parseIdRule(entry);
      if (typeof r === 'string') problems.push(`${where}.${key}: ${JSON.stringify(entry)}: ${r}`);
    }
    return (value as string[]).map((x) => x.trim());
  };

  return {
    minReleaseAgeMs,
    minReleaseAgeExempt: patternList('minReleaseAgeExempt', o['minReleaseAgeExempt'], false),
    youngPinned: youngPinned === 'allow' ? 'allow' : 'refuse',
    vulnerabilities,
    deny: ruleList('deny') ?? [],
    allow: ruleList('allow'),
  };
}

/** A compiled policy: decide() is called for every version of every list, so patterns are parsed once. */
export class Policy {
  private readonly deny: IdRule[];
  private readonly allow: IdRule[] | null;
  private readonly ageExempt: PatternSet;
  private readonly vulnExemptIds: PatternSet;
  private readonly vulnExemptUrls: Set<string>;

  constructor(readonly config: PolicyConfig) {
    const compile = (list: readonly string[]) => list.map(parseIdRule).filter((r): r is IdRule => typeof r !== 'string');
    this.deny = compile(config.deny);
    this.allow = config.allow ? compile(config.allow) : null;
    this.ageExempt = new PatternSet(config.minReleaseAgeExempt);
    const exempt = config.vulnerabilities?.exempt ?? [];
    this.vulnExemptUrls = new Set(exempt.filter((e) => /^https?:\/\//i.test(e)).map((e) => e.toLowerCase()));
    this.vulnExemptIds = new PatternSet(exempt.filter((e) => !/^https?:\/\//i.test(e)));
  }

  /** Whether every version of `lowerId` is hidden whatever its version (a deny entry without a range, or off the allow list). */
  idHidden(lowerId: string): boolean {
    if (this.deny.some((r) => r.range === null && r.ids.matches(lowerId))) return true;
    return this.allow !== null && !this.allow.some((r) => r.ids.matches(lowerId));
  }

  /** Whether decide() needs the published date of `lowerId`'s versions. */
  needsPublished(lowerId: string): boolean {
    return this.config.minReleaseAgeMs !== null && !this.ageExempt.matches(lowerId);
  }

  /** Whether decide() needs advisories for `lowerId`. */
  needsAdvisories(lowerId: string): boolean {
    return this.config.vulnerabilities !== null && !this.vulnExemptIds.matches(lowerId);
  }

  /** The first rule that applies (deny, allow, vulnerability, age), or null when the version is fine. */
  decide(f: VersionFacts, nowMs: number): Decision | null {
    const name = `${f.lowerId} ${toFullString(f.version)}`;
    const denied = this.deny.find((r) => matchesRule(r, f));
    if (denied) return { rule: 'deny', hide: true, refuse: true, reason: `${name} is denied by policy (deny: ${denied.text})` };
    if (this.allow && !this.allow.some((r) => matchesRule(r, f))) {
      return { rule: 'allow', hide: true, refuse: true, reason: `${name} is not on the policy's allow list` };
    }
    const vuln = this.config.vulnerabilities;
    if (vuln && !this.vulnExemptIds.matches(f.lowerId)) {
      const hit = f.advisories
        .filter((a) => a.severity >= vuln.minSeverity && !this.vulnExemptUrls.has(a.url.toLowerCase()))
        .sort((a, b) => b.severity - a.severity)[0];
      if (hit) {
        return {
          rule: 'vulnerability',
          hide: vuln.action === 'hide',
          refuse: vuln.action === 'refuse',
          reason: `${name} has a ${severityName(hit.severity)}-severity advisory (${hit.url}); policy ${vuln.action === 'hide' ? 'hides' : 'refuses'} ${severityName(vuln.minSeverity)} and above`,
        };
      }
    }
    const minAge = this.config.minReleaseAgeMs;
    if (minAge !== null && !this.ageExempt.matches(f.lowerId)) {
      const refuse = this.config.youngPinned === 'refuse';
      if (f.published === null) {
        return { rule: 'min_release_age', hide: true, refuse, reason: `${name} has no known publish date; policy requires ${formatDuration(minAge)} (min release age)` };
      }
      const age = nowMs - f.published.getTime();
      if (age < minAge) {
        return {
          rule: 'min_release_age',
          hide: true,
          refuse,
          reason: `${name} was published ${formatDuration(age)} ago; policy requires ${formatDuration(minAge)} (min release age)`,
        };
      }
    }
    return null;
  }
}
