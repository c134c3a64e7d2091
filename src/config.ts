// The only reader of command-line flags and NUGET_PROXY_* environment variables: one table of options
// (which also renders --help and the README reference), parsed once, every problem reported at once,
// then frozen.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export type Command = 'serve' | 'prefetch' | 'export' | 'import';

type Kind = 'string' | 'int' | 'bool' | 'url' | 'path' | 'file' | 'enum' | 'header';

interface OptionSpec {
  readonly key: keyof Config;
  readonly flag: string;
  readonly kind: Kind;
  readonly default: string | number | boolean | null;
  readonly description: string;
  readonly group: string;
  readonly commands: readonly Command[];
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly secret?: boolean;
  /** Environment variable names read instead of NUGET_PROXY_<FLAG> (the conventional egress proxy variables). */
  readonly envNames?: readonly string[];
  /** A different default for some commands. */
  readonly defaultFor?: Partial<Record<Command, string | number | boolean | null>>;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string | null;
  readonly trustProxy: boolean;
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly upstream: string;
  readonly cacheDir: string;
  readonly redisUrl: string | null;
  readonly redisCluster: boolean;
  readonly fillLeaseSeconds: number;
  readonly offline: boolean;
  readonly logLevel: string;
  readonly logFormat: 'json' | 'pretty';
  readonly serviceIndexTtlSeconds: number;
  readonly versionsTtlSeconds: number;
  readonly registrationTtlSeconds: number;
  readonly searchTtlSeconds: number;
  readonly vulnerabilityTtlSeconds: number;
  readonly notFoundTtlSeconds: number;
  readonly staleWaitMs: number;
  readonly memoryCacheMb: number;
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamResponseTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly upstreamRetries: number;
  readonly upstreamRetryBaseMs: number;
  readonly breakerFailures: number;
  readonly breakerBackoffMs: number;
  readonly breakerMaxBackoffMs: number;
  readonly upstreamUsername: string | null;
  readonly upstreamPassword: string | null;
  readonly upstreamToken: string | null;
  readonly upstreamHeader: string | null;
  readonly upstreamCaFile: string | null;
  readonly httpsProxy: string | null;
  readonly httpProxy: string | null;
  readonly noProxy: string | null;
  readonly maxPackageMb: number;
  readonly rewriteWorkers: number;
  readonly shutdownTimeoutMs: number;
  readonly concurrency: number;
  readonly selection: string | null;
  readonly output: string | null;
}

const ALL: readonly Command[] = ['serve', 'prefetch', 'export', 'import'];
const NET: readonly Command[] = ['serve', 'prefetch'];

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'host', flag: 'host', kind: 'string', default: '127.0.0.1', group: 'Server', commands: ['serve'],
    description: 'Address to listen on. Use 0.0.0.0 in containers.' },
  { key: 'port', flag: 'port', kind: 'int', default: 5555, min: 0, max: 65535, group: 'Server', commands: ['serve'],
    description: 'Port to listen on; 0 picks a free port (the chosen URL is logged).' },
  { key: 'publicUrl', flag: 'public-url', kind: 'url', default: null, group: 'Server', commands: ['serve'],
    description: 'Base URL clients use to reach the proxy (may include a path prefix). Overrides the request and forwarded headers.' },
  { key: 'trustProxy', flag: 'trust-proxy', kind: 'bool', default: false, group: 'Server', commands: ['serve'],
    description: 'Honour X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Prefix from a reverse proxy.' },
  { key: 'tlsCert', flag: 'tls-cert', kind: 'file', default: null, group: 'Server', commands: ['serve'],
    description: 'PEM certificate (chain) file: serve https. Needs --tls-key.' },
  { key: 'tlsKey', flag: 'tls-key', kind: 'file', default: null, group: 'Server', commands: ['serve'],
    description: 'PEM private key file for --tls-cert.' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout-ms', kind: 'int', default: 20000, min: 0, group: 'Server', commands: ['serve'],
    description: 'On SIGTERM/SIGINT: how long to let in-flight responses and fills finish before exiting.' },

  { key: 'upstream', flag: 'upstream', kind: 'url', default: 'https://api.nuget.org/v3/index.json', group: 'Upstream', commands: NET,
    description: 'Service index URL of the upstream V3 feed.' },
  { key: 'offline', flag: 'offline', kind: 'bool', default: false, group: 'Upstream', commands: ALL,
    description: 'Never contact upstream: serve only what the cache holds.' },
  { key: 'upstreamConnectTimeoutMs', flag: 'upstream-connect-timeout-ms', kind: 'int', default: 5000, min: 1, group: 'Upstream', commands: NET,
    description: 'Time allowed to open a connection (incl. DNS and TLS) to upstream.' },
  { key: 'upstreamResponseTimeoutMs', flag: 'upstream-response-timeout-ms', kind: 'int', default: 30000, min: 1, group: 'Upstream', commands: NET,
    description: 'Time allowed for upstream to start answering (response headers).' },
  { key: 'upstreamIdleTimeoutMs', flag: 'upstream-idle-timeout-ms', kind: 'int', default: 30000, min: 1, group: 'Upstream', commands: NET,
    description: 'A body download fails when no byte arrives for this long.' },
  { key: 'upstreamRetries', flag: 'upstream-retries', kind: 'int', default: 3, min: 0, max: 10, group: 'Upstream', commands: NET,
    description: 'Retries after a network error, timeout, 408, 429 or 5xx (never after other 4xx).' },
  { key: 'upstreamRetryBaseMs', flag: 'upstream-retry-base-ms', kind: 'int', default: 200, min: 0, group: 'Upstream', commands: NET,
    description: 'First retry delay; doubles per attempt, with jitter, capped at 10 s.' },
  { key: 'breakerFailures', flag: 'breaker-failures', kind: 'int', default: 3, min: 1, group: 'Upstream', commands: NET,
    description: 'Consecutive connection failures or timeouts on one upstream host that open its circuit breaker.' },
  { key: 'breakerBackoffMs', flag: 'breaker-backoff-ms', kind: 'int', default: 5000, min: 1, group: 'Upstream', commands: NET,
    description: 'How long an open breaker answers from cache before letting one probe through; doubles after each failed probe.' },
  { key: 'breakerMaxBackoffMs', flag: 'breaker-max-backoff-ms', kind: 'int', default: 300000, min: 1, group: 'Upstream', commands: NET,
    description: 'Cap for the growing breaker back-off.' },
  { key: 'upstreamUsername', flag: 'upstream-username', kind: 'string', default: null, group: 'Upstream credentials', commands: NET,
    description: 'Basic-auth user for a private upstream (sent only to the service index host).' },
  { key: 'upstreamPassword', flag: 'upstream-password', kind: 'string', default: null, secret: true, group: 'Upstream credentials', commands: NET,
    description: 'Basic-auth password (or personal access token) for --upstream-username.' },
  { key: 'upstreamToken', flag: 'upstream-token', kind: 'string', default: null, secret: true, group: 'Upstream credentials', commands: NET,
    description: 'Bearer token for a private upstream (sent only to the service index host).' },
  { key: 'upstreamHeader', flag: 'upstream-header', kind: 'header', default: null, secret: true, group: 'Upstream credentials', commands: NET,
    description: "A custom header for upstream requests, 'Name: value' (e.g. 'X-NuGet-ApiKey: ...')." },
  { key: 'upstreamCaFile', flag: 'upstream-ca-file', kind: 'file', default: null, group: 'Upstream credentials', commands: NET,
    description: 'Extra PEM CA bundle trusted for upstream TLS (added to the system roots), e.g. a corporate TLS-inspecting proxy.' },
  { key: 'httpsProxy', flag: 'https-proxy', kind: 'url', default: null, envNames: ['HTTPS_PROXY', 'https_proxy'], secret: true,
    group: 'Egress', commands: NET, description: 'Forward proxy for https upstream URLs (CONNECT); credentials may be in the URL.' },
  { key: 'httpProxy', flag: 'http-proxy', kind: 'url', default: null, envNames: ['HTTP_PROXY', 'http_proxy'], secret: true,
    group: 'Egress', commands: NET, description: 'Forward proxy for http upstream URLs.' },
  { key: 'noProxy', flag: 'no-proxy', kind: 'string', default: null, envNames: ['NO_PROXY', 'no_proxy'], group: 'Egress', commands: NET,
    description: "Comma-separated hosts, domain suffixes (.corp.example), host:port or '*' that bypass the forward proxy." },

  { key: 'cacheDir', flag: 'cache-dir', kind: 'path', default: './data', group: 'Cache', commands: ALL,
    description: 'Directory for packages, metadata and temporary files.' },
  { key: 'redisUrl', flag: 'redis-url', kind: 'url', default: null, group: 'Cache', commands: ALL,
    description: 'Share metadata between replicas and coordinate their fills through Redis (redis:// or rediss://). Without it metadata lives in memory and in --cache-dir, and fills are coordinated by lock files in --cache-dir.' },
  { key: 'redisCluster', flag: 'redis-cluster', kind: 'bool', default: false, group: 'Cache', commands: ALL,
    description: 'Redis is a Redis Cluster: --redis-url names any one node (a seed); the others are discovered from it.' },
  { key: 'fillLeaseSeconds', flag: 'fill-lease-seconds', kind: 'int', default: 30, min: 1, max: 3600, group: 'Cache', commands: NET,
    description: 'Lease a package fill holds (renewed every third of it) so other replicas wait instead of downloading too; a crashed filler blocks the package for at most this long.' },
  { key: 'memoryCacheMb', flag: 'memory-cache-mb', kind: 'int', default: 64, min: 1, group: 'Cache', commands: ALL,
    description: 'Memory for hot metadata documents and rendered responses.' },
  { key: 'maxPackageMb', flag: 'max-package-mb', kind: 'int', default: 1024, min: 1, group: 'Cache', commands: NET,
    description: 'Largest .nupkg the proxy will download.' },
  { key: 'rewriteWorkers', flag: 'rewrite-workers', kind: 'int', default: 2, min: 0, max: 16, group: 'Cache', commands: NET,
    description: 'Worker threads that parse and rewrite large upstream JSON documents off the event loop; 0 does it inline.' },
  { key: 'serviceIndexTtlSeconds', flag: 'service-index-ttl-seconds', kind: 'int', default: 3600, min: 0, group: 'Freshness', commands: NET,
    description: "How long the upstream service index is used before it is revalidated." },
  { key: 'versionsTtlSeconds', flag: 'versions-ttl-seconds', kind: 'int', default: 300, min: 0, group: 'Freshness', commands: NET,
    description: 'Flat-container version lists ({id}/index.json).' },
  { key: 'registrationTtlSeconds', flag: 'registration-ttl-seconds', kind: 'int', default: 600, min: 0, group: 'Freshness', commands: NET,
    description: 'Registration indexes, pages and leaves (listing, deprecation and vulnerabilities change without a new version).' },
  { key: 'searchTtlSeconds', flag: 'search-ttl-seconds', kind: 'int', default: 30, min: 0, max: 3600, group: 'Freshness', commands: NET,
    description: 'Search and autocomplete results.' },
  { key: 'vulnerabilityTtlSeconds', flag: 'vulnerability-ttl-seconds', kind: 'int', default: 3600, min: 0, group: 'Freshness', commands: NET,
    description: 'Vulnerability index and pages (NuGetAudit) and repository signatures.' },
  { key: 'notFoundTtlSeconds', flag: 'not-found-ttl-seconds', kind: 'int', default: 60, min: 0, group: 'Freshness', commands: NET,
    description: 'How long an upstream 404 is remembered (negative cache).' },
  { key: 'staleWaitMs', flag: 'stale-wait-ms', kind: 'int', default: 500, min: 0, group: 'Freshness', commands: ['serve'],
    description: 'When a stale copy exists, how long to wait for upstream revalidation before serving the stale copy (the revalidation finishes in the background).' },

  { key: 'logLevel', flag: 'log-level', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    defaultFor: { prefetch: 'warn', export: 'warn', import: 'warn' },
    group: 'Logging', commands: ALL, description: 'Minimum log level (prefetch, export and import default to warn: their progress and summary say the rest).' },
  { key: 'logFormat', flag: 'log-format', kind: 'enum', default: 'json', values: ['json', 'pretty'], group: 'Logging', commands: ALL,
    description: 'json lines (production) or pretty (development; needs the pino-pretty dev dependency).' },

  { key: 'concurrency', flag: 'concurrency', kind: 'int', default: 8, min: 1, max: 64, group: 'prefetch', commands: ['prefetch'],
    description: 'Packages fetched in parallel.' },
  { key: 'selection', flag: 'selection', kind: 'path', default: null, group: 'prefetch / export', commands: ['prefetch', 'export'],
    description: 'prefetch: write the list of what it fetched to this file. export: bundle only what this file lists.' },
  { key: 'output', flag: 'output', kind: 'path', default: null, group: 'export', commands: ['export'],
    description: 'Bundle file to write (required for export).' },
];

export function envName(spec: OptionSpec): string {
  return spec.envNames?.[0] ?? `NUGET_PROXY_${spec.flag.toUpperCase().replace(/-/g, '_')}`;
}

function readEnv(spec: OptionSpec, env: Readonly<Record<string, string | undefined>>): [string, string] | null {
  for (const name of spec.envNames ?? [envName(spec)]) {
    const v = env[name];
    if (v !== undefined && v !== '') return [name, v];
  }
  return null;
}

export interface ParsedArgs {
  readonly config: Config;
  readonly positionals: readonly string[];
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

function parseValue(spec: OptionSpec, raw: string, source: string, problems: string[], baseDir: string): unknown {
  const where = `${source}=${spec.secret ? '***' : JSON.stringify(raw)}`;
  switch (spec.kind) {
    case 'int': {
      if (!/^-?[0-9]+$/.test(raw.trim())) {
        problems.push(`${where}: must be a whole number`);
        return undefined;
      }
      const n = Number(raw.trim());
      if (spec.min !== undefined && n < spec.min) problems.push(`${where}: must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) problems.push(`${where}: must be at most ${spec.max}`);
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on', ''].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      problems.push(`${where}: must be true or false`);
      return undefined;
    }
    case 'url': {
      let u: URL;
      try {
        u = new URL(raw.trim());
      } catch {
        problems.push(`${where}: is not an absolute URL`);
        return undefined;
      }
      const allowed = spec.key === 'redisUrl' ? ['redis:', 'rediss:'] : ['http:', 'https:'];
      if (!allowed.includes(u.protocol)) problems.push(`${where}: scheme must be ${allowed.join(' or ')}`);
      if (spec.key === 'publicUrl' && (u.search || u.hash)) problems.push(`${where}: must not have a query or fragment`);
      return raw.trim();
    }
    case 'enum':
      if (!spec.values?.includes(raw.trim())) problems.push(`${where}: must be one of ${spec.values?.join(', ')}`);
      return raw.trim();
    case 'path':
      return raw.trim() === '' ? null : resolve(baseDir, raw.trim());
    case 'file': {
      const p = resolve(baseDir, raw.trim());
      if (!existsSync(p)) problems.push(`${where}: file not found`);
      return p;
    }
    case 'header':
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:\s*\S.*$/.test(raw.trim())) problems.push(`${where}: must look like 'Name: value'`);
      return raw.trim();
    case 'string':
      return raw;
  }
}

/**
 * Parses flags (`--name value`, `--name=value`, `--flag` / `--no-flag` for booleans) over environment
 * variables over defaults. Throws ConfigError listing every problem.
 */
export function parseConfig(
  command: Command,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  baseDir = process.cwd(),
): ParsedArgs {
  const problems: string[] = [];
  const specs = OPTIONS.filter((o) => o.commands.includes(command));
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const values = new Map<keyof Config, unknown>();
  const positionals: string[] = [];

  for (const spec of specs) {
    const found = readEnv(spec, env);
    if (found) values.set(spec.key, parseValue(spec, found[1], found[0], problems, baseDir));
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let negated = false;
    if (!byFlag.has(name) && name.startsWith('no-') && byFlag.get(name.slice(3))?.kind === 'bool') {
      name = name.slice(3);
      negated = true;
    }
    const spec = byFlag.get(name);
    if (!spec) {
      problems.push(`unknown option --${name} for '${command}' (see --help)`);
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.kind === 'bool') raw = negated ? 'false' : 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(`--${name} needs a value`);
        continue;
      }
      raw = next;
      i++;
    }
    values.set(spec.key, parseValue(spec, raw, `--${name}`, problems, baseDir));
  }

  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const v = values.get(spec.key);
    const raw = spec.defaultFor && command in spec.defaultFor ? (spec.defaultFor[command] ?? null) : spec.default;
    const d = spec.kind === 'path' && typeof raw === 'string' ? resolve(baseDir, raw) : raw;
    out[spec.key] = v === undefined ? d : v;
  }
  const config = out as unknown as Config;

  // Cross-field rules.
  if ((config.tlsCert === null) !== (config.tlsKey === null)) problems.push('--tls-cert and --tls-key must be given together');
  if (config.upstreamUsername !== null && config.upstreamPassword === null)
    problems.push('--upstream-username needs --upstream-password (or NUGET_PROXY_UPSTREAM_PASSWORD)');
  if (config.upstreamPassword !== null && config.upstreamUsername === null) problems.push('--upstream-password needs --upstream-username');
  if (config.upstreamToken !== null && config.upstreamUsername !== null)
    problems.push('use either --upstream-token or --upstream-username/--upstream-password, not both');
  if (config.breakerMaxBackoffMs < config.breakerBackoffMs) problems.push('--breaker-max-backoff-ms must be >= --breaker-backoff-ms');
  if (config.redisCluster && config.redisUrl === null) problems.push('--redis-cluster needs --redis-url (any one node of the cluster)');
  if (command === 'export' && config.output === null) problems.push('export needs --output <bundle file>');
  if (!isAbsolute(config.cacheDir)) problems.push('--cache-dir could not be resolved');
  if (config.tlsCert && config.tlsKey) {
    try {
      const cert = readFileSync(config.tlsCert, 'utf8');
      if (!cert.includes('BEGIN CERTIFICATE')) problems.push(`--tls-cert ${config.tlsCert}: not a PEM certificate`);
      const key = readFileSync(config.tlsKey, 'utf8');
      if (!/BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY/.test(key)) problems.push(`--tls-key ${config.tlsKey}: not a PEM private key`);
    } catch (err) {
      problems.push(`cannot read TLS files: ${(err as Error).message}`);
    }
  }
  if (config.upstreamCaFile) {
    try {
      if (!readFileSync(config.upstreamCaFile, 'utf8').includes('BEGIN CERTIFICATE'))
        problems.push(`--upstream-ca-file ${config.upstreamCaFile}: not a PEM certificate bundle`);
    } catch (err) {
      problems.push(`cannot read --upstream-ca-file: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: Object.freeze(config), positionals: Object.freeze(positionals) };
}

/** A copy of the configuration that is safe to log (secrets masked). */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const v = config[spec.key];
    out[spec.key] = spec.secret && v !== null ? '***' : v;
  }
  if (typeof out['redisUrl'] === 'string') out['redisUrl'] = out['redisUrl'].replace(/\/\/([^@/]*)@/, '//***@');
  for (const k of ['httpsProxy', 'httpProxy'] as const) {
    if (config[k]) out[k] = config[k].replace(/\/\/([^@/]*)@/, '//***@');
  }
  return out;
}

function formatDefault(spec: OptionSpec, command?: Command): string {
  const value = command && spec.defaultFor && command in spec.defaultFor ? (spec.defaultFor[command] ?? null) : spec.default;
  if (value === null) return '';
  if (spec.kind === 'bool') return value ? 'true' : 'false';
  return String(value);
}

/** The option list of one command, for --help. */
export function renderOptionsHelp(command: Command): string {
  const lines: string[] = [];
  let group = '';
  for (const spec of OPTIONS.filter((o) => o.commands.includes(command))) {
    if (spec.group !== group) {
      group = spec.group;
      lines.push('', `${group}:`);
    }
    const value = spec.kind === 'bool' ? '' : spec.kind === 'enum' ? ` <${spec.values?.join('|')}>` : ' <value>';
    const def = formatDefault(spec, command);
    lines.push(`  --${spec.flag}${value}`);
    lines.push(`      ${spec.description}`);
    lines.push(`      env ${envName(spec)}${def ? `; default ${def}` : ''}`);
  }
  return lines.join('\n');
}

/** The configuration reference table embedded in README.md (a test keeps them identical). */
export function renderConfigReference(): string {
  const rows = ['| Flag | Environment variable | Default | Commands | Meaning |', '|---|---|---|---|---|'];
  for (const spec of OPTIONS) {
    const def = formatDefault(spec);
    rows.push(
      `| \`--${spec.flag}\` | \`${envName(spec)}\` | ${def ? `\`${def}\`` : '—'} | ${spec.commands.join(', ')} | ${spec.description.replace(/\|/g, '\\|')} |`,
    );
  }
  return rows.join('\n');
}
