// Package Source Mapping: which upstreams an id may come from, matched exactly as NuGet matches it. Pure.
// Rules: docs/consume-packages/Package-Source-Mapping.md ("Package Pattern Syntax", "Package Pattern
// precedence"); algorithm: NuGet.Client NuGet.Configuration/PackageSourceMapping/SearchTree.cs — a trie
// of lower-cased patterns where a `*` marks a node as a prefix ("globbing") node:
//   - an id that ends exactly on a node holding sources gets that node's sources (exact ids, and a prefix
//     pattern matching zero more characters: `Contoso.*` covers `Contoso.`);
//   - otherwise the deepest prefix node passed on the way down wins (the longest prefix, `*` last);
//   - sources that declare the very same pattern all match (in declaration order);
//   - NuGet stores an exact pattern and the same text as a prefix on ONE node, so `Contoso.Core` on A and
//     `Contoso.Core*` on B send `Contoso.Core.X` to A and B alike. That is NuGet's behaviour and kept.
// With a mapping, an id no pattern covers comes from no source ("not found", as in NuGet).

import { toLowerInvariant } from './identity.ts';

/** NuGet caps patterns at the package id length limit (PackageSourceMapping.PackageIdMaxLength). */
export const MAX_PATTERN_LENGTH = 100;

/** Pattern text NuGet accepts: an id, or an id prefix followed by one trailing `*`, or `*` alone. */
const PATTERN_SYNTAX = /^[^*\s]*\*?$/;

interface Node {
  readonly children: Map<string, Node>;
  globbing: boolean;
  sources: string[] | null;
}

function node(): Node {
  return { children: new Map(), globbing: false, sources: null };
}

/** Why a pattern is not valid, or null when it is. */
export function patternProblem(pattern: string): string | null {
  const p = pattern.trim();
  if (p === '') return 'a pattern must not be empty';
  if (p.length > MAX_PATTERN_LENGTH) return `a pattern must be at most ${MAX_PATTERN_LENGTH} characters`;
  if (!PATTERN_SYNTAX.test(p)) return `'${p}' is not a package id or a prefix ending in a single '*'`;
  return null;
}

export class PackageSourceMapping {
  private readonly root = node();
  /** Upstream name → its patterns, as configured. */
  readonly patterns: ReadonlyMap<string, readonly string[]>;

  /** `patterns`: upstream name → package patterns, in declaration order. Patterns must be valid. */
  constructor(patterns: Iterable<readonly [string, readonly string[]]>) {
    const copy = new Map<string, readonly string[]>();
    for (const [source, list] of patterns) {
      copy.set(source, [...list]);
      for (const pattern of list) this.add(source, pattern);
    }
    this.patterns = copy;
  }

  private add(source: string, pattern: string): void {
    let current = this.root;
    const text = toLowerInvariant(pattern.trim());
    for (const c of text) {
      if (c === '*') {
        current.globbing = true;
        break;
      }
      let next = current.children.get(c);
      if (!next) {
        next = node();
        current.children.set(c, next);
      }
      current = next;
    }
    current.sources ??= [];
    if (!current.sources.includes(source)) current.sources.push(source);
  }

  private find(id: string): Node | null {
    const term = toLowerInvariant(id.trim());
    let current = this.root;
    let longestPrefix: Node | null = current.globbing ? current : null;
    let i = 0;
    const chars = [...term];
    for (; i < chars.length; i++) {
      const next = current.children.get(chars[i] as string);
      if (!next) break;
      current = next;
      if (current.globbing) longestPrefix = current;
    }
    if (i === chars.length && current.sources !== null) return current;
    return longestPrefix;
  }

  /** The upstream names `id` may come from, in declaration order; [] when no pattern covers it. */
  sourcesFor(id: string): readonly string[] {
    return this.find(id)?.sources ?? [];
  }
}

/**
 * A list of id patterns (policy exemptions, allow and deny lists) with the same syntax and precedence.
 * `matches` answers whether any pattern covers the id.
 */
export class PatternSet {
  private readonly mapping: PackageSourceMapping;

  constructor(readonly patterns: readonly string[]) {
    this.mapping = new PackageSourceMapping([['*', patterns]]);
  }

  matches(id: string): boolean {
    return this.mapping.sourcesFor(id).length > 0;
  }
}
