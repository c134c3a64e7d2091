// Every metadata key the resources store documents under, in one place (the offline tools select and
// bundle entries by these keys). Every key names the upstream it came from, so a changed mapping never
// serves one upstream's documents as another's. The upstream of the one-upstream configuration
// (DEFAULT_UPSTREAM_NAME) keeps the key shapes of earlier versions, so existing caches and bundles stay valid;
// any other upstream's keys start with `u:{name}:`.

import { DEFAULT_UPSTREAM_NAME } from '../config.ts';
import type { FlatFile } from '../nuget/paths.ts';

const SERVICE_INDEX = 'svc:index';
const VULNERABILITY_INDEX = 'vuln:index';

/** `key` as stored for `upstream`. */
export function upstreamKey(upstream: string, key: string): string {
  return upstream === DEFAULT_UPSTREAM_NAME ? key : `u:${upstream}:${key}`;
}

/** The upstream a stored key belongs to and the key without it. */
export function splitUpstreamKey(key: string): { upstream: string; key: string } {
  const m = /^u:([^:]+):(.*)$/s.exec(key);
  return m?.[1] !== undefined && m[2] !== undefined ? { upstream: m[1], key: m[2] } : { upstream: DEFAULT_UPSTREAM_NAME, key };
}

export function serviceIndexKey(upstream: string): string {
  return upstreamKey(upstream, SERVICE_INDEX);
}

export function vulnerabilityIndexKey(upstream: string): string {
  return upstreamKey(upstream, VULNERABILITY_INDEX);
}

export function versionsKey(upstream: string, lowerId: string): string {
  return upstreamKey(upstream, `versions:${lowerId}`);
}

/** A registration document: `rel` is the path after the hive base (`{id}/index.json`, pages, leaves). */
export function registrationKey(upstream: string, hive: string, rel: string): string {
  return upstreamKey(upstream, `reg:${hive}:${rel}`);
}

export function vulnerabilityPageKey(upstream: string, token: string): string {
  return upstreamKey(upstream, `vuln:page:${token}`);
}

export function signaturesKey(upstream: string, version: string): string {
  return upstreamKey(upstream, `sig:${version}`);
}

/** An upstream 404 for a package file, remembered for --not-found-ttl-seconds. */
export function fileNotFoundKey(upstream: string, lowerId: string, lowerVersion: string, file: FlatFile): string {
  return upstreamKey(upstream, `blob404:${file}:${lowerId}/${lowerVersion}`);
}

export function searchKey(upstream: string, kind: string, queryHash: string): string {
  return upstreamKey(upstream, `${kind}:${queryHash}`);
}

/** Entries every bundle carries, selection or not: each upstream's service index, vulnerability data, signatures. */
export function isAlwaysExportedKey(key: string): boolean {
  const own = splitUpstreamKey(key).key;
  return own === SERVICE_INDEX || own.startsWith('vuln:') || own.startsWith('sig:');
}
