// Reads the configuration file (`--config FILE`, YAML) and, when it names one, a nuget.config: turns them into
// plain values — top-level options, upstreams, the package source mapping and the policy section — with
// `${VAR}` (YAML) and `%VAR%` (nuget.config, as NuGet does) taken from the environment it is given. Nothing
// here is validated against the option table: config.ts does that, reporting every problem at once.
// nuget.config rules: docs/reference/nuget-config-file.md (packageSources, disabledPackageSources,
// packageSourceCredentials, packageSourceMapping).

import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { parse as parseYaml } from 'yaml';

/** One upstream as written: `name`, `url` or `folder`, and any per-upstream setting (validated later). */
export type RawUpstream = Readonly<Record<string, unknown>> & { readonly where: string };

export interface RawConfigFile {
  /** The file's directory: relative paths in it are relative to it. */
  readonly baseDir: string;
  /** Top-level keys that are not upstreams/packageSourceMapping/policy/nugetConfig (options by key or flag). */
  readonly options: ReadonlyMap<string, { readonly value: unknown; readonly where: string }>;
  readonly upstreams: readonly RawUpstream[] | null;
  /** Upstream name → patterns, as written (nuget.config keys already turned into upstream names). */
  readonly mapping: ReadonlyArray<readonly [string, unknown]> | null;
  readonly policy: { readonly value: unknown; readonly where: string } | null;
}

type Env = Readonly<Record<string, string | undefined>>;

const SECTION_KEYS = new Set(['upstreams', 'packageSourceMapping', 'policy', 'nugetConfig']);

/** Marks a nuget.config mapping entry whose source is disabled or absent (config.ts accepts it silently). */
export const UNAVAILABLE_SOURCE = '\u0000';

/** Upstream names: bounded label values and cache-key segments. */
export const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `${NAME}` from the environment in every string of a YAML document (`$${` keeps a literal `${`). */
function expandVariables(value: unknown, where: string, env: Env, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$(\$)?\{([^}]*)\}/g, (whole, escaped: string | undefined, name: string) => {
      if (escaped) return whole.slice(1);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        problems.push(`${where}: '\${${name}}' is not a valid environment variable reference`);
        return '';
      }
      const v = env[name];
      if (v === undefined) {
        problems.push(`${where}: environment variable ${name} is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandVariables(v, `${where}[${i}]`, env, problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandVariables(v, where.endsWith(':') ? `${where} ${k}` : `${where}.${k}`, env, problems);
    return out;
  }
  return value;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Reads `path` (YAML). Problems are appended; what could be read is returned. */
export function readConfigFile(path: string, env: Env, problems: string[]): RawConfigFile | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return null;
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    problems.push(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
    return null;
  }
  const baseDir = dirname(path);
  if (doc === null || doc === undefined) return { baseDir, options: new Map(), upstreams: null, mapping: null, policy: null };
  if (!isRecord(doc)) {
    problems.push(`${path}: must be a mapping of settings (key: value)`);
    return null;
  }
  const expanded = expandVariables(doc, `${path}:`, env, problems) as Record<string, unknown>;
  const options = new Map<string, { value: unknown; where: string }>();
  for (const [k, v] of Object.entries(expanded)) if (!SECTION_KEYS.has(k)) options.set(k, { value: v, where: `${path}: ${k}` });

  let upstreams: RawUpstream[] | null = null;
  let mapping: Array<readonly [string, unknown]> | null = null;

  const ncPath = expanded['nugetConfig'];
  if (ncPath !== undefined) {
    if (typeof ncPath !== 'string' || ncPath.trim() === '') problems.push(`${path}: nugetConfig must be the path of a nuget.config file`);
    else {
      const nc = readNuGetConfig(resolve(baseDir, ncPath.trim()), env, problems);
      if (nc) {
        upstreams = nc.upstreams;
        mapping = nc.mapping;
      }
    }
  }

  const rawUpstreams = expanded['upstreams'];
  if (rawUpstreams !== undefined) {
    if (!Array.isArray(rawUpstreams)) problems.push(`${path}: upstreams must be a list`);
    else {
      const list = upstreams ?? [];
      const fromNuGetConfig = new Set(list.map((e) => e['name']));
      rawUpstreams.forEach((u, i) => {
        const where = `${path}: upstreams[${i}]`;
        if (!isRecord(u)) {
          problems.push(`${where}: must be a mapping (name, url or folder, …)`);
          return;
        }
        // An entry naming a nuget.config source adds to (or overrides) that source's settings.
        const existing = typeof u['name'] === 'string' && fromNuGetConfig.has(u['name']) ? list.findIndex((e) => e['name'] === u['name']) : -1;
        const at = existing >= 0 ? list[existing] : undefined;
        if (at) {
          const merged = { ...at, ...u, where };
          // A folder here replaces a url from nuget.config and vice versa.
          if ('url' in u && !('folder' in u)) delete (merged as Record<string, unknown>)['folder'];
          if ('folder' in u && !('url' in u)) delete (merged as Record<string, unknown>)['url'];
          list[existing] = merged;
          fromNuGetConfig.delete(u['name'] as string);
        } else list.push({ ...u, where });
      });
      upstreams = list;
    }
  }

  const rawMapping = expanded['packageSourceMapping'];
  if (rawMapping !== undefined && rawMapping !== null) {
    if (!isRecord(rawMapping)) problems.push(`${path}: packageSourceMapping must map upstream names to lists of patterns`);
    else mapping = Object.entries(rawMapping);
  }

  const policy = expanded['policy'] === undefined || expanded['policy'] === null ? null : { value: expanded['policy'], where: `${path}: policy` };
  return { baseDir, options, upstreams, mapping, policy };
}

/** NuGet expands %NAME% in nuget.config values when the variable is set (NuGet.Configuration Settings). */
function expandPercent(value: string, env: Env): string {
  return value.replace(/%([^%]+)%/g, (whole, name: string) => env[name] ?? whole);
}

/** nuget.config element names are XmlConvert-encoded source keys (`My_x0020_Feed` is "My Feed"). */
function decodeXmlName(name: string): string {
  return name.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A source key as an upstream name: characters outside [A-Za-z0-9._-] become '-'. */
export function upstreamNameOf(key: string): string {
  const slug = key.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return slug || 'source';
}

function asArray(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

function attr(o: unknown, name: string): string | undefined {
  if (!isRecord(o)) return undefined;
  const v = o[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

/** Sources, credentials and mapping of a nuget.config, as raw upstreams and mapping entries. */
export function readNuGetConfig(
  path: string,
  env: Env,
  problems: string[],
): { upstreams: RawUpstream[]; mapping: Array<readonly [string, unknown]> | null } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`nugetConfig ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return null;
  }
  let doc: Record<string, unknown>;
  try {
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', isArray: (name) => name === 'add' || name === 'package' || name === 'packageSource' });
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    problems.push(`${path}: not valid XML: ${(err as Error).message}`);
    return null;
  }
  const configuration = doc['configuration'];
  if (!isRecord(configuration)) {
    problems.push(`${path}: has no <configuration> element`);
    return null;
  }
  const baseDir = dirname(path);
  const disabled = new Set<string>();
  const disabledSection = configuration['disabledPackageSources'];
  for (const a of asArray(isRecord(disabledSection) ? disabledSection['add'] : undefined)) {
    const key = attr(a, 'key');
    if (key && (attr(a, 'value') ?? '').trim().toLowerCase() === 'true') disabled.add(key.toLowerCase());
  }

  const credentials = new Map<string, Record<string, string>>();
  const credSection = configuration['packageSourceCredentials'];
  if (isRecord(credSection)) {
    for (const [element, body] of Object.entries(credSection)) {
      if (element.startsWith('@_') || !isRecord(body)) continue;
      const values: Record<string, string> = {};
      for (const a of asArray(body['add'])) {
        const k = attr(a, 'key');
        const v = attr(a, 'value');
        if (k && v !== undefined) values[k.toLowerCase()] = expandPercent(v, env);
      }
      credentials.set(decodeXmlName(element).toLowerCase(), values);
    }
  }

  const upstreams: RawUpstream[] = [];
  const nameOfKey = new Map<string, string>();
  const sourcesSection = configuration['packageSources'];
  asArray(isRecord(sourcesSection) ? sourcesSection['add'] : undefined).forEach((a, i) => {
    const key = attr(a, 'key');
    const rawValue = attr(a, 'value');
    const where = `${path}: packageSources/add[${i}]${key ? ` (${key})` : ''}`;
    if (!key || rawValue === undefined) {
      problems.push(`${where}: needs key and value`);
      return;
    }
    if (disabled.has(key.toLowerCase())) return;
    const name = upstreamNameOf(key);
    if ([...nameOfKey.values()].includes(name)) {
      problems.push(`${where}: source key '${key}' becomes upstream name '${name}', which another source already has`);
      return;
    }
    nameOfKey.set(key.toLowerCase(), name);
    const value = expandPercent(rawValue.trim(), env);
    const entry: Record<string, unknown> = { name };
    if (/^https?:\/\//i.test(value)) {
      const v3 = attr(a, 'protocolVersion') === '3' || /\.json$/i.test(new URL(value, 'http://x').pathname);
      if (!v3) {
        problems.push(`${where}: ${value} is a NuGet V2 feed (no protocolVersion="3", not a .json service index); nuget-proxy reads V3 feeds only`);
        return;
      }
      entry['url'] = value;
    } else {
      const dir = isAbsolute(value) ? value : resolve(baseDir, value);
      entry['folder'] = dir;
    }
    const cred = credentials.get(key.toLowerCase());
    if (cred) {
      if (cred['password'] !== undefined && cred['cleartextpassword'] === undefined) {
        problems.push(
          `${path}: packageSourceCredentials for '${key}' has an encrypted <Password>, which only Windows (DPAPI) can decrypt; use ClearTextPassword (e.g. value="%FEED_TOKEN%")`,
        );
      }
      if (cred['username'] !== undefined) entry['username'] = cred['username'];
      if (cred['cleartextpassword'] !== undefined) entry['password'] = cred['cleartextpassword'];
      const types = cred['validauthenticationtypes'];
      if (types !== undefined && !types.toLowerCase().split(',').map((t) => t.trim()).includes('basic')) {
        problems.push(`${path}: packageSourceCredentials for '${key}' allow only ${types}; nuget-proxy sends basic authentication`);
      }
    }
    upstreams.push({ ...entry, where });
  });

  let mapping: Array<readonly [string, unknown]> | null = null;
  const mappingSection = configuration['packageSourceMapping'];
  if (isRecord(mappingSection)) {
    mapping = [];
    for (const ps of asArray(mappingSection['packageSource'])) {
      const key = attr(ps, 'key');
      if (!key) {
        problems.push(`${path}: packageSourceMapping/packageSource needs a key`);
        continue;
      }
      const patterns = asArray(isRecord(ps) ? ps['package'] : undefined).map((p) => attr(p, 'pattern') ?? '');
      const name = nameOfKey.get(key.toLowerCase());
      // A mapping for a disabled (or absent) source maps its patterns to nothing, as in NuGet: the ids stay
      // unavailable rather than falling through to a broader pattern of another source.
      mapping.push([name ?? `${UNAVAILABLE_SOURCE}${key}`, patterns]);
    }
  }
  return { upstreams, mapping };
}

/** True when `path` is an existing directory. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
