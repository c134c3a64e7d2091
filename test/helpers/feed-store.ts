// The fake upstream's in-memory state: packages loaded from .nupkg files plus what a real feed can change
// without a new package (listing, deprecation, vulnerability data), each change stamped with a new commit.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { compareVersions, isSemVer2, parseVersion, toFullString, toLowerInvariant, toLowerVersion, toNormalizedString } from '../../src/nuget/identity.ts';
import type { Nuspec } from '../../src/nuget/nuspec.ts';
import { parseRange, rangeContains } from '../../src/nuget/version-range.ts';
import { readNupkgFile, readNupkgManifest } from '../../src/nupkg.ts';
import {
  UNLISTED_PUBLISHED,
  type Deprecation,
  type FeedPackage,
  type PackageVersionState,
  type Vulnerability,
  type VulnerabilityData,
} from './feed-model.ts';

/** Commit time of packages present at start-up: fixed, so documents (and their ETags) are reproducible. */
const INITIAL_COMMIT_MS = Date.UTC(2024, 0, 1, 0, 0, 0);

const LOAD_CONCURRENCY = 16;

const ICON_TYPES: Readonly<Record<string, string>> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg' };

/** nuget.org classes a package as SemVer2 when its version or any dependency range bound is SemVer2 (§3.5). */
function isSemVer2Package(nuspec: Nuspec): boolean {
  if (isSemVer2(nuspec.version)) return true;
  return nuspec.dependencyGroups.some((g) =>
    g.dependencies.some((d) => {
      const r = d.range ? parseRange(d.range) : null;
      return (r?.min != null && isSemVer2(r.min)) || (r?.max != null && isSemVer2(r.max));
    }),
  );
}

/** Reads a .nupkg into a FeedPackage (identity from its nuspec, embedded icon and readme, SHA-512). */
export async function loadFeedPackage(path: string): Promise<FeedPackage> {
  const bytes = await readFile(path);
  const { nuspec, nuspecXml } = await readNupkgManifest(path);
  const iconData = nuspec.iconFile ? await readNupkgFile(path, nuspec.iconFile) : null;
  const readme = nuspec.readmeFile ? await readNupkgFile(path, nuspec.readmeFile) : null;
  return {
    path,
    bytes,
    sha512: createHash('sha512').update(bytes).digest('base64'),
    nuspec,
    nuspecXml,
    id: nuspec.id,
    lowerId: toLowerInvariant(nuspec.id),
    version: nuspec.version,
    normalizedVersion: toNormalizedString(nuspec.version),
    lowerVersion: toLowerVersion(nuspec.version),
    fullVersion: toFullString(nuspec.version),
    icon: iconData ? { data: iconData, contentType: ICON_TYPES[extname(nuspec.iconFile).toLowerCase()] ?? 'application/octet-stream' } : null,
    readme,
    semVer2: isSemVer2Package(nuspec),
  };
}

interface Commit {
  readonly commitId: string;
  readonly commitTimeStamp: string;
}

/** A deterministic GUID-shaped commit id. */
function commitIdFor(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** nuget.org writes `published` as `2023-03-08T07:42:54.647+00:00`. */
function toPublished(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

function versionKey(id: string, version: string): { lowerId: string; lowerVersion: string } {
  const v = parseVersion(version);
  if (!v) throw new Error(`invalid version: ${version}`);
  return { lowerId: toLowerInvariant(id.trim()), lowerVersion: toLowerVersion(v) };
}

export interface FeedStoreOptions {
  readonly unlisted?: ReadonlyArray<{ readonly id: string; readonly version: string }>;
  readonly vulnerabilities?: VulnerabilityData;
  readonly deprecations?: ReadonlyArray<{ readonly id: string; readonly version: string } & Deprecation>;
  /** `published` (and `created`) of these versions, instead of their load time. */
  readonly published?: ReadonlyArray<{ readonly id: string; readonly version: string; readonly published: string }>;
}

interface Entry {
  readonly pkg: FeedPackage;
  readonly createdMs: number;
  commit: Commit;
}

export class FeedStore {
  /** lower id → lower version → entry. */
  private readonly packages = new Map<string, Map<string, Entry>>();
  private readonly unlisted = new Set<string>();
  private readonly deprecations = new Map<string, Deprecation>();
  /** lowerId/lowerVersion → publish time (ms) given by the test. */
  private readonly publishedAt = new Map<string, number>();
  /** Every generation of vulnerability data stays addressable, like nuget.org's timestamped blobs. */
  private readonly vulnerabilityHistory: VulnerabilityData[] = [{}];
  private lastCommitMs = INITIAL_COMMIT_MS;

  static async load(paths: readonly string[], options: FeedStoreOptions = {}): Promise<FeedStore> {
    const store = new FeedStore();
    for (const u of options.unlisted ?? []) {
      const k = versionKey(u.id, u.version);
      store.unlisted.add(`${k.lowerId}/${k.lowerVersion}`);
    }
    for (const d of options.deprecations ?? []) {
      const k = versionKey(d.id, d.version);
      store.deprecations.set(`${k.lowerId}/${k.lowerVersion}`, d);
    }
    for (const p of options.published ?? []) {
      const k = versionKey(p.id, p.version);
      store.publishedAt.set(`${k.lowerId}/${k.lowerVersion}`, Date.parse(p.published));
    }
    store.vulnerabilityHistory[0] = normalizeVulnerabilities(options.vulnerabilities ?? {});
    // Load a few at a time (each load opens the zip) but insert in the given order, so commit times are reproducible.
    const loaded: FeedPackage[] = [];
    for (let i = 0; i < paths.length; i += LOAD_CONCURRENCY) {
      loaded.push(...(await Promise.all(paths.slice(i, i + LOAD_CONCURRENCY).map((p) => loadFeedPackage(p)))));
    }
    loaded.forEach((pkg, i) => store.insert(pkg, INITIAL_COMMIT_MS + i * 1000));
    store.lastCommitMs = INITIAL_COMMIT_MS + loaded.length * 1000;
    return store;
  }

  /** A later change gets the current time (never earlier than the previous commit). */
  private nextCommitMs(): number {
    this.lastCommitMs = Math.max(Date.now(), this.lastCommitMs + 1);
    return this.lastCommitMs;
  }

  private insert(pkg: FeedPackage, ms: number): void {
    let versions = this.packages.get(pkg.lowerId);
    if (!versions) {
      versions = new Map();
      this.packages.set(pkg.lowerId, versions);
    }
    versions.set(pkg.lowerVersion, { pkg, createdMs: ms, commit: this.commitAt(pkg.lowerId, pkg.lowerVersion, ms) });
  }

  private commitAt(lowerId: string, lowerVersion: string, ms: number): Commit {
    const commitTimeStamp = new Date(ms).toISOString();
    return { commitId: commitIdFor(`${lowerId}/${lowerVersion}/${commitTimeStamp}`), commitTimeStamp };
  }

  private touch(lowerId: string, lowerVersion: string): void {
    const entry = this.packages.get(lowerId)?.get(lowerVersion);
    if (entry) entry.commit = this.commitAt(lowerId, lowerVersion, this.nextCommitMs());
  }

  async addPackage(path: string): Promise<FeedPackage> {
    const pkg = await loadFeedPackage(path);
    this.insert(pkg, this.nextCommitMs());
    return pkg;
  }

  removePackage(id: string, version: string): boolean {
    const k = versionKey(id, version);
    const versions = this.packages.get(k.lowerId);
    const removed = versions?.delete(k.lowerVersion) ?? false;
    if (versions && versions.size === 0) this.packages.delete(k.lowerId);
    return removed;
  }

  setUnlisted(id: string, version: string, unlisted: boolean): void {
    const k = versionKey(id, version);
    const key = `${k.lowerId}/${k.lowerVersion}`;
    if (unlisted) this.unlisted.add(key);
    else this.unlisted.delete(key);
    this.touch(k.lowerId, k.lowerVersion);
  }

  setDeprecation(id: string, version: string, deprecation: Deprecation | null): void {
    const k = versionKey(id, version);
    const key = `${k.lowerId}/${k.lowerVersion}`;
    if (deprecation) this.deprecations.set(key, deprecation);
    else this.deprecations.delete(key);
    this.touch(k.lowerId, k.lowerVersion);
  }

  /** Replaces the vulnerability data; publishes it as a new generation (new page URLs) and re-commits affected versions. */
  setVulnerabilities(data: VulnerabilityData): void {
    const before = this.currentVulnerabilities();
    const after = normalizeVulnerabilities(data);
    this.vulnerabilityHistory.push(after);
    for (const lowerId of new Set([...Object.keys(before), ...Object.keys(after)])) {
      for (const lowerVersion of this.packages.get(lowerId)?.keys() ?? []) this.touch(lowerId, lowerVersion);
    }
  }

  get vulnerabilityGeneration(): number {
    return this.vulnerabilityHistory.length - 1;
  }

  vulnerabilityData(generation: number): VulnerabilityData | undefined {
    return this.vulnerabilityHistory[generation];
  }

  private currentVulnerabilities(): VulnerabilityData {
    return this.vulnerabilityHistory[this.vulnerabilityHistory.length - 1] ?? {};
  }

  private state(entry: Entry): PackageVersionState {
    const { pkg } = entry;
    const key = `${pkg.lowerId}/${pkg.lowerVersion}`;
    const listed = !this.unlisted.has(key);
    const vulnerabilities = (this.currentVulnerabilities()[pkg.lowerId] ?? []).filter((v) => {
      const r = parseRange(v.versions);
      return r !== null && rangeContains(r, pkg.version);
    });
    const downloadsSeed = createHash('sha1').update(key).digest().readUInt16BE(0);
    const createdMs = this.publishedAt.get(key) ?? entry.createdMs;
    return {
      pkg,
      listed,
      published: listed ? toPublished(createdMs) : UNLISTED_PUBLISHED,
      created: toPublished(createdMs),
      commitId: entry.commit.commitId,
      commitTimeStamp: entry.commit.commitTimeStamp,
      deprecation: this.deprecations.get(key) ?? null,
      vulnerabilities,
      downloads: 100 + downloadsSeed,
    };
  }

  /** Every version of one id (lowercase), ascending by NuGet precedence; empty when unknown. */
  versionsOf(lowerId: string): PackageVersionState[] {
    const versions = this.packages.get(lowerId);
    if (!versions) return [];
    return [...versions.values()].sort((a, b) => compareVersions(a.pkg.version, b.pkg.version)).map((e) => this.state(e));
  }

  find(lowerId: string, lowerVersion: string): PackageVersionState | null {
    const entry = this.packages.get(lowerId)?.get(lowerVersion);
    return entry ? this.state(entry) : null;
  }

  /** lower id → versions (ascending), for search. */
  byId(): Map<string, PackageVersionState[]> {
    const out = new Map<string, PackageVersionState[]>();
    for (const lowerId of this.packages.keys()) out.set(lowerId, this.versionsOf(lowerId));
    return out;
  }

  all(): PackageVersionState[] {
    return [...this.byId().values()].flat();
  }
}

function normalizeVulnerabilities(data: VulnerabilityData): VulnerabilityData {
  const out: Record<string, readonly Vulnerability[]> = {};
  for (const [id, list] of Object.entries(data)) out[toLowerInvariant(id)] = [...list];
  return out;
}
