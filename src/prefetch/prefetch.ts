// `nuget-proxy prefetch`: warms the cache on the connected side. Resolves the requested packages and the
// transitive closure of their dependencies (every target framework's group, so restore for any framework
// finds what it needs), fetches each .nupkg and the metadata an offline restore reads, through the same
// resources `serve` uses. Re-running fetches nothing that is cached and fresh; an interrupted run continues.
// With --pin, every package version it resolves is pinned (exempt from retention).

import type { Config } from '../config.ts';
import { NotFound, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { parseVersion, toLowerId, toLowerVersion, type NuGetVersion } from '../nuget/identity.ts';
import { ALL_VERSIONS, findBestMatch, parseRange } from '../nuget/version-range.ts';
import { createProxy, type Proxy } from '../proxy.ts';
import type { MirrorResult } from '../resources/mirror.ts';
import type { RequestContext } from '../resources/types.ts';
import { createBlobStore } from '../storage/create.ts';
import { bumpGeneration } from '../storage/generation.ts';
import { pinPackage } from '../storage/pins.ts';
import { collectInputs, type CollectedInputs } from './collect.ts';
import { requestKey, type PackageRequest, type VersionSpec } from './inputs.ts';
import { Progress, formatBytes, formatDuration } from '../cli/progress.ts';
import { makeSelection, writeSelection, type Selection } from './selection.ts';
import { ToolError, terminalOf, type ToolDeps } from '../cli/tool.ts';

export interface PrefetchedPackage {
  readonly lowerId: string;
  readonly lowerVersion: string;
  /** Downloaded by this run (false: it was already in the cache). */
  readonly downloaded: boolean;
  readonly bytes: number;
}

export interface PrefetchFailure {
  /** What failed: `id@version`, an input file, `vulnerability`, … */
  readonly subject: string;
  readonly reason: string;
}

/** A dependency upstream itself cannot satisfy: restore fails for it online too, so it is reported, not failed. */
export interface MissingDependency {
  readonly lowerId: string;
  readonly range: string;
  readonly requiredBy: string;
  readonly reason: string;
}

export interface PrefetchResult {
  readonly inputs: number;
  readonly requested: number;
  readonly packages: readonly PrefetchedPackage[];
  readonly downloaded: number;
  readonly bytesDownloaded: number;
  readonly metadataKeys: readonly string[];
  /** Package versions pinned (--pin): every resolved one; 0 without --pin. */
  readonly pinned: number;
  readonly failures: readonly PrefetchFailure[];
  readonly missingDependencies: readonly MissingDependency[];
  readonly warnings: readonly string[];
  readonly durationMs: number;
  readonly selection: Selection;
  /** Where the selection was written (--selection), or null. */
  readonly selectionPath: string | null;
}

/** Prefetch waits for upstream instead of settling for a stale copy after `--stale-wait-ms`. */
const PREFETCH_STALE_WAIT_MS = 10 * 60 * 1000;

/** Runs `fn`s with at most `limit` in flight. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    // A finishing run hands its slot straight to the next waiter, so no newcomer can slip in between.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

type Origin = { readonly kind: 'input'; readonly source: string } | { readonly kind: 'dependency'; readonly requiredBy: string };

interface Want {
  readonly lowerId: string;
  readonly spec: VersionSpec;
  readonly origin: Origin;
}

type VersionList =
  | { readonly ok: true; readonly versions: ReadonlyArray<{ readonly lowerVersion: string; readonly version: NuGetVersion }> }
  | { readonly ok: false; readonly notFound: boolean; readonly reason: string };

function describeSpec(spec: VersionSpec): string {
  return spec.kind === 'exact' ? spec.lowerVersion : spec.range === '' ? '(any version)' : spec.range;
}

class PrefetchRun {
  private readonly limiter: Limiter;
  private readonly rc: RequestContext;
  private readonly lists = new Map<string, Promise<VersionList>>();
  private readonly wanted = new Set<string>();
  private readonly packages = new Map<string, PrefetchedPackage | null>();
  private readonly tasks = new Set<Promise<void>>();
  readonly keys = new Set<string>();
  readonly failures: PrefetchFailure[] = [];
  readonly missing: MissingDependency[] = [];
  readonly warnings: string[] = [];
  private done = 0;
  private bytes = 0;

  constructor(
    private readonly proxy: Proxy,
    private readonly progress: Progress,
    private readonly log: Logger,
    concurrency: number,
    private readonly pin: boolean,
  ) {
    this.limiter = new Limiter(concurrency);
    this.rc = { publicBase: 'http://localhost', https: false, log };
  }

  get resolved(): PrefetchedPackage[] {
    return [...this.packages.values()].filter((p): p is PrefetchedPackage => p !== null);
  }

  private tick(): void {
    this.progress.update({ done: this.done, total: this.packages.size, bytes: this.bytes, failed: this.failures.length });
  }

  private fail(subject: string, err: unknown): void {
    const reason = typeof err === 'string' ? err : errorMessage(err);
    this.failures.push({ subject, reason });
    this.progress.note(`failed: ${subject}: ${reason}`);
    this.tick();
  }

  private warn(text: string): void {
    if (!this.warnings.includes(text)) this.warnings.push(text);
  }

  /** Starts `fn` as a tracked task; its errors become failures of `subject`. */
  private spawn(subject: string, fn: () => Promise<void>): void {
    const task: Promise<void> = fn()
      .catch((err: unknown) => this.fail(subject, err))
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  /** Resolves when every task, including the ones tasks started, has finished. */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
  }

  want(w: Want): void {
    const key = `${requestKey(w)}|${w.origin.kind === 'input' ? w.origin.source : ''}`;
    if (this.wanted.has(key)) return;
    this.wanted.add(key);
    const subject = `${w.lowerId}@${describeSpec(w.spec)}${w.origin.kind === 'input' ? ` (${w.origin.source})` : ` (dependency of ${w.origin.requiredBy})`}`;
    this.spawn(subject, () => this.resolve(w));
  }

  private versionList(lowerId: string): Promise<VersionList> {
    let p = this.lists.get(lowerId);
    if (!p) {
      p = this.fetchVersionList(lowerId);
      this.lists.set(lowerId, p);
    }
    return p;
  }

  private async fetchVersionList(lowerId: string): Promise<VersionList> {
    try {
      const reply = await this.limiter.run(() => this.proxy.flat.versions(lowerId, this.rc));
      for (const w of reply.warnings ?? []) this.warn(w);
      if (reply.body.kind !== 'json') throw new Error('unexpected reply for a version list');
      const doc = JSON.parse(reply.body.stored) as { versions?: unknown };
      const versions: Array<{ lowerVersion: string; version: NuGetVersion }> = [];
      for (const v of Array.isArray(doc.versions) ? doc.versions : []) {
        const parsed = typeof v === 'string' ? parseVersion(v) : null;
        if (parsed) versions.push({ lowerVersion: toLowerVersion(parsed), version: parsed });
      }
      this.spawn(`registration of ${lowerId}`, () => this.registrations(lowerId));
      return { ok: true, versions };
    } catch (err) {
      return { ok: false, notFound: err instanceof NotFound, reason: errorMessage(err) };
    }
  }

  private async resolve(w: Want): Promise<void> {
    const list = await this.versionList(w.lowerId);
    let lowerVersion: string | null = null;
    let problem: string | null = null;
    if (!list.ok) {
      if (!list.notFound) throw new Error(list.reason);
      problem = list.reason;
    } else if (w.spec.kind === 'exact') {
      lowerVersion = w.spec.lowerVersion;
      if (!list.versions.some((v) => v.lowerVersion === lowerVersion)) {
        problem = `version ${lowerVersion} of '${w.lowerId}' is not on upstream (it has ${list.versions.length} other versions)`;
        lowerVersion = null;
      }
    } else {
      const range = w.spec.range === '' ? ALL_VERSIONS : parseRange(w.spec.range);
      const best = range ? findBestMatch(range, list.versions.map((v) => v.version)) : null;
      if (best) lowerVersion = toLowerVersion(best);
      else problem = `no version of '${w.lowerId}' on upstream matches ${describeSpec(w.spec)}`;
    }
    if (lowerVersion === null) {
      const reason = problem ?? 'not resolvable';
      if (w.origin.kind === 'input') throw new Error(reason);
      this.missing.push({ lowerId: w.lowerId, range: describeSpec(w.spec), requiredBy: w.origin.requiredBy, reason });
      this.log.info({ lowerId: w.lowerId, requiredBy: w.origin.requiredBy, reason }, 'dependency not on upstream');
      return;
    }
    await this.fetchPackage(w.lowerId, lowerVersion);
  }

  private async fetchPackage(lowerId: string, lowerVersion: string): Promise<void> {
    const key = `${lowerId}/${lowerVersion}`;
    if (this.packages.has(key)) return;
    this.packages.set(key, null);
    this.tick();
    const reply = await this.limiter.run(() => this.proxy.flat.file({ lowerId, lowerVersion, file: 'nupkg' }));
    const downloaded = reply.cache === 'miss' || reply.cache === 'coalesced';
    const size = reply.body.kind === 'file' ? reply.body.size : 0;
    const nuspec = await this.proxy.local.nuspec(lowerId, lowerVersion);
    if (!nuspec) throw new Error(`the cached package ${lowerId} ${lowerVersion} has no readable .nuspec`);
    if (this.pin) await pinPackage(this.proxy.blobs, lowerId, lowerVersion, 'prefetch');
    this.packages.set(key, { lowerId, lowerVersion, downloaded, bytes: size });
    if (downloaded) this.bytes += size;
    this.done++;
    this.tick();
    const requiredBy = `${lowerId} ${lowerVersion}`;
    // Every framework's group: the union is what restore may need for any target framework.
    for (const group of nuspec.dependencyGroups) {
      for (const dep of group.dependencies) {
        const depId = toLowerId(dep.id);
        if (!depId) {
          this.warn(`${requiredBy} declares a dependency with an invalid id '${dep.id}'; skipped`);
          continue;
        }
        const valid = dep.range === '' || parseRange(dep.range) !== null;
        if (!valid) this.warn(`${requiredBy} declares an invalid range '${dep.range}' for ${dep.id}; using any version`);
        const range = valid ? dep.range : '';
        this.want({ lowerId: depId, spec: { kind: 'range', range }, origin: { kind: 'dependency', requiredBy } });
      }
    }
  }

  private record(r: MirrorResult): void {
    for (const k of r.keys) this.keys.add(k);
    for (const w of r.warnings) this.warn(w);
    for (const f of r.failures) this.fail(f.subject, f.reason);
  }

  /**
   * The id's stored version lists and its registration on every upstream it routes to (each hive, with
   * separate pages) — what offline version lists, registration and the policy's publish dates read.
   */
  private async registrations(lowerId: string): Promise<void> {
    this.record(await this.limiter.run(() => this.proxy.mirror.id(lowerId)));
  }

  /** Each upstream's service index, vulnerability index and pages (NuGetAudit offline), signatures. */
  async feeds(): Promise<void> {
    const r = await this.proxy.mirror.feeds(this.rc);
    this.record(r);
    if (!r.keys.some((k) => /(^|:)vuln:index$/.test(k))) this.warn('no upstream has vulnerability data (VulnerabilityInfo); audit offline will have none');
  }

  start(requests: readonly PackageRequest[]): void {
    this.spawn('service indexes, vulnerability data and signatures', () => this.feeds());
    for (const r of requests) this.want({ lowerId: r.lowerId, spec: r.spec, origin: { kind: 'input', source: r.source } });
  }
}

/** Prefetches what already-collected inputs ask for (see prefetch() for files and directories). */
export async function prefetchRequests(config: Config, collected: CollectedInputs, deps: ToolDeps): Promise<PrefetchResult> {
  const started = performance.now();
  if (config.offline) throw new ToolError('prefetch needs the upstream feed; remove --offline', 2);
  const { log } = deps;
  const progress = new Progress({ terminal: terminalOf(deps), label: 'prefetch', unit: 'packages' });
  const failures: PrefetchFailure[] = collected.problems.map((p) => ({ subject: 'input', reason: p }));
  for (const f of failures) progress.note(`failed: ${f.reason}`);
  progress.note(`${collected.requests.length} packages requested by ${collected.files.length} input files; concurrency ${config.concurrency}`);

  const proxy = await createProxy({ ...config, staleWaitMs: PREFETCH_STALE_WAIT_MS }, log, deps.metrics ?? createMetrics({ defaultMetrics: false }));
  let run: PrefetchRun | null = null;
  try {
    // Every upstream's service index first: one that cannot be read is a failure, the others still serve.
    let usable = 0;
    for (const feed of proxy.feeds.all) {
      const where = feed.spec.kind === 'feed' ? feed.spec.url : feed.spec.folder;
      const layout = await feed.index.requireLayout().catch((err: unknown) => {
        failures.push({ subject: `upstream ${feed.name} (${where})`, reason: `cannot read the service index: ${errorMessage(err)}` });
        progress.note(`failed: cannot read the service index of upstream ${feed.name}: ${errorMessage(err)}`);
        return null;
      });
      if (layout && !layout.flat) failures.push({ subject: `upstream ${feed.name} (${where})`, reason: 'the service index has no PackageBaseAddress resource' });
      else if (layout) usable++;
    }
    if (usable > 0) {
      run = new PrefetchRun(proxy, progress, log, config.concurrency, config.pin);
      run.start(collected.requests);
      await run.idle();
    }
  } finally {
    await proxy.close();
    progress.finish();
  }
  // After every write has landed: a proxy serving this cache drops its in-memory views.
  const blobs = await createBlobStore(config);
  try {
    await bumpGeneration(blobs);
  } finally {
    await blobs.close();
  }

  const packages = run?.resolved ?? [];
  const selection = makeSelection(packages, run?.keys ?? []);
  if (config.selection) await writeSelection(config.selection, selection);
  const downloaded = packages.filter((p) => p.downloaded);
  return {
    inputs: collected.files.length,
    requested: collected.requests.length,
    packages: [...packages].sort((a, b) => (`${a.lowerId}/${a.lowerVersion}` < `${b.lowerId}/${b.lowerVersion}` ? -1 : 1)),
    downloaded: downloaded.length,
    bytesDownloaded: downloaded.reduce((n, p) => n + p.bytes, 0),
    metadataKeys: selection.metadataKeys,
    pinned: config.pin ? packages.length : 0,
    failures: [...failures, ...(run?.failures ?? [])],
    missingDependencies: run?.missing ?? [],
    warnings: run?.warnings ?? [],
    durationMs: performance.now() - started,
    selection,
    selectionPath: config.selection,
  };
}

/** `nuget-proxy prefetch <input>...` as a function: files and directories in, the cache filled. */
export async function prefetch(config: Config, inputs: readonly string[], deps: ToolDeps): Promise<PrefetchResult> {
  return prefetchRequests(config, await collectInputs(inputs), deps);
}

/** The summary printed at the end (stdout). */
export function formatPrefetchSummary(r: PrefetchResult): string {
  const seconds = r.durationMs / 1000;
  const cached = r.packages.length - r.downloaded;
  const lines = [
    'prefetch summary',
    `  requested:   ${r.requested} packages from ${r.inputs} input files`,
    `  resolved:    ${r.packages.length} packages (${r.downloaded} downloaded, ${cached} already cached)`,
    `  downloaded:  ${formatBytes(r.bytesDownloaded)} in ${formatDuration(r.durationMs)}` +
      (seconds > 0 ? ` (${(r.packages.length / seconds).toFixed(1)} packages/s, ${formatBytes(r.bytesDownloaded / seconds)}/s)` : ''),
    `  metadata:    ${r.metadataKeys.length} documents`,
  ];
  if (r.pinned > 0) lines.push(`  pinned:      ${r.pinned} packages (never evicted by retention)`);
  if (r.missingDependencies.length > 0) {
    lines.push(`  not on upstream: ${r.missingDependencies.length} dependencies (restore needs them only for the frameworks that use them)`);
    for (const m of r.missingDependencies) lines.push(`    ${m.lowerId} (range ${m.range}), required by ${m.requiredBy}`);
  }
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  lines.push(`  failures:    ${r.failures.length}`);
  for (const f of r.failures) lines.push(`    ${f.subject}: ${f.reason}`);
  if (r.selectionPath) lines.push(`  selection:   ${r.selectionPath}`);
  return lines.join('\n');
}
