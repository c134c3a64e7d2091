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

  /** `value`: keyv's serialized text, or that text as parts (written one after the other, never joined). */
  async set(key: string, value: unknown): Promise<boolean> {
    const parts = Array.isArray(value) ? value.map(String) : [String(value)];
    // Metadata can be fetched again from upstream: no flush to stable storage per entry.
    await writeBlob(this.blobs, metadataKey(key), [`${JSON.stringify(key)}\n`, ...parts], { durable: false });
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

/** What the first two lines of a stored metadata entry say: its key, and the status and age of the document. */
export interface MetadataHead {
  readonly key: string;
  readonly status: number;
  readonly fetchedAt: number;
}

/** The head lines of an entry are short; anything longer than this is not an entry. */
const MAX_HEAD_BYTES = 16 * 1024 * 1024;

/**
 * Parses the head of a stored metadata entry (line 1: the JSON key, see BlobKeyvStore.set; line 2: keyv's
 * header with `value.status` and `value.fetchedAt`, see serializeEntry in metadata-store.ts). `data` holds
 * the whole entry or at least its first two lines; null when it is not such an entry.
 */
export function parseMetadataHead(data: Buffer): MetadataHead | null {
  const first = data.indexOf(0x0a);
  if (first < 0) return null;
  const second = data.indexOf(0x0a, first + 1);
  try {
    const key: unknown = JSON.parse(data.subarray(0, first).toString('utf8'));
    const header = JSON.parse(data.subarray(first + 1, second >= 0 ? second : data.length).toString('utf8')) as { value?: { status?: unknown; fetchedAt?: unknown } } | null;
    const value = header?.value;
    if (typeof key !== 'string' || typeof value?.fetchedAt !== 'number' || typeof value.status !== 'number') return null;
    return { key, status: value.status, fetchedAt: value.fetchedAt };
  } catch {
    return null;
  }
}

/** Reads only as far as the head of an entry from `source` (an object's stream, or a staged file's). */
export async function readMetadataHead(source: AsyncIterable<Buffer | Uint8Array>): Promise<MetadataHead | null> {
  const chunks: Buffer[] = [];
  let n = 0;
  let newlines = 0;
  for await (const c of source) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c);
    chunks.push(chunk);
    n += chunk.length;
    for (let at = chunk.indexOf(0x0a); at >= 0 && newlines < 2; at = chunk.indexOf(0x0a, at + 1)) newlines++;
    if (newlines >= 2) break;
    if (n > MAX_HEAD_BYTES) return null;
  }
  return parseMetadataHead(Buffer.concat(chunks));
}

/** The head of the metadata object `objectKey` in the blob store; null when it is missing or not an entry. */
export async function readStoredMetadataHead(blobs: BlobStore, objectKey: string): Promise<MetadataHead | null> {
  const stream = await blobs.openRead(objectKey);
  if (!stream) return null;
  try {
    return await readMetadataHead(stream);
  } finally {
    stream.destroy();
  }
}
