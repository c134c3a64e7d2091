// `cache verify`: re-reads every cached .nupkg, compares its SHA-512 with the .sha512 recorded when it was
// filled, and checks its zip structure (central directory, root .nuspec naming this id and version). Damaged
// versions are reported, or with `quarantine` moved to quarantine/ and deleted from packages/ (the .nupkg
// first), so the next request fills them again from upstream; the generation stamp then tells running
// proxies. One read of each package: the hash and the zip check share it (the central directory comes from
// the tail kept in memory), which matters on object storage.

import { createHash } from 'node:crypto';
import { toLowerId, toLowerVersion } from '../nuget/identity.ts';
import { checkNupkgStructure, NupkgError } from '../nupkg.ts';
import { readBlob, writeBlobFrom, type BlobStore } from '../storage/blob-store.ts';
import { bumpGeneration } from '../storage/generation.ts';
import { packageKey, quarantineKey } from '../storage/layout.ts';
import { deletePackageVersion, type StoredVersion } from '../storage/package-versions.ts';
import type { PackagePattern } from './patterns.ts';
import { selectVersions } from './report.ts';

/**
 * ok: hash and structure check out. damaged: they do not (quarantined with `quarantine`). unverified: the
 * structure is sound but there is no .sha512 to compare with. error: it could not be read (storage trouble:
 * nothing is concluded, nothing moved). gone: deleted while verify ran (retention, a purge).
 */
export type VerifyStatus = 'ok' | 'damaged' | 'unverified' | 'error' | 'gone';

export interface VersionCheck {
  readonly lowerId: string;
  readonly lowerVersion: string;
  readonly status: VerifyStatus;
  readonly problems: readonly string[];
  readonly bytes: number;
  /** Where its files went (`quarantine/{stamp}/{id}/{version}/`), when quarantined. */
  readonly quarantinedTo?: string;
}

export interface VerifyResult {
  readonly storage: string;
  readonly checked: number;
  readonly bytes: number;
  readonly counts: Readonly<Record<VerifyStatus, number>>;
  /** Versions with files but no .nupkg: nothing to verify (a fill that crashed; retention removes them). */
  readonly incomplete: number;
  /** Every version that is not ok, in id/version order. */
  readonly findings: readonly VersionCheck[];
  readonly quarantined: number;
  readonly durationMs: number;
}

export interface VerifyOptions {
  readonly patterns: readonly PackagePattern[];
  readonly concurrency: number;
  readonly quarantine: boolean;
  /** After each version: bytes read so far, versions done, findings so far. */
  readonly onProgress?: (state: { readonly done: number; readonly total: number; readonly bytes: number; readonly bytesTotal: number; readonly findings: number }) => void;
  readonly now?: () => Date;
}

/** Keeps the last TAIL_BYTES of the stream: the central directory of almost any package fits. */
const TAIL_BYTES = 1024 * 1024;

interface Digest {
  readonly sha512: string;
  readonly bytes: number;
  readonly tail: Buffer;
}

async function digestBlob(blobs: BlobStore, key: string): Promise<Digest | null> {
  const stream = await blobs.openRead(key);
  if (!stream) return null;
  const hash = createHash('sha512');
  let bytes = 0;
  let tail: Buffer[] = [];
  let tailBytes = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    hash.update(b);
    bytes += b.length;
    tail.push(b);
    tailBytes += b.length;
    if (tailBytes > 2 * TAIL_BYTES) {
      const joined = Buffer.concat(tail).subarray(-TAIL_BYTES);
      tail = [joined];
      tailBytes = joined.length;
    }
  }
  return { sha512: hash.digest('base64'), bytes, tail: Buffer.concat(tail).subarray(-TAIL_BYTES) };
}

export async function checkVersion(blobs: BlobStore, v: StoredVersion): Promise<Omit<VersionCheck, 'quarantinedTo'>> {
  const { lowerId, lowerVersion } = v;
  const base = { lowerId, lowerVersion };
  const key = packageKey(lowerId, lowerVersion, 'nupkg');
  let recorded: string | null;
  let digest: Digest | null;
  try {
    recorded = (await readBlob(blobs, packageKey(lowerId, lowerVersion, 'sha512'), 4096))?.toString('utf8').trim() ?? null;
    digest = await digestBlob(blobs, key);
  } catch (err) {
    return { ...base, status: 'error', problems: [`cannot read: ${(err as Error).message}`], bytes: 0 };
  }
  if (!digest) return { ...base, status: 'gone', problems: ['deleted while verify ran'], bytes: 0 };
  const problems: string[] = [];
  if (recorded !== null && !/^[A-Za-z0-9+/]{86}==$/.test(recorded)) problems.push('its .sha512 record is not a base64 SHA-512');
  else if (recorded !== null && recorded !== digest.sha512) problems.push(`SHA-512 differs from its .sha512 record (${digest.bytes} bytes read)`);
  try {
    const { nuspec } = await checkNupkgStructure({ blobs, key, size: digest.bytes, tail: digest.tail });
    if (toLowerId(nuspec.id) !== lowerId || toLowerVersion(nuspec.version) !== lowerVersion)
      problems.push(`its .nuspec names ${nuspec.id} ${nuspec.fullVersion}, not ${lowerId} ${lowerVersion}`);
  } catch (err) {
    if (!(err instanceof NupkgError)) return { ...base, status: 'error', problems: [`cannot read: ${(err as Error).message}`], bytes: digest.bytes };
    problems.push(err.message);
  }
  const status: VerifyStatus = problems.length > 0 ? 'damaged' : recorded === null ? 'unverified' : 'ok';
  if (status === 'unverified') problems.push('no .sha512 record to compare with (the zip structure is sound)');
  return { ...base, status, problems, bytes: digest.bytes };
}

/** Copies a version's files into quarantine/{stamp}/, then deletes them from packages/ (the .nupkg first). */
async function quarantineVersion(blobs: BlobStore, v: StoredVersion, stamp: string): Promise<string> {
  for (const key of v.keys) {
    const stream = await blobs.openRead(key);
    if (stream) await writeBlobFrom(blobs, quarantineKey(stamp, key), stream);
  }
  await deletePackageVersion(blobs, v.lowerId, v.lowerVersion);
  return quarantineKey(stamp, packageKey(v.lowerId, v.lowerVersion, 'nupkg')).replace(/[^/]+$/, '');
}

/** `20250102T030405Z`: one quarantine folder per run, in time order. */
function stampOf(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

export async function verifyCache(blobs: BlobStore, options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const { held, incomplete } = await selectVersions(blobs, options.patterns);
  const bytesTotal = held.reduce((n, v) => n + v.nupkgBytes, 0);
  const results: Array<VersionCheck | undefined> = new Array(held.length);
  const stamp = stampOf((options.now ?? (() => new Date()))());
  let next = 0;
  let done = 0;
  let bytes = 0;
  let findings = 0;
  let quarantined = 0;
  const worker = async () => {
    for (let i = next++; i < held.length; i = next++) {
      const v = held[i] as StoredVersion;
      const check: VersionCheck = await checkVersion(blobs, v);
      let result = check;
      if (check.status === 'damaged' && options.quarantine) {
        result = { ...check, quarantinedTo: await quarantineVersion(blobs, v, stamp) };
        quarantined++;
      }
      results[i] = result;
      done++;
      bytes += check.bytes;
      if (result.status !== 'ok') findings++;
      options.onProgress?.({ done, total: held.length, bytes, bytesTotal, findings });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, held.length)) }, worker));
  if (quarantined > 0) await bumpGeneration(blobs);
  const counts: Record<VerifyStatus, number> = { ok: 0, damaged: 0, unverified: 0, error: 0, gone: 0 };
  for (const r of results) if (r) counts[r.status]++;
  return {
    storage: blobs.description,
    checked: held.length,
    bytes,
    counts,
    incomplete: incomplete.length,
    findings: results.filter((r): r is VersionCheck => r !== undefined && r.status !== 'ok'),
    quarantined,
    durationMs: performance.now() - started,
  };
}
