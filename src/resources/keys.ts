// Every metadata key the resources store documents under, in one place (the offline tools select and
// bundle entries by these keys).

import type { FlatFile } from '../nuget/paths.ts';

export const SERVICE_INDEX_KEY = 'svc:index';
export const VULNERABILITY_INDEX_KEY = 'vuln:index';

export function versionsKey(lowerId: string): string {
  return `versions:${lowerId}`;
}

/** A registration document: `rel` is the path after the hive base (`{id}/index.json`, pages, leaves). */
export function registrationKey(hive: string, rel: string): string {
  return `reg:${hive}:${rel}`;
}

export function vulnerabilityPageKey(token: string): string {
  return `vuln:page:${token}`;
}

export function signaturesKey(version: string): string {
  return `sig:${version}`;
}

/** An upstream 404 for a package file, remembered for --not-found-ttl-seconds. */
export function fileNotFoundKey(lowerId: string, lowerVersion: string, file: FlatFile): string {
  return `blob404:${file}:${lowerId}/${lowerVersion}`;
}

export function searchKey(kind: string, queryHash: string): string {
  return `${kind}:${queryHash}`;
}

/** Entries every bundle carries, selection or not: the service index, vulnerability data, signatures. */
export function isAlwaysExportedKey(key: string): boolean {
  return key === SERVICE_INDEX_KEY || key.startsWith('vuln:') || key.startsWith('sig:');
}
