// A keyv store adapter that keeps each metadata entry as one object in the blob store (metadata/ in the
// layout), so metadata survives a restart and serves offline on every backend. An object holds the key on
// its first line (guards against hash collisions), then keyv's serialized value.

import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import { readBlob, writeBlob, type BlobStore } from './blob-store.ts';
import { METADATA_PREFIX, metadataKey } from './layout.ts';

/** Upstream documents are refused above 128 MB; an entry is that plus a header line. */
const MAX_ENTRY_BYTES = 160 * 1024 * 1024;

export class BlobKeyvStore extends EventEmitter implements KeyvStoreAdapter {
  opts: { dialect: string };
  namespace?: string | undefined;

  constructor(private readonly blobs: BlobStore) {
    super();
    this.opts = { dialect: 'blob' };
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    try {
      const data = await readBlob(this.blobs, metadataKey(key), MAX_ENTRY_BYTES);
      if (!data) return undefined;
      const text = data.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0 || text.slice(0, nl) !== JSON.stringify(key)) return undefined;
      return text.slice(nl + 1) as StoredData<Value>;
    } catch (err) {
      this.emit('error', err);
      return undefined;
    }
  }

  async set(key: string, value: unknown): Promise<boolean> {
    // Metadata can be fetched again from upstream: no flush to stable storage per entry.
    await writeBlob(this.blobs, metadataKey(key), `${JSON.stringify(key)}\n${String(value)}`, { durable: false });
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.blobs.delete(metadataKey(key));
  }

  async clear(): Promise<void> {
    for await (const o of this.blobs.list(METADATA_PREFIX)) await this.blobs.delete(o.key);
  }
}

/** The key stored in a metadata object (its first line); null when the object is not such an entry. */
export async function readStoredMetadataKey(blobs: BlobStore, objectKey: string): Promise<string | null> {
  const stream = await blobs.openRead(objectKey, { start: 0, end: 64 * 1024 });
  if (!stream) return null;
  let text = '';
  for await (const chunk of stream) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  stream.destroy();
  const nl = text.indexOf('\n');
  if (nl < 0) return null;
  try {
    const key: unknown = JSON.parse(text.slice(0, nl));
    return typeof key === 'string' ? key : null;
  } catch {
    return null;
  }
}
