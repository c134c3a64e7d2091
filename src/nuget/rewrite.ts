// Rewrites upstream URLs inside JSON documents to proxy URLs. Pure.
//
// Documents are rewritten once, when they are filled, into a base-independent form: every upstream URL
// prefix the proxy serves becomes BASE_MARKER + proxy path. At response time renderJson() swaps the marker
// for the request's public base (a linear string replace), so one cached document serves every base URL
// (https and http listeners, several host names) without re-parsing. Protocol digest §6.5 and §17.
// Big documents are rendered from a template instead: their bytes split once at the marker, so a render is
// a copy of byte ranges with the base in between (no string replace, no re-encoding).

import type { UpstreamLayout } from './service-index.ts';
import { PROXY_PATHS, registrationBasePath } from './paths.ts';

/** A NUL cannot appear raw in JSON text, so its escaped form in a string is an unambiguous placeholder. */
export const BASE_MARKER = '\u0000nuget-proxy\u0000';
const MARKER_IN_JSON = JSON.stringify(BASE_MARKER).slice(1, -1);

export interface PrefixRule {
  readonly from: string;
  readonly to: string;
}

/** Upstream base → proxy path for every resource whose documents contain URLs (flat container, hives). */
export function buildRewriteRules(layout: UpstreamLayout): PrefixRule[] {
  const rules: PrefixRule[] = [];
  if (layout.flat) rules.push({ from: layout.flat, to: PROXY_PATHS.flatContainer });
  for (const [hive, base] of layout.hives) rules.push({ from: base, to: registrationBasePath(hive) });
  // Longest prefix first, so a hive nested under another base maps to the right place.
  return rules.sort((a, b) => b.from.length - a.from.length);
}

export function rewriteUrl(value: string, rules: readonly PrefixRule[]): string {
  if (!value.startsWith('http')) return value;
  for (const r of rules) {
    if (value.startsWith(r.from)) return BASE_MARKER + r.to + value.slice(r.from.length);
  }
  return value;
}

/** Returns a copy of `doc` with every string value that starts with a mapped upstream prefix rewritten. */
export function rewriteValue(doc: unknown, rules: readonly PrefixRule[]): unknown {
  if (typeof doc === 'string') return rewriteUrl(doc, rules);
  if (Array.isArray(doc)) return doc.map((v) => rewriteValue(v, rules));
  if (doc !== null && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) out[k] = rewriteValue(v, rules);
    return out;
  }
  return doc;
}

export class InvalidDocument extends Error {}

export interface RewriteResult {
  /** The document in stored (base-independent) form. */
  readonly text: string;
  /** `@id`s of pages without `items` (separate registration page documents), in stored form. */
  readonly separatePages: readonly string[];
}

/** `@id`s of registration index items that are separate page documents (no inlined `items`). */
export function separatePageIds(doc: unknown): string[] {
  const items = (doc as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return [];
  const out: string[] = [];
  for (const item of items) {
    const page = item as { '@id'?: unknown; items?: unknown } | null;
    if (page && typeof page['@id'] === 'string' && !Array.isArray(page.items)) out.push(page['@id']);
  }
  return out;
}

/**
 * Parses upstream JSON, checks it is an object (the only shape clients accept, HttpStreamValidation.cs),
 * rewrites URLs and serializes it in the base-independent form.
 */
export function rewriteJsonText(text: string, rules: readonly PrefixRule[]): RewriteResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidDocument(`upstream sent invalid JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidDocument('upstream JSON is not an object');
  const rewritten = rewriteValue(doc, rules);
  return { text: JSON.stringify(rewritten), separatePages: separatePageIds(rewritten) };
}

/** Escapes a base URL for insertion inside a JSON string. */
function jsonEscape(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Substitutes the public base into a stored document. */
export function renderJson(stored: string, publicBase: string): string {
  return stored.replaceAll(MARKER_IN_JSON, jsonEscape(publicBase));
}

/**
 * A stored document as bytes without the markers, and where each marker was (`cuts`: offsets into
 * `bytes`, ascending). Base-independent like the stored text it comes from.
 */
export interface RenderTemplate {
  readonly bytes: Uint8Array;
  readonly cuts: Uint32Array;
}

const MARKER_BYTES = Buffer.from(MARKER_IN_JSON, 'utf8');

/**
 * Splits a stored document at its markers. `allocate` decides where the bytes live (shared memory when a
 * worker thread builds the template for the event loop).
 */
export function makeTemplate(stored: string, allocate: (bytes: number) => Uint8Array = (n) => new Uint8Array(n)): RenderTemplate {
  const full = Buffer.from(stored, 'utf8');
  const at: number[] = [];
  for (let i = full.indexOf(MARKER_BYTES); i >= 0; i = full.indexOf(MARKER_BYTES, i + MARKER_BYTES.length)) at.push(i);
  const bytes = allocate(full.length - at.length * MARKER_BYTES.length);
  const cuts = new Uint32Array(allocate(at.length * 4).buffer, 0, at.length);
  let out = 0;
  let from = 0;
  at.forEach((i, k) => {
    bytes.set(full.subarray(from, i), out);
    out += i - from;
    cuts[k] = out;
    from = i + MARKER_BYTES.length;
  });
  bytes.set(full.subarray(from), out);
  return { bytes, cuts };
}

/** The document for one public base: the template's byte ranges with the (JSON-escaped) base between them. */
export function renderTemplate(t: RenderTemplate, publicBase: string): Buffer {
  const base = Buffer.from(jsonEscape(publicBase), 'utf8');
  const out = Buffer.allocUnsafe(t.bytes.length + t.cuts.length * base.length);
  let o = 0;
  let from = 0;
  for (const cut of t.cuts) {
    out.set(t.bytes.subarray(from, cut), o);
    o += cut - from;
    out.set(base, o);
    o += base.length;
    from = cut;
  }
  out.set(t.bytes.subarray(from), o);
  return out;
}

/** For values handled as objects (offline synthesis): replaces the marker in one string. */
export function renderUrl(value: string, publicBase: string): string {
  return value.startsWith(BASE_MARKER) ? publicBase + value.slice(BASE_MARKER.length) : value;
}
