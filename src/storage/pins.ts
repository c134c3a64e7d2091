// Pinned package versions: retention never evicts them. Import pins what it brings across the air gap,
// `prefetch --pin` what it fetched, and `cache pin` what an operator names (`cache unpin` removes pins). A pin is a small object beside the package's files (layout.ts: the
// `pinned` package file) holding why and when, so it travels with the package on every backend.

import { readBlob, writeBlob, type BlobStore } from './blob-store.ts';
import { packageKey } from './layout.ts';

export type PinReason = 'import' | 'prefetch' | 'manual';

export interface Pin {
  readonly reason: PinReason | string;
  /** When it was pinned (ms since epoch). */
  readonly at: number;
}

/** Pins a package version; a pin that is already there is kept (it says when the version was first pinned). */
export async function pinPackage(blobs: BlobStore, lowerId: string, lowerVersion: string, reason: PinReason, at = Date.now()): Promise<void> {
  const pin: Pin = { reason, at };
  await writeBlob(blobs, packageKey(lowerId, lowerVersion, 'pinned'), `${JSON.stringify(pin)}\n`, { ifAbsent: true });
}

/** Removes a pin; true when there was one. */
export async function unpinPackage(blobs: BlobStore, lowerId: string, lowerVersion: string): Promise<boolean> {
  return blobs.delete(packageKey(lowerId, lowerVersion, 'pinned'));
}

/** The pin of a package version, or null when it is not pinned. Any object under the pin's key pins it. */
export async function readPin(blobs: BlobStore, lowerId: string, lowerVersion: string): Promise<Pin | null> {
  const data = await readBlob(blobs, packageKey(lowerId, lowerVersion, 'pinned'), 64 * 1024);
  if (!data) return null;
  try {
    const o = JSON.parse(data.toString('utf8')) as Partial<Pin> | null;
    return { reason: typeof o?.reason === 'string' ? o.reason : 'unknown', at: typeof o?.at === 'number' ? o.at : 0 };
  } catch {
    return { reason: 'unknown', at: 0 };
  }
}
