// The selection file: what a prefetch run selected (packages and metadata keys), so `export --selection`
// bundles exactly that. Written atomically; read with validation.

import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { normalizeLowerVersion, toLowerId } from '../nuget/identity.ts';

export const SELECTION_FORMAT = 'nuget-proxy-selection';
export const SELECTION_VERSION = 1;

export interface SelectedPackage {
  readonly lowerId: string;
  readonly lowerVersion: string;
}

export interface Selection {
  readonly format: typeof SELECTION_FORMAT;
  readonly version: typeof SELECTION_VERSION;
  readonly createdAt: string;
  readonly packages: readonly SelectedPackage[];
  readonly metadataKeys: readonly string[];
}

export function makeSelection(packages: Iterable<SelectedPackage>, metadataKeys: Iterable<string>, now = new Date()): Selection {
  const byKey = new Map<string, SelectedPackage>();
  for (const p of packages) byKey.set(`${p.lowerId}/${p.lowerVersion}`, { lowerId: p.lowerId, lowerVersion: p.lowerVersion });
  return {
    format: SELECTION_FORMAT,
    version: SELECTION_VERSION,
    createdAt: now.toISOString(),
    packages: [...byKey.keys()].sort().map((k) => byKey.get(k) as SelectedPackage),
    metadataKeys: [...new Set(metadataKeys)].sort(),
  };
}

export async function writeSelection(path: string, selection: Selection): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(selection, null, 2)}\n`);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export class SelectionError extends Error {}

/** Reads and validates a selection file; every problem is a SelectionError naming the file. */
export async function readSelection(path: string): Promise<Selection> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new SelectionError(`selection ${path}: ${(err as Error).message}`);
  }
  const o = doc as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || o['format'] !== SELECTION_FORMAT || o['version'] !== SELECTION_VERSION)
    throw new SelectionError(`selection ${path}: not a ${SELECTION_FORMAT} version ${SELECTION_VERSION} file`);
  const packages: SelectedPackage[] = [];
  for (const p of Array.isArray(o['packages']) ? (o['packages'] as unknown[]) : []) {
    const q = p as Record<string, unknown> | null;
    const lowerId = typeof q?.['lowerId'] === 'string' ? q['lowerId'] : '';
    const lowerVersion = typeof q?.['lowerVersion'] === 'string' ? q['lowerVersion'] : '';
    if (toLowerId(lowerId) !== lowerId || normalizeLowerVersion(lowerVersion) !== lowerVersion)
      throw new SelectionError(`selection ${path}: invalid package entry ${JSON.stringify(p)}`);
    packages.push({ lowerId, lowerVersion });
  }
  const keys = Array.isArray(o['metadataKeys']) ? (o['metadataKeys'] as unknown[]) : [];
  if (!keys.every((k): k is string => typeof k === 'string')) throw new SelectionError(`selection ${path}: metadataKeys must be strings`);
  return { ...makeSelection(packages, keys), createdAt: typeof o['createdAt'] === 'string' ? o['createdAt'] : '' };
}
