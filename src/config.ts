// The only reader of command-line flags and NUGET_PROXY_* environment variables: one table of options
// (which also renders --help and the reference in docs/configuration.md), parsed once, every problem reported at once,
// then frozen.

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { UNAVAILABLE_SOURCE, UPSTREAM_NAME, isDirectory, readConfigFile, type RawConfigFile } from './config-file.ts';
import { patternProblem } from './nuget/source-mapping.ts';
import { parsePolicyConfig, type PolicyConfig } from './policy/rules.ts';
import { checkKey } from './storage/blob-store.ts';
import { closestMatch } from './suggest.ts';

export type { PolicyConfig } from './policy/rules.ts';

export type CacheCommand = 'cache list' | 'cache stats' | 'cache verify' | 'cache purge' | 'cache pin' | 'cache unpin';
export type Command = 'serve' | 'prefetch' | 'export' | 'import' | CacheCommand;

interface CommandSpec {
  readonly summary: string;
  /** What the command takes besides options, for its usage line ('' for nothing). */
  readonly args: string;
  /** How many it takes at most (parseConfig refuses more; each command says when there are too few). */
  readonly maxArgs: number;
}

/** Every command, in the order --help lists them, with the arguments it takes (parseConfig refuses extra ones). */
export const COMMANDS: Readonly<Record<Command, CommandSpec>> = {
  serve: { summary: 'Run the proxy (HTTP or HTTPS) in front of the upstream feed.', args: '', maxArgs: 0 },
  prefetch: {
    summary: 'Warm the cache from lock files, projects, package lists or directories (connected side).',
    args: '<input>... (packages.lock.json, project.assets.json, *.csproj, Directory.Packages.props, packages.config, id@version lists, directories)',
    maxArgs: Infinity,
  },
  export: { summary: 'Write the cache (or a prefetch selection) into one bundle file with SHA-512 checksums.', args: '', maxArgs: 0 },
  import: { summary: 'Verify a bundle and merge it into the cache (air-gapped side).', args: '<bundle>', maxArgs: 1 },
  'cache list': { summary: 'List the cached package versions: size, last served, pinned.', args: '[<id>[@<version>]...]', maxArgs: Infinity },
  'cache stats': { summary: 'Totals of the cache: packages, versions, bytes, pins, metadata, quarantine.', args: '', maxArgs: 0 },
  'cache verify': {
    summary: "Re-check every cached package's SHA-512 and zip structure; report (or --quarantine) damage.",
    args: '[<id>[@<version>]...]',
    maxArgs: Infinity,
  },
  'cache purge': { summary: 'Delete package versions by id/version pattern or by age (--unused-days).', args: '[<id>[@<version>]...]', maxArgs: Infinity },
  'cache pin': { summary: 'Pin package versions: retention never evicts them.', args: '<id>[@<version>]...', maxArgs: Infinity },
  'cache unpin': { summary: 'Remove pins (retention may evict the versions again).', args: '<id>[@<version>]...', maxArgs: Infinity },
};

type Kind = 'string' | 'int' | 'bool' | 'url' | 'path' | 'file' | 'enum' | 'header' | 'size' | 'blob-store' | 'workers';

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

/** Per-upstream settings; each defaults to the matching global option (flag, environment, file). */
export interface UpstreamSettings {
  readonly username: string | null;
  readonly password: string | null;
  readonly token: string | null;
  readonly header: string | null;
  readonly caFile: string | null;
  readonly httpsProxy: string | null;
  readonly httpProxy: string | null;
  readonly noProxy: string | null;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly serviceIndexTtlSeconds: number;
  readonly versionsTtlSeconds: number;
  readonly registrationTtlSeconds: number;
  readonly searchTtlSeconds: number;
  readonly vulnerabilityTtlSeconds: number;
  readonly notFoundTtlSeconds: number;
}

/** One upstream: a V3 feed (service index URL) or a folder of .nupkg files. */
export type UpstreamSpec = UpstreamSettings & { readonly name: string } & ({ readonly kind: 'feed'; readonly url: string } | { readonly kind: 'folder'; readonly folder: string });

/** The upstream of the one-upstream configuration (flags and environment only); its cache keys keep the shapes of earlier versions. */
export const DEFAULT_UPSTREAM_NAME = 'default';

/** Per-upstream setting → the global option that is its default. */
const UPSTREAM_FIELDS: ReadonlyArray<readonly [keyof UpstreamSettings, keyof Config]> = [
  ['username', 'upstreamUsername'],
  ['password', 'upstreamPassword'],
  ['token', 'upstreamToken'],
  ['header', 'upstreamHeader'],
  ['caFile', 'upstreamCaFile'],
  ['httpsProxy', 'httpsProxy'],
  ['httpProxy', 'httpProxy'],
  ['noProxy', 'noProxy'],
  ['connectTimeoutMs', 'upstreamConnectTimeoutMs'],
  ['responseTimeoutMs', 'upstreamResponseTimeoutMs'],
  ['idleTimeoutMs', 'upstreamIdleTimeoutMs'],
  ['retries', 'upstreamRetries'],
  ['retryBaseMs', 'upstreamRetryBaseMs'],
  ['serviceIndexTtlSeconds', 'serviceIndexTtlSeconds'],
  ['versionsTtlSeconds', 'versionsTtlSeconds'],
  ['registrationTtlSeconds', 'registrationTtlSeconds'],
  ['searchTtlSeconds', 'searchTtlSeconds'],
  ['vulnerabilityTtlSeconds', 'vulnerabilityTtlSeconds'],
  ['notFoundTtlSeconds', 'notFoundTtlSeconds'],
];

/** Credentials belong to one upstream: with upstreams in the file, these flags are ambiguous. */
const SINGLE_UPSTREAM_ONLY: ReadonlyArray<keyof Config> = ['upstream', 'upstreamUsername', 'upstreamPassword', 'upstreamToken', 'upstreamHeader'];

export interface Config {
  readonly configFile: string | null;
  /** In order: the first upstream that has an exact version serves it. */
  readonly upstreams: readonly UpstreamSpec[];
  /** Upstream name → package patterns (NuGet's packageSourceMapping); null: every upstream serves every id. */
  readonly packageSourceMapping: ReadonlyArray<readonly [string, readonly string[]]> | null;
  readonly policy: PolicyConfig | null;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string | null;
  readonly trustProxy: boolean;
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly upstream: string;
  readonly cacheDir: string;
  /** null: blobs in --cache-dir; else `s3://bucket/prefix/` (normalized: '/' after a non-empty prefix). */
  readonly blobStore: string | null;
  readonly s3Endpoint: string | null;
  readonly s3Region: string;
  readonly s3ForcePathStyle: boolean;
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
  readonly requestDeadlineMs: number;
  readonly memoryCacheMb: number;
  readonly maxPackageStreams: number;
  readonly packageStreamQueue: number;
  readonly clientStallTimeoutSeconds: number;
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
  /** Processes serving the port (`auto` resolved to the CPUs this process may use). */
  readonly workers: number;
  readonly concurrency: number;
  readonly pin: boolean;
  readonly selection: string | null;
  readonly output: string | null;
  /** Bytes; null: no quota. */
  readonly maxCacheSize: number | null;
  readonly evictUnusedDays: number | null;
  readonly retentionIntervalSeconds: number;
  readonly evictionGraceSeconds: number;
  readonly metadataUnusedDays: number;
  readonly maxMetadataEntries: number;
  readonly uiToken: string | null;
  readonly json: boolean;
  readonly quarantine: boolean;
  readonly unusedDays: number | null;
  readonly dryRun: boolean;
  readonly includePinned: boolean;
}

const ALL: readonly Command[] = ['serve', 'prefetch', 'export', 'import'];
const NET: readonly Command[] = ['serve', 'prefetch'];
const CACHE: readonly CacheCommand[] = ['cache list', 'cache stats', 'cache verify', 'cache purge', 'cache pin', 'cache unpin'];
/** Everything that opens the blob store. */
const STORE: readonly Command[] = [...ALL, ...CACHE];

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'configFile', flag: 'config', kind: 'file', default: null, group: 'Configuration file', commands: STORE,
    description: 'YAML file with settings (any option below by name), several upstreams, packageSourceMapping, policy, or nugetConfig: a nuget.config to take sources, mapping and credentials from. Flags and environment variables win over it; ${VAR} in it is read from the environment.' },
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
  { key: 'maxPackageStreams', flag: 'max-package-streams', kind: 'int', default: 512, min: 1, group: 'Server', commands: ['serve'],
    description: 'Package downloads streamed from storage at the same time (downloads from the memory tier do not count); each holds at most one read buffer, sized to its client\'s pace.' },
  { key: 'packageStreamQueue', flag: 'package-stream-queue', kind: 'int', default: 1024, min: 0, group: 'Server', commands: ['serve'],
    description: 'Package downloads that wait (up to 30 s) for a stream when all are busy; past that: 503 with Retry-After.' },
  { key: 'clientStallTimeoutSeconds', flag: 'client-stall-timeout-seconds', kind: 'int', default: 60, min: 1, group: 'Server', commands: ['serve'],
    description: 'A client that reads nothing of its response for this long is disconnected (its buffers freed).' },
  { key: 'workers', flag: 'workers', kind: 'workers', default: 'auto', min: 1, max: 256, group: 'Server', commands: ['serve'],
    description: 'Processes serving the port: a number, or auto (one per CPU this process may use). The container image and the Helm chart set 1 and scale by replicas.' },
  { key: 'uiToken', flag: 'ui-token', kind: 'string', default: null, secret: true, group: 'Web page', commands: ['serve'],
    description: 'Access token for the web page at / (Authorization: Bearer, or a login form that sets a cookie). The NuGet API under /v3 is not affected.' },

  { key: 'upstream', flag: 'upstream', kind: 'url', default: 'https://api.nuget.org/v3/index.json', group: 'Upstream', commands: NET,
    description: 'Service index URL of the upstream V3 feed (the one upstream; for several, list them in --config).' },
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
  { key: 'requestDeadlineMs', flag: 'request-deadline-ms', kind: 'int', default: 30000, min: 1, group: 'Upstream', commands: NET,
    description: "The longest one request waits for upstream, over every attempt and retry (NuGet clients give up after 100 s). Then the proxy answers with what it holds (its own service index, the versions it holds, registration built from its packages, local search) or 504; an upstream that did not answer at all by then has its circuit breaker opened at once." },
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

  { key: 'cacheDir', flag: 'cache-dir', kind: 'path', default: './data', group: 'Cache', commands: STORE,
    description: 'Directory for packages, metadata and temporary files. With --blob-store s3://… it holds only local scratch (spooled downloads, import staging).' },
  { key: 'blobStore', flag: 'blob-store', kind: 'blob-store', default: null, group: 'Object storage', commands: STORE,
    description: 'Keep packages and persistent metadata in S3-compatible object storage: s3://BUCKET/PREFIX. Empty: in --cache-dir. Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), or AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS), or the other sources of the AWS SDK\'s default chain.' },
  { key: 's3Endpoint', flag: 's3-endpoint', kind: 'url', default: null, group: 'Object storage', commands: STORE,
    description: 'URL of an S3-compatible server (MinIO, Ceph RGW, …); empty: AWS S3.' },
  { key: 's3Region', flag: 's3-region', kind: 'string', default: 'us-east-1', envNames: ['NUGET_PROXY_S3_REGION', 'AWS_REGION'],
    group: 'Object storage', commands: STORE, description: "The bucket's region (AWS_REGION when this is not set)." },
  { key: 's3ForcePathStyle', flag: 's3-force-path-style', kind: 'bool', default: false, group: 'Object storage', commands: STORE,
    description: 'Address buckets as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT (most self-hosted servers need this).' },
  { key: 'redisUrl', flag: 'redis-url', kind: 'url', default: null, group: 'Cache', commands: ALL,
    description: 'Share metadata between replicas and coordinate their fills through Redis (redis:// or rediss://). Without it metadata lives in memory and in --cache-dir, and fills are coordinated by lock files in --cache-dir.' },
  { key: 'redisCluster', flag: 'redis-cluster', kind: 'bool', default: false, group: 'Cache', commands: ALL,
    description: 'Redis is a Redis Cluster: --redis-url names any one node (a seed); the others are discovered from it.' },
  { key: 'fillLeaseSeconds', flag: 'fill-lease-seconds', kind: 'int', default: 30, min: 1, max: 3600, group: 'Cache', commands: NET,
    description: 'Lease a package fill holds (renewed every third of it) so other replicas wait instead of downloading too; a crashed filler blocks the package for at most this long.' },
  { key: 'memoryCacheMb', flag: 'memory-cache-mb', kind: 'int', default: 256, min: 1, group: 'Cache', commands: ALL,
    description: 'The memory tier: one LRU budget for hot package files (each at most a quarter of it), metadata documents and rendered responses, served without touching storage.' },
  { key: 'maxPackageMb', flag: 'max-package-mb', kind: 'int', default: 1024, min: 1, group: 'Cache', commands: NET,
    description: 'Largest .nupkg the proxy will download.' },
  { key: 'rewriteWorkers', flag: 'rewrite-workers', kind: 'int', default: 2, min: 0, max: 16, group: 'Cache', commands: NET,
    description: 'Worker threads that parse and rewrite large upstream JSON documents off the event loop; 0 does it inline.' },
  { key: 'maxCacheSize', flag: 'max-cache-size', kind: 'size', default: null, group: 'Retention', commands: ['serve'],
    description: "Quota for the blob store (packages and metadata), e.g. 50GB or 500MiB (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024). Least recently served package versions are evicted first; pinned ones never." },
  { key: 'evictUnusedDays', flag: 'evict-unused-days', kind: 'int', default: null, min: 1, group: 'Retention', commands: ['serve'],
    description: 'Evict package versions not served for this many days (pinned ones never).' },
  { key: 'retentionIntervalSeconds', flag: 'retention-interval-seconds', kind: 'int', default: 300, min: 1, group: 'Retention', commands: ['serve'],
    description: 'How often retention sweeps (also soon after a fill passes the quota). Sweeps run only when a quota or --evict-unused-days is set.' },
  { key: 'evictionGraceSeconds', flag: 'eviction-grace-seconds', kind: 'int', default: 600, min: 0, group: 'Retention', commands: ['serve'],
    description: 'Versions served or filled this recently are never evicted (protects downloads in progress).' },
  { key: 'metadataUnusedDays', flag: 'metadata-unused-days', kind: 'int', default: 30, min: 1, group: 'Retention', commands: ['serve'],
    description: 'Metadata documents kept in the cache (version lists, registration, vulnerability data) that nobody needed, so none was refreshed, for this many days are deleted (they are fetched again when asked for). Never offline.' },
  { key: 'maxMetadataEntries', flag: 'max-metadata-entries', kind: 'int', default: 100000, min: 10, group: 'Retention', commands: ['serve'],
    description: 'Most metadata documents kept in the cache; past it the least recently refreshed go first (down to 90%). Upstream 404s are never written to the cache: they live in memory (and Redis) for --not-found-ttl-seconds. Never offline.' },
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
    defaultFor: { prefetch: 'warn', export: 'warn', import: 'warn', ...Object.fromEntries(CACHE.map((c) => [c, 'warn'])) },
    group: 'Logging', commands: STORE, description: 'Minimum log level (every command but serve defaults to warn: its progress and summary say the rest).' },
  { key: 'logFormat', flag: 'log-format', kind: 'enum', default: 'json', values: ['json', 'pretty'], group: 'Logging', commands: STORE,
    description: 'json lines (production) or pretty (development; needs the pino-pretty dev dependency).' },

  { key: 'concurrency', flag: 'concurrency', kind: 'int', default: 8, min: 1, max: 64, group: 'prefetch / cache verify', commands: ['prefetch', 'cache verify'],
    description: 'Packages fetched (prefetch) or checked (cache verify) in parallel.' },
  { key: 'pin', flag: 'pin', kind: 'bool', default: false, group: 'prefetch', commands: ['prefetch'],
    description: 'Pin every package version prefetch resolves: cache retention never evicts it (as packages imported from a bundle).' },
  { key: 'selection', flag: 'selection', kind: 'path', default: null, group: 'prefetch / export', commands: ['prefetch', 'export'],
    description: 'prefetch: write the list of what it fetched to this file. export: bundle only what this file lists.' },
  { key: 'output', flag: 'output', kind: 'path', default: null, group: 'export', commands: ['export'],
    description: 'Bundle file to write (required for export).' },

  { key: 'json', flag: 'json', kind: 'bool', default: false, group: 'cache commands', commands: CACHE,
    description: 'Print one JSON document on stdout (for scripts) instead of a table.' },
  { key: 'quarantine', flag: 'quarantine', kind: 'bool', default: false, group: 'cache commands', commands: ['cache verify'],
    description: 'Move damaged package versions out of the cache into quarantine/ (the next request fills them again from upstream); without it verify only reports.' },
  { key: 'unusedDays', flag: 'unused-days', kind: 'int', default: null, min: 1, group: 'cache commands', commands: ['cache purge'],
    description: 'Purge versions neither served nor filled for this many days (with patterns: only those that match).' },
  { key: 'dryRun', flag: 'dry-run', kind: 'bool', default: false, group: 'cache commands', commands: ['cache purge'],
    description: 'Show what purge would delete, and delete nothing.' },
  { key: 'includePinned', flag: 'include-pinned', kind: 'bool', default: false, group: 'cache commands', commands: ['cache purge'],
    description: 'Purge pinned versions too (by default they are kept and reported).' },
];

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 1e3, m: 1e6, g: 1e9, t: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/** '50GB' → 50e9, '512MiB' → 512·2^20, '1000' → 1000; null when it is not a size. */
export function parseSize(raw: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$/.exec(raw);
  if (!m?.[1]) return null;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

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

/** Something about the environment worth telling, that does not stop the command. */
export interface ConfigNote {
  readonly level: 'warn' | 'info';
  /** Constant (the log line's msg). */
  readonly msg: string;
  /** The sentence for people: tools print it, serve logs it as `detail`. */
  readonly detail: string;
  readonly variable: string;
  /** The option the variable was probably meant to be. */
  readonly suggestion?: string;
}

export interface ParsedArgs {
  readonly config: Config;
  readonly positionals: readonly string[];
  /** Unknown NUGET_PROXY_* variables (warn) and ignored Kubernetes service links (info). */
  readonly notes: readonly ConfigNote[];
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

function parseValue(spec: OptionSpec, raw: string, source: string, problems: string[], baseDir: string): unknown {
  // Never echo a secret, nor the user:password part of a URL.
  const shown = spec.kind === 'url' ? raw.replace(/\/\/[^@/]*@/, '//***@') : raw;
  const where = `${source}=${spec.secret ? '***' : JSON.stringify(shown)}`;
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
      if ((spec.key === 'publicUrl' || spec.key === 's3Endpoint') && (u.search || u.hash)) problems.push(`${where}: must not have a query or fragment`);
      if (spec.key === 's3Endpoint' && (u.username || u.password))
        problems.push(`${source}: must not hold credentials (they come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a web-identity token)`);
      return raw.trim();
    }
    case 'blob-store': {
      if (raw.trim() === '') return null;
      const parsed = parseBlobStoreUrl(raw.trim());
      for (const p of parsed.problems) problems.push(`${where}: ${p}`);
      return parsed.location ? `s3://${parsed.location.bucket}/${parsed.location.prefix}` : null;
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
    case 'size': {
      const bytes = parseSize(raw);
      if (bytes === null) problems.push(`${where}: must be a size such as 50GB, 512MiB or a number of bytes`);
      return bytes ?? undefined;
    }
    case 'header':
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:\s*\S.*$/.test(raw.trim())) problems.push(`${where}: must look like 'Name: value'`);
      return raw.trim();
    case 'workers': {
      const v = raw.trim().toLowerCase();
      if (v === 'auto') return availableParallelism();
      if (!/^[0-9]+$/.test(v)) {
        problems.push(`${where}: must be a whole number or auto`);
        return undefined;
      }
      const n = Number(v);
      if (n < 1 || n > (spec.max ?? 256)) problems.push(`${where}: must be from 1 to ${spec.max ?? 256}, or auto`);
      return n;
    }
    case 'string':
      return raw;
  }
}

/** A YAML scalar as option text; null when it is not a scalar. */
function scalarText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** Top-level settings of the file, by option key (`cacheDir`) or flag name (`cache-dir`). */
function applyFileOptions(command: Command, file: RawConfigFile, values: Map<keyof Config, unknown>, problems: string[]): void {
  for (const [name, { value, where }] of file.options) {
    const spec = OPTIONS.find((o) => o.key === name || o.flag === name);
    if (!spec) {
      problems.push(`${where}: unknown setting (options are listed by --help; sections: upstreams, packageSourceMapping, policy, nugetConfig)`);
      continue;
    }
    if (spec.key === 'configFile') {
      problems.push(`${where}: a configuration file cannot name another one`);
      continue;
    }
    if (value === null || value === undefined) continue;
    const text = scalarText(value);
    if (text === null) {
      problems.push(`${where}: must be a single value`);
      continue;
    }
    // Checked even where a flag wins, so a mistake in the file shows; one file may serve every command,
    // and an option of another command is simply not used here.
    const parsed = parseValue(spec, text, where, problems, file.baseDir);
    if (spec.commands.includes(command) && !values.has(spec.key)) values.set(spec.key, parsed);
  }
}

function specOf(key: keyof Config): OptionSpec {
  const spec = OPTIONS.find((o) => o.key === key);
  if (!spec) throw new Error(`no option ${String(key)}`);
  return spec;
}

function settingsFrom(config: Config): UpstreamSettings {
  const out: Record<string, unknown> = {};
  for (const [field, option] of UPSTREAM_FIELDS) out[field] = config[option];
  return out as unknown as UpstreamSettings;
}

function checkCredentials(u: UpstreamSettings, where: string, problems: string[]): void {
  if (u.username !== null && u.password === null) problems.push(`${where}: username needs a password`);
  if (u.password !== null && u.username === null) problems.push(`${where}: password needs a username`);
  if (u.token !== null && u.username !== null) problems.push(`${where}: use either token or username/password, not both`);
  if (u.caFile && existsSync(u.caFile)) {
    try {
      if (!readFileSync(u.caFile, 'utf8').includes('BEGIN CERTIFICATE')) problems.push(`${where}: caFile ${u.caFile} is not a PEM certificate bundle`);
    } catch (err) {
      problems.push(`${where}: cannot read caFile: ${(err as Error).message}`);
    }
  }
}

/** The upstream list: the file's `upstreams:` (each setting defaulting to its global option), or the one of --upstream. */
function resolveUpstreams(config: Config, explicit: ReadonlySet<keyof Config>, file: RawConfigFile | null, problems: string[]): UpstreamSpec[] {
  const defaults = settingsFrom(config);
  if (!file?.upstreams) return [{ name: DEFAULT_UPSTREAM_NAME, kind: 'feed', url: config.upstream, ...defaults }];
  for (const key of SINGLE_UPSTREAM_ONLY) {
    if (explicit.has(key)) problems.push(`--${specOf(key).flag} sets the one upstream of a configuration without upstreams; the configuration file lists upstreams, so set it on one of them`);
  }
  const out: UpstreamSpec[] = [];
  const seen = new Set<string>();
  if (file.upstreams.length === 0) problems.push('the configuration file lists no upstreams');
  for (const raw of file.upstreams) {
    const where = raw.where;
    const name = raw['name'];
    if (typeof name !== 'string' || !UPSTREAM_NAME.test(name)) {
      problems.push(`${where}: name must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
      continue;
    }
    if (seen.has(name.toLowerCase())) problems.push(`${where}: another upstream is already named '${name}'`);
    seen.add(name.toLowerCase());
    // Credentials are never inherited: each belongs to one upstream.
    const settings: Record<string, unknown> = { ...defaults, username: null, password: null, token: null, header: null, name };
    for (const [key, value] of Object.entries(raw)) {
      if (key === 'where' || key === 'name' || key === 'url' || key === 'folder') continue;
      const field = UPSTREAM_FIELDS.find(([f]) => f === key);
      if (!field) {
        problems.push(`${where}.${key}: unknown upstream setting (known: url, folder, ${UPSTREAM_FIELDS.map(([f]) => f).join(', ')})`);
        continue;
      }
      if (value === null) {
        settings[key] = null;
        continue;
      }
      const text = scalarText(value);
      if (text === null) {
        problems.push(`${where}.${key}: must be a single value`);
        continue;
      }
      const parsed = parseValue(specOf(field[1]), text, `${where}.${key}`, problems, file.baseDir);
      if (parsed !== undefined) settings[key] = parsed;
    }
    checkCredentials(settings as unknown as UpstreamSettings, where, problems);
    const url = raw['url'];
    const folder = raw['folder'];
    if ((url === undefined) === (folder === undefined)) {
      problems.push(`${where}: needs exactly one of url (a V3 service index) or folder (a directory of .nupkg files)`);
      continue;
    }
    if (url !== undefined) {
      const parsed = typeof url === 'string' ? parseValue(specOf('upstream'), url, `${where}.url`, problems, file.baseDir) : undefined;
      if (typeof url !== 'string') problems.push(`${where}.url: must be a URL`);
      if (typeof parsed !== 'string') continue;
      settings['kind'] = 'feed';
      settings['url'] = parsed;
    } else {
      const dir = typeof folder === 'string' && folder.trim() !== '' ? resolve(file.baseDir, folder.trim()) : null;
      if (dir === null || !isDirectory(dir)) {
        problems.push(`${where}.folder: ${JSON.stringify(folder)} is not a directory`);
        continue;
      }
      settings['kind'] = 'folder';
      settings['folder'] = dir;
    }
    out.push(settings as unknown as UpstreamSpec);
  }
  return out;
}

/** Validates `packageSourceMapping`: every name an upstream, every pattern NuGet syntax. */
function resolveMapping(raw: ReadonlyArray<readonly [string, unknown]>, upstreamNames: readonly string[], problems: string[]): Array<[string, string[]]> {
  const names = new Set(upstreamNames);
  const out: Array<[string, string[]]> = [];
  for (const [name, patterns] of raw) {
    const where = `packageSourceMapping.${name.startsWith(UNAVAILABLE_SOURCE) ? name.slice(1) : name}`;
    if (!name.startsWith(UNAVAILABLE_SOURCE) && !names.has(name)) problems.push(`${where}: no upstream is named '${name}' (upstreams: ${[...names].join(', ')})`);
    if (!Array.isArray(patterns) || !patterns.every((p) => typeof p === 'string')) {
      problems.push(`${where}: must be a list of package patterns (exact ids or Prefix.*)`);
      continue;
    }
    for (const p of patterns as string[]) {
      const problem = patternProblem(p);
      if (problem) problems.push(`${where}: ${problem}`);
    }
    out.push([name, (patterns as string[]).map((p) => p.trim())]);
  }
  return out;
}

const ENV_PREFIX = 'NUGET_PROXY_';

/**
 * What Kubernetes injects into every pod for each Service of its namespace ("service links", unless the pod
 * sets enableServiceLinks: false): for a Service named nuget-proxy (or nuget-proxy-…) NUGET_PROXY_SERVICE_HOST,
 * NUGET_PROXY_SERVICE_PORT[_<name>], NUGET_PROXY_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR], and
 * NUGET_PROXY_PORT=tcp://host:port — which shares its name with --port's variable.
 */
const SERVICE_LINK_NAME = /^NUGET_PROXY(?:_[A-Z0-9_]+)?_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT_[0-9]+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)$/;
const SERVICE_LINK_URL = /^(?:tcp|udp|sctp):\/\/[^\s/]+:[0-9]+$/;

function isServiceLinkUrl(name: string, value: string): boolean {
  return /^NUGET_PROXY(?:_[A-Z0-9_]+)?_PORT$/.test(name) && SERVICE_LINK_URL.test(value.trim());
}

/** Every NUGET_PROXY_* variable some command reads. */
const KNOWN_ENV = new Set(OPTIONS.flatMap((o) => [envName(o), ...(o.envNames ?? [])]).filter((n) => n.startsWith(ENV_PREFIX)));

/**
 * Notes on NUGET_PROXY_* variables no option reads: a misspelling (warn) or a Kubernetes service link
 * (ignored). `referenced`: variables the configuration file reads (`${NUGET_PROXY_FEED_TOKEN}`), not mistakes.
 */
function checkEnvironment(env: Readonly<Record<string, string | undefined>>, referenced: ReadonlySet<string>): ConfigNote[] {
  const notes: ConfigNote[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined || value === '' || referenced.has(name)) continue;
    if (isServiceLinkUrl(name, value)) {
      if (KNOWN_ENV.has(name))
        notes.push({
          level: 'info',
          msg: 'Kubernetes service link variable ignored',
          detail: `${name}=${value.trim()} is a Kubernetes service link (a Service named ${name.slice(0, -'_PORT'.length).toLowerCase().replace(/_/g, '-')}), not a port: ignored (set enableServiceLinks: false on the pod to drop it)`,
          variable: name,
        });
      continue;
    }
    if (KNOWN_ENV.has(name) || SERVICE_LINK_NAME.test(name)) continue;
    const suggestion = closestMatch(name.slice(ENV_PREFIX.length), [...KNOWN_ENV].map((n) => n.slice(ENV_PREFIX.length)));
    const spec = suggestion === null ? undefined : OPTIONS.find((o) => envName(o) === ENV_PREFIX + suggestion || o.envNames?.includes(ENV_PREFIX + suggestion));
    notes.push({
      level: 'warn',
      msg: 'unknown NUGET_PROXY_ variable ignored',
      detail: `${name} is not a nuget-proxy setting and is ignored${suggestion ? `; did you mean ${ENV_PREFIX}${suggestion}${spec ? ` (--${spec.flag})` : ''}?` : ''}`,
      variable: name,
      ...(suggestion ? { suggestion: ENV_PREFIX + suggestion } : {}),
    });
  }
  return notes;
}

/** Conventional one-letter options people try (`-p 5000`), and what they mean here. */
const SHORT_ALIASES: Readonly<Record<string, string>> = { p: 'port', u: 'upstream', c: 'cache-dir', o: 'output', l: 'log-level', j: 'json', n: 'dry-run', q: 'quarantine' };

/** The option a single-dash argument (`-p`, `-port`) was probably meant to be. */
function suggestForSingleDash(name: string, specs: readonly OptionSpec[]): OptionSpec | null {
  if (name.length === 1) {
    const alias = SHORT_ALIASES[name.toLowerCase()];
    const byAlias = specs.find((s) => s.flag === alias);
    if (byAlias) return byAlias;
    const starting = specs.filter((s) => s.flag.startsWith(name.toLowerCase()));
    return starting.length === 1 ? (starting[0] ?? null) : null;
  }
  const flag = closestMatch(name, specs.map((s) => s.flag));
  return specs.find((s) => s.flag === flag) ?? null;
}

/** `serve, prefetch, cache` — the six cache commands shown as one when an option applies to them all. */
function commandList(commands: readonly Command[]): string {
  const all = CACHE.every((c) => commands.includes(c));
  return [...commands.filter((c) => !all || !CACHE.includes(c as CacheCommand)), ...(all ? ['cache'] : [])].join(', ');
}

/**
 * Parses flags (`--name value`, `--name=value`, `--flag` / `--no-flag` for booleans; `--` ends the options)
 * over environment variables over defaults. Refuses unknown flags, single-dash forms and arguments the
 * command does not take, naming the closest valid option; notes NUGET_PROXY_* variables no option reads.
 * Throws ConfigError listing every problem.
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
  const help = `see nuget-proxy ${command} --help`;

  for (const spec of specs) {
    const found = readEnv(spec, env);
    if (found && !isServiceLinkUrl(found[0], found[1])) values.set(spec.key, parseValue(spec, found[1], found[0], problems, baseDir));
  }
  /** Skips the argument after an option we could not use, when it looks like that option's value. */
  const skipValue = (i: number): number => {
    const next = argv[i + 1];
    return next !== undefined && !next.startsWith('-') ? i + 1 : i;
  };
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (optionsEnded || arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    const eq = arg.indexOf('=');
    if (!arg.startsWith('--')) {
      const name = eq >= 0 ? arg.slice(1, eq) : arg.slice(1);
      const meant = suggestForSingleDash(name, specs);
      problems.push(`${arg}: options take two dashes${meant ? `; did you mean --${meant.flag}?` : ` (${help})`}`);
      if (eq < 0 && meant?.kind !== 'bool') i = skipValue(i);
      continue;
    }
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let negated = false;
    if (!byFlag.has(name) && name.startsWith('no-') && byFlag.get(name.slice(3))?.kind === 'bool') {
      name = name.slice(3);
      negated = true;
    }
    const spec = byFlag.get(name);
    if (!spec) {
      const elsewhere = OPTIONS.find((o) => o.flag === name);
      const valued = name.startsWith('no-') ? byFlag.get(name.slice(3)) : undefined;
      const closest = closestMatch(name, specs.map((s) => s.flag));
      const hint = elsewhere
        ? ` (it is an option of ${commandList(elsewhere.commands)})`
        : valued
          ? ` (--${valued.flag} takes a value; only on/off options have a --no- form)`
          : closest
            ? `; did you mean --${closest}?`
            : ` (${help})`;
      problems.push(`unknown option --${name} for '${command}'${hint}`);
      if (eq < 0 && byFlag.get(closest ?? '')?.kind !== 'bool' && elsewhere?.kind !== 'bool') i = skipValue(i);
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
  // Stray arguments are refused here; too few is the command's to say (programs build a configuration
  // with parseConfig before they know the arguments).
  const { maxArgs, args } = COMMANDS[command];
  for (const extra of positionals.slice(maxArgs)) {
    const flag = closestMatch(extra, specs.map((s) => s.flag));
    const what = maxArgs === 0 ? `'${command}' takes no arguments, only options` : `'${command}' takes ${maxArgs === 1 ? 'one argument' : `at most ${maxArgs} arguments`}: ${args}`;
    problems.push(`unexpected argument '${extra}': ${what}${flag ? `; did you mean --${flag}?` : ` (${help})`}`);
  }

  // The configuration file: what it sets counts where neither a flag nor the environment did.
  const configPath = values.get('configFile');
  // The variables the file reads are recorded, so the check below does not call them unknown.
  const referenced = new Set<string>();
  const recording = new Proxy(env, {
    get: (target, name) => {
      if (typeof name !== 'string') return undefined;
      referenced.add(name);
      return target[name];
    },
  });
  const file = typeof configPath === 'string' && existsSync(configPath) ? readConfigFile(configPath, recording, problems) : null;
  if (file) applyFileOptions(command, file, values, problems);
  const notes = checkEnvironment(env, referenced);

  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const v = values.get(spec.key);
    const raw = spec.defaultFor && command in spec.defaultFor ? (spec.defaultFor[command] ?? null) : spec.default;
    const d = spec.kind === 'path' && typeof raw === 'string' ? resolve(baseDir, raw) : spec.kind === 'workers' && raw === 'auto' ? availableParallelism() : raw;
    out[spec.key] = v === undefined ? d : v;
  }
  const explicit = new Set(values.keys());
  out['upstreams'] = resolveUpstreams(out as unknown as Config, explicit, file, problems);
  // Names of upstreams with problems count too: their mapping entries are not a second mistake.
  const declared = file?.upstreams ? file.upstreams.map((u) => u['name']).filter((n): n is string => typeof n === 'string') : [DEFAULT_UPSTREAM_NAME];
  out['packageSourceMapping'] = file?.mapping ? resolveMapping(file.mapping, declared, problems) : null;
  out['policy'] = file?.policy ? parsePolicyConfig(file.policy.value, file.policy.where, problems) : null;
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
  if (config.blobStore === null) {
    if (config.s3Endpoint !== null) problems.push('--s3-endpoint needs --blob-store s3://BUCKET/PREFIX');
    if (config.s3ForcePathStyle) problems.push('--s3-force-path-style needs --blob-store s3://BUCKET/PREFIX');
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(config.s3Region)) problems.push(`--s3-region ${JSON.stringify(config.s3Region)}: not a region name`);
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
  return { config: Object.freeze(config), positionals: Object.freeze(positionals), notes: Object.freeze(notes) };
}

function maskUrlCredentials(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

export interface BlobStoreLocation {
  readonly bucket: string;
  /** '' or '/'-terminated. */
  readonly prefix: string;
}

/** Names S3 reserves; see "General purpose bucket naming rules" in the Amazon S3 user guide. */
const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_BUCKET_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** `s3://BUCKET/PREFIX` → bucket and prefix, with every problem found (S3's bucket naming rules; key-safe prefix segments). */
export function parseBlobStoreUrl(raw: string): { location: BlobStoreLocation | null; problems: string[] } {
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(raw);
  if (!m) return { location: null, problems: ['must look like s3://BUCKET/PREFIX (no query or fragment)'] };
  const bucket = m[1] ?? '';
  const path = (m[2] ?? '').slice(1);
  const problems: string[] = [];
  if (bucket.length < 3 || bucket.length > 63) problems.push(`bucket name ${JSON.stringify(bucket)} must be 3 to 63 characters long`);
  if (!/^[a-z0-9.-]*$/.test(bucket)) problems.push(`bucket name ${JSON.stringify(bucket)} may hold only lowercase letters, digits, '.' and '-'`);
  if (!/^[a-z0-9]/.test(bucket) || !/[a-z0-9]$/.test(bucket)) problems.push(`bucket name ${JSON.stringify(bucket)} must begin and end with a letter or digit`);
  if (bucket.includes('..')) problems.push(`bucket name ${JSON.stringify(bucket)} must not hold two adjacent periods`);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) problems.push(`bucket name ${JSON.stringify(bucket)} must not look like an IP address`);
  for (const p of RESERVED_BUCKET_PREFIXES) if (bucket.startsWith(p)) problems.push(`bucket name ${JSON.stringify(bucket)} must not start with ${p}`);
  for (const s of RESERVED_BUCKET_SUFFIXES) if (bucket.endsWith(s)) problems.push(`bucket name ${JSON.stringify(bucket)} must not end with ${s}`);
  const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
  if (prefix !== '') {
    try {
      checkKey(prefix.slice(0, -1));
    } catch {
      problems.push(`prefix ${JSON.stringify(path)} must be '/'-separated names of letters, digits and . _ + ~ = @ - (no empty, '.' or '..' parts)`);
    }
  }
  return { location: problems.length === 0 ? { bucket, prefix } : null, problems };
}

/** A copy of the configuration that is safe to log (secrets masked). */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const v = config[spec.key];
    out[spec.key] = spec.secret && v !== null ? '***' : v;
  }
  out['upstreams'] = config.upstreams.map((u) => ({
    ...u,
    password: u.password === null ? null : '***',
    token: u.token === null ? null : '***',
    header: u.header === null ? null : '***',
    httpsProxy: u.httpsProxy === null ? null : maskUrlCredentials(u.httpsProxy),
    httpProxy: u.httpProxy === null ? null : maskUrlCredentials(u.httpProxy),
  }));
  out['packageSourceMapping'] = config.packageSourceMapping;
  out['policy'] = config.policy;
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
    const value = spec.kind === 'bool' ? '' : spec.kind === 'enum' ? ` <${spec.values?.join('|')}>` : spec.kind === 'workers' ? ' <n|auto>' : ' <value>';
    const def = formatDefault(spec, command);
    lines.push(`  --${spec.flag}${value}`);
    lines.push(`      ${spec.description}`);
    lines.push(`      env ${envName(spec)}${def ? `; default ${def}` : ''}`);
  }
  return lines.join('\n');
}

/** The configuration reference table embedded in docs/configuration.md (a test keeps them identical). */
export function renderConfigReference(): string {
  const rows = ['| Flag | Environment variable | Default | Commands | Meaning |', '|---|---|---|---|---|'];
  for (const spec of OPTIONS) {
    const def = formatDefault(spec);
    rows.push(
      `| \`--${spec.flag}\` | \`${envName(spec)}\` | ${def ? `\`${def}\`` : '—'} | ${commandList(spec.commands)} | ${spec.description.replace(/\|/g, '\\|')} |`,
    );
  }
  return rows.join('\n');
}
