// What `prefetch` was asked for: parses lock files, assets files, MSBuild projects and props,
// packages.config and id@version lists into package requests. Pure: text in, requests and problems out.
// Formats: docs/consume-packages/package-references-in-project-files.md (PackageReference, Version as
// attribute or element), Central-Package-Management.md (PackageVersion, VersionOverride,
// GlobalPackageReference), reference/packages-config.md, NuGet.ProjectModel LockFileFormat.cs
// (packages.lock.json, project.assets.json).

import { XMLParser } from 'fast-xml-parser';
import { normalizeLowerVersion, parseVersion, toLowerId } from '../nuget/identity.ts';
import { parseRange } from '../nuget/version-range.ts';

/** Exact versions come from lock and assets files and packages.config; ranges from projects and lists. */
export type VersionSpec =
  | { readonly kind: 'exact'; readonly lowerVersion: string }
  /** A NuGet version range or float as written; '' means any version (restore takes the lowest). */
  | { readonly kind: 'range'; readonly range: string };

export interface PackageRequest {
  /** The id as written. */
  readonly id: string;
  readonly lowerId: string;
  readonly spec: VersionSpec;
  /** Where it was asked for: `file` or `file:line`. */
  readonly source: string;
}

export interface ParsedInput {
  readonly requests: readonly PackageRequest[];
  /** Entries that could not be turned into a request (each names its source). */
  readonly problems: readonly string[];
}

export type InputKind = 'lock' | 'assets' | 'msbuild' | 'packages-config' | 'list';

const MSBUILD_PROJECT = /\.(cs|fs|vb)proj$/i;
const MSBUILD_SHARED = /^directory\.(packages|build)\.(props|targets)$/i;

/** The kind of a file found while scanning a directory, by its name; null for files prefetch ignores. */
export function inputKindOfName(fileName: string): InputKind | null {
  const name = fileName.toLowerCase();
  if (name === 'packages.lock.json' || /^packages\..+\.lock\.json$/.test(name)) return 'lock';
  if (name === 'project.assets.json') return 'assets';
  if (MSBUILD_PROJECT.test(name) || MSBUILD_SHARED.test(name)) return 'msbuild';
  if (name === 'packages.config' || /^packages\..+\.config$/.test(name)) return 'packages-config';
  return null;
}

/** The kind of a file named on the command line: by name when it is a known one, else by its content. */
export function detectInputKind(fileName: string, text: string): InputKind {
  const byName = inputKindOfName(fileName);
  if (byName) return byName;
  const head = text.replace(/^\uFEFF/, '').trimStart();
  // An assets file has top-level "targets" and "libraries"; a lock file has neither.
  if (head.startsWith('{')) return /"libraries"\s*:/.test(head) && /"targets"\s*:/.test(head) ? 'assets' : 'lock';
  if (head.startsWith('<')) return /<packages[\s>]/i.test(head) && !/<project[\s>]/i.test(head) ? 'packages-config' : 'msbuild';
  return 'list';
}

type Json = Record<string, unknown>;

function asObject(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

function exact(id: string, version: string, source: string, problems: string[]): PackageRequest | null {
  const lowerId = toLowerId(id);
  const lowerVersion = normalizeLowerVersion(version);
  if (!lowerId) {
    problems.push(`${source}: '${id}' is not a valid package id`);
    return null;
  }
  if (!lowerVersion) {
    problems.push(`${source}: '${version}' is not a valid version of ${id}`);
    return null;
  }
  return { id, lowerId, spec: { kind: 'exact', lowerVersion }, source };
}

function ranged(id: string, range: string, source: string, problems: string[]): PackageRequest | null {
  const lowerId = toLowerId(id);
  if (!lowerId) {
    problems.push(`${source}: '${id}' is not a valid package id`);
    return null;
  }
  if (range !== '' && !parseRange(range)) {
    problems.push(`${source}: '${range}' is not a valid version range for ${id}`);
    return null;
  }
  return { id, lowerId, spec: { kind: 'range', range }, source };
}

function parseJson(text: string, source: string): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new InputError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const o = asObject(doc);
  if (!o) throw new InputError(`${source}: not a JSON object`);
  return o;
}

/** A file that is not what it claims to be (the whole file is unusable). */
export class InputError extends Error {}

/**
 * packages.lock.json: `dependencies` → target framework (and `tfm/rid`) → id → { type, resolved, … }.
 * Every resolved package of every framework, once; `Project` entries are other projects, not packages.
 */
export function parseLockFile(text: string, source: string): ParsedInput {
  const doc = parseJson(text, source);
  const frameworks = asObject(doc['dependencies']);
  if (typeof doc['version'] !== 'number' || !frameworks) throw new InputError(`${source}: not a packages.lock.json (no version and dependencies)`);
  const problems: string[] = [];
  const requests = new Map<string, PackageRequest>();
  for (const [framework, deps] of Object.entries(frameworks)) {
    for (const [id, value] of Object.entries(asObject(deps) ?? {})) {
      const dep = asObject(value);
      if (!dep || dep['type'] === 'Project') continue;
      const resolved = dep['resolved'];
      if (typeof resolved !== 'string') {
        problems.push(`${source}: ${framework}/${id} has no resolved version`);
        continue;
      }
      const r = exact(id, resolved, source, problems);
      if (r && r.spec.kind === 'exact') requests.set(`${r.lowerId}/${r.spec.lowerVersion}`, r);
    }
  }
  return { requests: [...requests.values()], problems };
}

/**
 * project.assets.json: `libraries` keys `Id/Version` of `type: package` (projects are skipped), plus each
 * framework's `downloadDependencies` (PackageDownload, targeting and runtime packs restore downloads).
 */
export function parseAssetsFile(text: string, source: string): ParsedInput {
  const doc = parseJson(text, source);
  const libraries = asObject(doc['libraries']);
  if (!libraries) throw new InputError(`${source}: not a project.assets.json (no libraries)`);
  const problems: string[] = [];
  const requests: PackageRequest[] = [];
  for (const [key, value] of Object.entries(libraries)) {
    if (asObject(value)?.['type'] !== 'package') continue;
    const slash = key.lastIndexOf('/');
    if (slash <= 0) {
      problems.push(`${source}: library key '${key}' is not Id/Version`);
      continue;
    }
    const r = exact(key.slice(0, slash), key.slice(slash + 1), source, problems);
    if (r) requests.push(r);
  }
  const frameworks = asObject(asObject(doc['project'])?.['frameworks']) ?? {};
  for (const fw of Object.values(frameworks)) {
    const downloads = asObject(fw)?.['downloadDependencies'];
    for (const d of Array.isArray(downloads) ? downloads : []) {
      const o = asObject(d);
      if (typeof o?.['name'] !== 'string' || typeof o['version'] !== 'string') continue;
      const r = ranged(o['name'], o['version'], source, problems);
      if (r) requests.push(r);
    }
  }
  return { requests, problems };
}

// MSBuild XML: element and metadata names are case-insensitive, so the parser lower-cases them.
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  transformTagName: (name) => name.toLowerCase(),
  transformAttributeName: (name) => name.toLowerCase(),
});

function parseXml(text: string, source: string): Json {
  try {
    const doc = asObject(xml.parse(text.replace(/^\uFEFF/, '')));
    if (!doc) throw new Error('empty document');
    return doc;
  } catch (err) {
    throw new InputError(`${source}: not well-formed XML (${(err as Error).message})`);
  }
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

function textOf(v: unknown): string {
  if (typeof v === 'string') return v.trim();
  const o = asObject(v);
  return o && typeof o['#text'] === 'string' ? o['#text'].trim() : '';
}

/** Item metadata given as an attribute or as a child element. */
function metadata(item: Json, name: string): string | null {
  const attr = item[`@${name}`];
  if (typeof attr === 'string' && attr.trim() !== '') return attr.trim();
  const child = textOf(list(item[name])[0]);
  return child !== '' ? child : null;
}

export type MsbuildItemKind = 'PackageReference' | 'GlobalPackageReference' | 'PackageDownload' | 'PackageVersion';

const ITEM_KINDS: ReadonlyMap<string, MsbuildItemKind> = new Map([
  ['packagereference', 'PackageReference'],
  ['globalpackagereference', 'GlobalPackageReference'],
  ['packagedownload', 'PackageDownload'],
  ['packageversion', 'PackageVersion'],
]);

export interface MsbuildItem {
  readonly kind: MsbuildItemKind;
  readonly id: string;
  readonly version: string | null;
  readonly versionOverride: string | null;
}

export interface MsbuildDocument {
  /** Properties defined in any PropertyGroup (lower-cased names; the last definition wins). */
  readonly properties: ReadonlyMap<string, string>;
  readonly items: readonly MsbuildItem[];
}

/**
 * Reads the package items and properties of an MSBuild file (project, Directory.Packages.props, …).
 * Conditions are not evaluated: every conditional item counts, so prefetch covers every branch.
 */
export function parseMsbuild(text: string, source: string): MsbuildDocument {
  const doc = parseXml(text, source);
  const project = asObject(doc['project']);
  if (!project) throw new InputError(`${source}: not an MSBuild file (no <Project> element)`);
  const properties = new Map<string, string>();
  const items: MsbuildItem[] = [];
  const walk = (node: Json): void => {
    for (const [name, value] of Object.entries(node)) {
      if (name.startsWith('@') || name === '#text') continue;
      const kind = ITEM_KINDS.get(name);
      for (const child of list(value)) {
        const o = asObject(child);
        if (kind) {
          if (!o) continue;
          const include = metadata(o, 'include') ?? metadata(o, 'update');
          if (!include) continue;
          for (const id of include.split(';').map((s) => s.trim()).filter((s) => s !== '')) {
            items.push({ kind, id, version: metadata(o, 'version'), versionOverride: metadata(o, 'versionoverride') });
          }
        } else if (name === 'propertygroup') {
          for (const [prop, v] of Object.entries(o ?? {})) if (!prop.startsWith('@')) properties.set(prop, textOf(list(v).at(-1)));
        } else if (o) {
          walk(o);
        }
      }
    }
  };
  walk(project);
  return { properties, items };
}

const PROPERTY = /\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g;

/** Expands `$(Name)` references; null (with the reason) when one is undefined or is a property function. */
export function expandProperties(value: string, properties: ReadonlyMap<string, string>): { value: string } | { error: string } {
  let out = value;
  for (let depth = 0; depth < 8 && out.includes('$('); depth++) {
    let missing: string | null = null;
    out = out.replace(PROPERTY, (_, name: string) => {
      const v = properties.get(name.toLowerCase());
      if (v === undefined) missing ??= name;
      return v ?? '';
    });
    if (missing !== null) return { error: `property $(${missing}) is not defined in the project or its Directory.Packages.props` };
  }
  if (out.includes('$(')) return { error: `'${value}' uses an MSBuild expression prefetch cannot evaluate` };
  return { value: out };
}

/**
 * The requests of an MSBuild file. `central` is the Directory.Packages.props that applies to a project
 * (central package management): it supplies versions for PackageReference items without one, and
 * properties. PackageVersion items of the file itself (it is a Directory.Packages.props) are requests too.
 */
export function msbuildRequests(doc: MsbuildDocument, source: string, central: MsbuildDocument | null = null): ParsedInput {
  const properties = new Map([...(central?.properties ?? []), ...doc.properties]);
  const centralVersions = new Map<string, string>();
  for (const item of [...(central?.items ?? []), ...doc.items]) {
    const lowerId = toLowerId(item.id);
    if (item.kind === 'PackageVersion' && lowerId && item.version) centralVersions.set(lowerId, item.version);
  }
  const problems: string[] = [];
  const requests: PackageRequest[] = [];
  for (const item of doc.items) {
    const lowerId = toLowerId(item.id);
    const written = item.versionOverride ?? item.version ?? (lowerId ? centralVersions.get(lowerId) : undefined) ?? null;
    if (written === null) {
      problems.push(`${source}: ${item.kind} ${item.id} has no version (and no central PackageVersion for it)`);
      continue;
    }
    const expanded = expandProperties(written, properties);
    if ('error' in expanded) {
      problems.push(`${source}: ${item.kind} ${item.id}: ${expanded.error}`);
      continue;
    }
    const r = ranged(item.id, expanded.value, source, problems);
    if (r) requests.push(r);
  }
  return { requests, problems };
}

/** packages.config: `<package id version />`; the version is exact (packages.config has no ranges). */
export function parsePackagesConfig(text: string, source: string): ParsedInput {
  const doc = parseXml(text, source);
  const root = asObject(doc['packages']);
  if (!root && doc['packages'] !== '') throw new InputError(`${source}: not a packages.config (no <packages> element)`);
  const problems: string[] = [];
  const requests: PackageRequest[] = [];
  for (const p of list(root?.['package'])) {
    const o = asObject(p);
    const id = o?.['@id'];
    const version = o?.['@version'];
    if (typeof id !== 'string' || typeof version !== 'string') {
      problems.push(`${source}: a <package> element lacks id or version`);
      continue;
    }
    const r = exact(id.trim(), version.trim(), source, problems);
    if (r) requests.push(r);
  }
  return { requests, problems };
}

/**
 * A text list, one `id@version` or `id@range` per line (`#` starts a comment). A plain version is
 * exact; brackets, parentheses or `*` make a range (`Newtonsoft.Json@[13.0,14.0)`, `xunit@2.*`).
 */
export function parsePackageList(text: string, source: string): ParsedInput {
  const problems: string[] = [];
  const requests: PackageRequest[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const where = `${source}:${i + 1}`;
    const at = line.indexOf('@');
    if (at <= 0 || at === line.length - 1) {
      problems.push(`${where}: '${line}' is not id@version or id@range`);
      return;
    }
    const id = line.slice(0, at).trim();
    const spec = line.slice(at + 1).trim();
    const isRange = /[[\]()*,]/.test(spec) || parseVersion(spec) === null;
    const r = isRange ? ranged(id, spec, where, problems) : exact(id, spec, where, problems);
    if (r) requests.push(r);
  });
  return { requests, problems };
}

/** A stable key for de-duplicating requests: the same package asked for the same way. */
export function requestKey(r: Pick<PackageRequest, 'lowerId' | 'spec'>): string {
  return r.spec.kind === 'exact' ? `${r.lowerId}@${r.spec.lowerVersion}` : `${r.lowerId}@range:${r.spec.range}`;
}
