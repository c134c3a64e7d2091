// `nuget-proxy cache list|stats|verify|purge|pin|unpin`: opens the blob store the configuration names (the
// running proxy's, on disk or S3), runs the cache-admin operation and prints a table — or with --json one
// JSON document for scripts. Exit codes: 0 ok, 1 damage found / nothing matched / storage failed, 2 usage.

import type { CacheCommand, Config } from '../config.ts';
import { purgeVersions, setPins, type PinResult, type PurgeResult } from '../cache-admin/changes.ts';
import { parsePatterns, PatternError } from '../cache-admin/patterns.ts';
import { cacheStats, listVersions, type CacheStats, type CachedVersion } from '../cache-admin/report.ts';
import { verifyCache, type VerifyResult } from '../cache-admin/verify.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { createBlobStore } from '../storage/create.ts';
import { formatAgo } from '../web/format.ts';
import { Progress, formatBytes, formatDuration, type Terminal, type TextSink } from './progress.ts';
import { renderTable } from './table.ts';
import { ToolError } from './tool.ts';

export interface CacheCommandIo {
  readonly terminal: Terminal;
  /** stdout: the table or the JSON document. */
  readonly out: TextSink;
  /** The store to work on (the caller closes it); default: the one the configuration names. */
  readonly blobs?: BlobStore;
  readonly nowMs?: number;
}

function iso(ms: number | null): string | null {
  return ms === null || ms <= 0 ? null : new Date(ms).toISOString();
}

function shortDate(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().slice(0, 16).replace('T', ' ') : '-';
}

/** One version in the --json documents (`id` and `version` are the lower-cased forms the cache keys use). */
export interface VersionJson {
  readonly id: string;
  readonly version: string;
  readonly bytes: number;
  readonly nupkgBytes: number;
  /** ISO 8601. */
  readonly filledAt: string | null;
  readonly lastServedAt: string | null;
  readonly pinned: boolean;
  /** The upstream it was filled from (as --config names it; `default` with one upstream); null: unmarked. */
  readonly source: string | null;
  readonly files: readonly string[];
}

/** The --json documents, per command (stats and verify print CacheStats and VerifyResult as they are). */
export interface ListJson {
  readonly storage: string;
  readonly versions: readonly VersionJson[];
}
export type PurgeJson = Omit<PurgeResult, 'purged' | 'keptPinned'> & { readonly purged: readonly VersionJson[]; readonly keptPinned: readonly VersionJson[] };
export type PinJson = Omit<PinResult, 'changed' | 'unchanged'> & { readonly changed: readonly VersionJson[]; readonly unchanged: readonly VersionJson[] };

function versionJson(v: CachedVersion): VersionJson {
  return {
    id: v.lowerId,
    version: v.lowerVersion,
    bytes: v.bytes,
    nupkgBytes: v.nupkgBytes,
    filledAt: iso(v.filledAt),
    lastServedAt: iso(v.lastServedAt),
    pinned: v.pinned,
    source: v.source,
    files: v.files,
  };
}

function versionTable(versions: readonly CachedVersion[], nowMs: number): string {
  const rows = versions.map((v) => [v.lowerId, v.lowerVersion, formatBytes(v.bytes), shortDate(v.filledAt), v.lastServedAt ? formatAgo(v.lastServedAt, nowMs) : 'never', v.source ?? '-', v.pinned ? 'pinned' : '']);
  return renderTable(['ID', 'VERSION', 'SIZE', 'FILLED (UTC)', 'LAST SERVED', 'UPSTREAM', 'PIN'], rows, ['left', 'left', 'right']);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summaryOf(versions: readonly CachedVersion[]): string {
  const ids = new Set(versions.map((v) => v.lowerId)).size;
  return `${plural(versions.length, 'version')} of ${plural(ids, 'package')}, ${formatBytes(versions.reduce((n, v) => n + v.bytes, 0))}`;
}

export function formatStats(s: CacheStats): string {
  const area = (t: { objects: number; bytes: number }) => `${plural(t.objects, 'object')}, ${formatBytes(t.bytes)}`;
  const lines = [
    `storage:            ${s.storage}`,
    `packages:           ${s.packages}`,
    `versions:           ${s.versions} (${s.pinnedVersions} pinned${s.incompleteVersions ? `, plus ${s.incompleteVersions} incomplete` : ''})`,
    `package files:      ${formatBytes(s.packageBytes)} (.nupkg ${formatBytes(s.nupkgBytes)})`,
    `metadata:           ${area(s.metadata)}`,
    `state:              ${area(s.state)}`,
    `quarantine:         ${area(s.quarantine)}`,
    `counts for quota:   ${formatBytes(s.quotaBytes)} (packages and metadata)`,
    `total:              ${formatBytes(s.totalBytes)}`,
    `unused 30 / 90 days: ${s.unusedVersions.days30} / ${s.unusedVersions.days90} versions (neither served nor filled)`,
  ];
  if (s.largest.length > 0) {
    lines.push('', 'largest packages:');
    lines.push(renderTable(['ID', 'VERSIONS', 'SIZE'], s.largest.map((l) => [l.lowerId, String(l.versions), formatBytes(l.bytes)]), ['left', 'right', 'right']));
  }
  return lines.join('\n');
}

export function formatVerify(r: VerifyResult): string {
  const lines: string[] = [];
  if (r.findings.length > 0) {
    const rows = r.findings.flatMap((f) =>
      f.problems.map((p, i) => (i === 0 ? [f.lowerId, f.lowerVersion, f.status, p, f.quarantinedTo ?? ''] : ['', '', '', p, ''])),
    );
    lines.push(renderTable(['ID', 'VERSION', 'STATUS', 'PROBLEM', 'QUARANTINED TO'], rows), '');
  }
  const c = r.counts;
  lines.push(
    `verified ${plural(r.checked, 'version')} (${formatBytes(r.bytes)}) in ${formatDuration(r.durationMs)} from ${r.storage}: ` +
      `${c.ok} ok, ${c.damaged} damaged, ${c.unverified} without a .sha512, ${c.error} unreadable${c.gone ? `, ${c.gone} deleted meanwhile` : ''}`,
  );
  if (r.incomplete > 0) lines.push(`${plural(r.incomplete, 'incomplete version')} (files without a .nupkg) not verified; retention or 'cache purge' removes them`);
  if (r.quarantined > 0) lines.push(`quarantined ${plural(r.quarantined, 'version')}: the next request fills them again from upstream`);
  else if (c.damaged > 0) lines.push("run again with --quarantine to move the damaged versions out of the cache (the next request fills them again)");
  return lines.join('\n');
}

function formatPurge(r: PurgeResult, nowMs: number): string {
  const lines: string[] = [];
  if (r.purged.length > 0) lines.push(versionTable(r.purged, nowMs), '');
  const verb = r.dryRun ? 'would purge' : 'purged';
  lines.push(`${verb} ${r.purged.length > 0 ? summaryOf(r.purged) : '0 versions'}${r.incompletePurged ? ` and ${plural(r.incompletePurged, 'incomplete version')}` : ''} from ${r.storage}`);
  if (r.keptPinned.length > 0) lines.push(`kept ${plural(r.keptPinned.length, 'pinned version')} (${r.keptPinned.slice(0, 5).map((v) => `${v.lowerId}@${v.lowerVersion}`).join(', ')}${r.keptPinned.length > 5 ? ', …' : ''}); add --include-pinned to purge them too`);
  if (r.dryRun) lines.push('dry run: nothing was deleted');
  return lines.join('\n');
}

function formatPins(r: PinResult, pin: boolean): string {
  const lines: string[] = [];
  for (const v of r.changed) lines.push(`${pin ? 'pinned' : 'unpinned'} ${v.lowerId} ${v.lowerVersion}`);
  if (r.unchanged.length > 0) lines.push(`${plural(r.unchanged.length, 'version')} ${pin ? 'already pinned' : 'not pinned'}`);
  for (const p of r.unmatched) lines.push(`'${p}' matches no cached version`);
  if (lines.length === 0) lines.push('nothing to do');
  return lines.join('\n');
}

async function runOn(blobs: BlobStore, command: CacheCommand, config: Config, positionals: readonly string[], io: CacheCommandIo): Promise<number> {
  const nowMs = io.nowMs ?? Date.now();
  const patterns = parsePatterns(positionals);
  if ((command === 'cache pin' || command === 'cache unpin') && patterns.length === 0)
    throw new ToolError(`'${command}' needs at least one pattern: <id>[@<version>]... ('*' for every cached version)`, 2);
  if (command === 'cache purge' && patterns.length === 0 && config.unusedDays === null)
    throw new ToolError("'cache purge' needs a pattern (<id>[@<version>]; '*' for everything) or --unused-days", 2);
  const emit = async (json: unknown, human: () => string): Promise<void> => {
    io.out.write(`${config.json ? JSON.stringify(json, null, 2) : human()}\n`);
  };
  switch (command) {
    case 'cache list': {
      const versions = await listVersions(blobs, patterns);
      const doc: ListJson = { storage: blobs.description, versions: versions.map(versionJson) };
      await emit(doc, () =>
        versions.length === 0 ? `no cached package versions${patterns.length ? ' match' : ''} in ${blobs.description}` : `${versionTable(versions, nowMs)}\n\n${summaryOf(versions)} in ${blobs.description}`,
      );
      return 0;
    }
    case 'cache stats': {
      const stats = await cacheStats(blobs, nowMs);
      await emit(stats, () => formatStats(stats));
      return 0;
    }
    case 'cache verify': {
      const progress = new Progress({ terminal: io.terminal, label: 'verify', unit: 'bytes' });
      const result = await verifyCache(blobs, {
        patterns,
        concurrency: config.concurrency,
        quarantine: config.quarantine,
        onProgress: (s) => progress.update({ done: s.bytes, total: s.bytesTotal, failed: s.findings }),
      });
      progress.finish();
      const doc: VerifyResult = { ...result, durationMs: Math.round(result.durationMs) };
      await emit(doc, () => formatVerify(result));
      return result.counts.damaged + result.counts.error > 0 ? 1 : 0;
    }
    case 'cache purge': {
      const result = await purgeVersions(blobs, { patterns, unusedDays: config.unusedDays, includePinned: config.includePinned, dryRun: config.dryRun, nowMs });
      const doc: PurgeJson = { ...result, purged: result.purged.map(versionJson), keptPinned: result.keptPinned.map(versionJson) };
      await emit(doc, () => formatPurge(result, nowMs));
      return 0;
    }
    case 'cache pin':
    case 'cache unpin': {
      const pin = command === 'cache pin';
      const result = await setPins(blobs, patterns, pin, nowMs);
      const doc: PinJson = { ...result, changed: result.changed.map(versionJson), unchanged: result.unchanged.map(versionJson) };
      await emit(doc, () => formatPins(result, pin));
      return result.unmatched.length > 0 ? 1 : 0;
    }
  }
}

export async function runCacheCommand(command: CacheCommand, config: Config, positionals: readonly string[], io: CacheCommandIo): Promise<number> {
  try {
    if (io.blobs) return await runOn(io.blobs, command, config, positionals, io);
    const blobs = await createBlobStore(config, undefined, { mustExist: true });
    try {
      return await runOn(blobs, command, config, positionals, io);
    } finally {
      await blobs.close();
    }
  } catch (err) {
    if (err instanceof PatternError) throw new ToolError(err.message, 2);
    throw err;
  }
}
