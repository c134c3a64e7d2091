// The proxy's own URL layout, and parsing of incoming flat-container and registration paths into
// validated, lower-cased, normalized identities. Pure.

import { normalizeLowerVersion, toLowerId } from './identity.ts';

/** Every resource lives under /v3/ so PreAuthenticate-style clients reuse credentials (protocol digest §2.7). */
export const PROXY_PATHS = {
  serviceIndex: '/v3/index.json',
  flatContainer: '/v3/flatcontainer/',
  registrationRoot: '/v3/registration/',
  search: '/v3/search/query',
  autocomplete: '/v3/search/autocomplete',
  vulnerabilityIndex: '/v3/vulnerabilities/index.json',
  vulnerabilityRoot: '/v3/vulnerabilities/',
  signaturesRoot: '/v3/repository-signatures/',
} as const;

export function registrationBasePath(hive: string): string {
  return `${PROXY_PATHS.registrationRoot}${hive}/`;
}

export function vulnerabilityPagePath(name: string, token: string): string {
  return `${PROXY_PATHS.vulnerabilityRoot}${name}/${token}.json`;
}

export function signaturesPath(version: string): string {
  return `${PROXY_PATHS.signaturesRoot}${version}/index.json`;
}

export function readmeTemplatePath(): string {
  return `${PROXY_PATHS.flatContainer}{lower_id}/{lower_version}/readme`;
}

export type FlatFile = 'nupkg' | 'nuspec' | 'icon' | 'readme';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; status: 400 | 404; message: string };

export interface FlatFileRequest {
  readonly lowerId: string;
  readonly lowerVersion: string;
  readonly file: FlatFile;
}

function fail<T>(status: 400 | 404, message: string): ParseResult<T> {
  return { ok: false, status, message };
}

/** A path segment decoded once; null when it is malformed percent-encoding or carries separators. */
export function decodeSegment(segment: string): string | null {
  let s: string;
  try {
    s = decodeURIComponent(segment);
  } catch {
    return null;
  }
  return /[/\\\0]/.test(s) ? null : s;
}

export function parsePackageId(raw: string): ParseResult<string> {
  const decoded = decodeSegment(raw);
  const lowerId = decoded === null ? null : toLowerId(decoded);
  if (lowerId === null) return fail(400, `'${raw.slice(0, 120)}' is not a valid package id`);
  return { ok: true, value: lowerId };
}

export function parseVersionSegment(raw: string): ParseResult<string> {
  const decoded = decodeSegment(raw);
  const lowerVersion = decoded === null ? null : normalizeLowerVersion(decoded);
  if (lowerVersion === null) return fail(400, `'${raw.slice(0, 120)}' is not a valid package version`);
  return { ok: true, value: lowerVersion };
}

/**
 * `{id}/{version}/{file}` under the flat container: file is `{id}.{version}.nupkg`, `{id}.nuspec`, `icon` or
 * `readme`. The id and version inside the file name must name the same package as the directories (any case,
 * normalized or as written).
 */
export function parseFlatFile(idSeg: string, versionSeg: string, fileSeg: string): ParseResult<FlatFileRequest> {
  const id = parsePackageId(idSeg);
  if (!id.ok) return id;
  const version = parseVersionSegment(versionSeg);
  if (!version.ok) return version;
  const lowerId = id.value;
  const lowerVersion = version.value;
  const file = (decodeSegment(fileSeg) ?? '').toLowerCase();
  if (file === 'icon' || file === 'readme') return { ok: true, value: { lowerId, lowerVersion, file } };
  if (file === `${lowerId}.nuspec`) return { ok: true, value: { lowerId, lowerVersion, file: 'nuspec' } };
  if (file.endsWith('.nupkg')) {
    const stem = file.slice(0, -'.nupkg'.length);
    const writtenVersion = (decodeSegment(versionSeg) ?? '').toLowerCase();
    if (stem === `${lowerId}.${lowerVersion}` || stem === `${lowerId}.${writtenVersion}`) {
      return { ok: true, value: { lowerId, lowerVersion, file: 'nupkg' } };
    }
    return fail(404, `file name '${fileSeg.slice(0, 200)}' does not match package ${lowerId} ${lowerVersion}`);
  }
  return fail(404, `unknown flat-container file '${fileSeg.slice(0, 200)}'`);
}

export type RegistrationPath =
  | { kind: 'index'; lowerId: string }
  | { kind: 'page'; lowerId: string; lower: string; upper: string }
  | { kind: 'leaf'; lowerId: string; lowerVersion: string };

/**
 * The part of a registration URL after the hive base. nuget.org's shapes (RegistrationUrlBuilder.cs):
 * `{id}/index.json`, `{id}/page/{lower}/{upper}.json`, `{id}/{version}.json`. Anything else is 404, so
 * nothing a client sends becomes an arbitrary upstream path.
 */
export function parseRegistrationPath(segments: readonly string[]): ParseResult<RegistrationPath> {
  const [idSeg, a, b, c, ...rest] = segments;
  if (idSeg === undefined || a === undefined || rest.length > 0) return fail(404, 'unknown registration document');
  const id = parsePackageId(idSeg);
  if (!id.ok) return id;
  const lowerId = id.value;
  if (b === undefined) {
    if (a.toLowerCase() === 'index.json') return { ok: true, value: { kind: 'index', lowerId } };
    if (!a.toLowerCase().endsWith('.json')) return fail(404, 'unknown registration document');
    const v = parseVersionSegment(a.slice(0, -'.json'.length));
    if (!v.ok) return v;
    return { ok: true, value: { kind: 'leaf', lowerId, lowerVersion: v.value } };
  }
  if (a.toLowerCase() === 'page' && c !== undefined && c.toLowerCase().endsWith('.json')) {
    const lower = parseVersionSegment(b);
    if (!lower.ok) return lower;
    const upper = parseVersionSegment(c.slice(0, -'.json'.length));
    if (!upper.ok) return upper;
    return { ok: true, value: { kind: 'page', lowerId, lower: lower.value, upper: upper.value } };
  }
  return fail(404, 'unknown registration document');
}

/** The relative path (after the hive base) that a parsed registration request maps to. */
export function registrationRelativePath(p: RegistrationPath): string {
  switch (p.kind) {
    case 'index':
      return `${p.lowerId}/index.json`;
    case 'page':
      return `${p.lowerId}/page/${p.lower}/${p.upper}.json`;
    case 'leaf':
      return `${p.lowerId}/${p.lowerVersion}.json`;
  }
}
