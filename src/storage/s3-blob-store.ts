// Blobs as objects in an S3-compatible bucket under a key prefix; the only importer of the AWS SDK.
// A write is held back from its final key until commit: up to one part is buffered in memory; an object
// that ends within the first part is sent with one PutObject at commit, a larger one goes up as a
// multipart upload (parts sent as they fill, one in flight at a time) that CompleteMultipartUpload makes
// visible at commit, all at once, and AbortMultipartUpload discards. So no partial object is ever
// visible, and memory stays flat whatever the object's size.
//
// Credentials come from the SDK's default provider chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, a web-identity token file (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, as on EKS),
// shared config files, container or instance roles.

import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { Logger } from '../logger.ts';
import {
  checkKey,
  checkPrefix,
  StorageError,
  type BlobListing,
  type BlobStat,
  type BlobStore,
  type BlobWrite,
  type ReadRange,
  type WriteOptions,
} from './blob-store.ts';

/** S3's smallest part (all but the last); parts of this size keep 10,000 parts above 50 GB. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** '' or a '/'-terminated key prefix every blob key is placed under. */
  readonly prefix: string;
  /** An S3-compatible server (MinIO, Ceph, …); null: AWS S3 itself. */
  readonly endpoint: string | null;
  readonly region: string;
  /** `endpoint/bucket/key` addressing instead of `bucket.endpoint/key` (most self-hosted servers need it). */
  readonly forcePathStyle: boolean;
  /** Bytes buffered per part before it is uploaded (at least 5 MiB). */
  readonly partBytes?: number;
  readonly log?: Logger;
}

interface S3ErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidObjectState',
]);
const QUOTA = new Set(['QuotaExceeded', 'XMinioStorageFull', 'InsufficientStorage', 'EntityTooLarge', 'TooManyBuckets']);
const UNAVAILABLE = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'TimeoutError', 'AbortError']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

function errorName(err: unknown): string {
  const e = err as S3ErrorShape | null;
  return e?.name ?? e?.Code ?? '';
}

function httpStatus(err: unknown): number | undefined {
  return (err as S3ErrorShape | null)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NoSuchKey' || name === 'NotFound' || (httpStatus(err) === 404 && name !== 'NoSuchBucket' && name !== 'NoSuchUpload');
}

/** Every failure of the object store becomes a StorageError with a stable code; the SDK's error is the cause. */
function storageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  const name = errorName(err);
  const status = httpStatus(err);
  const sysCode = (err as S3ErrorShape | null)?.code;
  const detail = (err as S3ErrorShape | null)?.message ?? String(err);
  let code: string;
  // By name first: some servers answer a full quota with 403 (Ceph RGW's QuotaExceeded).
  if (name === 'CredentialsProviderError') code = 'S3_NO_CREDENTIALS';
  else if (QUOTA.has(name) || status === 507) code = 'S3_QUOTA_EXCEEDED';
  else if (name === 'NoSuchBucket') code = 'S3_NO_SUCH_BUCKET';
  else if (DENIED.has(name) || status === 401 || status === 403) code = 'S3_ACCESS_DENIED';
  else if (UNAVAILABLE.has(name) || (status !== undefined && status >= 500) || (sysCode !== undefined && NETWORK.has(sysCode)))
    code = 'S3_UNAVAILABLE';
  else if (status === undefined && !(err instanceof S3ServiceException)) code = 'S3_UNAVAILABLE';
  else code = 'S3_ERROR';
  return new StorageError(`${what}: ${name ? `${name}: ` : ''}${detail}`, code, { cause: err });
}

function statOf(size: number | undefined, etag: string | undefined, lastModified: Date | undefined): BlobStat {
  return { size: size ?? 0, etag: etag ?? '""', lastModifiedMs: lastModified?.getTime() ?? 0 };
}

export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partBytes: number;
  private readonly log: Logger | undefined;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix === '' ? '' : checkPrefix(options.prefix);
    this.partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? DEFAULT_PART_BYTES);
    this.log = options.log;
    // No credentials in the description: the endpoint is shown as its origin only.
    const where = options.endpoint ? ` at ${new URL(options.endpoint).origin}` : '';
    this.description = `s3://${options.bucket}/${this.prefix}${where}`;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      followRegionRedirects: true,
      // Parts are signed with their SHA-256 (SigV4), which the server checks. The newer default CRC
      // checksums send aws-chunked bodies and trailers that many S3-compatible servers reject.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 5000,
        // Inactivity on a socket: a download paused by a stalled client gives up after this long.
        socketTimeout: 120_000,
        // Every package response being streamed holds a socket: the SDK's default of 50 would make
        // the 51st slow client's neighbours wait for a socket.
        httpAgent: { keepAlive: true, maxSockets: 512 },
        httpsAgent: { keepAlive: true, maxSockets: 512 },
      },
    });
  }

  private objectKey(key: string): string {
    return `${this.prefix}${checkKey(key)}`;
  }

  async stat(key: string): Promise<BlobStat | null> {
    const Key = this.objectKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return statOf(r.ContentLength, r.ETag, r.LastModified);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storageError(err, `cannot stat ${key}`);
    }
  }

  async openRead(key: string, range?: ReadRange): Promise<Readable | null> {
    const Key = this.objectKey(key);
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) return (await this.stat(key)) ? Readable.from([]) : null;
    const Range = start === 0 && end === undefined ? undefined : `bytes=${start}-${end === undefined ? '' : end - 1}`;
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, ...(Range ? { Range } : {}) }));
      if (!(r.Body instanceof Readable)) throw new StorageError(`cannot read ${key}: the S3 client returned no stream`, 'S3_ERROR');
      return r.Body;
    } catch (err) {
      if (isNotFound(err)) return null;
      // A range that starts at or past the end: the object exists, the range is empty (as a file read).
      if (errorName(err) === 'InvalidRange' || httpStatus(err) === 416) return Readable.from([]);
      throw storageError(err, `cannot read ${key}`);
    }
  }

  async beginWrite(key: string, options: WriteOptions = {}): Promise<BlobWrite> {
    return new S3Write(this.client, this.bucket, this.objectKey(key), key, this.partBytes, options, this.log, () => this.stat(key));
  }

  async *list(prefix: string): AsyncIterable<BlobListing> {
    checkPrefix(prefix);
    const Prefix = `${this.prefix}${prefix}`;
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ...(ContinuationToken ? { ContinuationToken } : {}) }));
      } catch (err) {
        throw storageError(err, `cannot list ${prefix}`);
      }
      for (const o of page.Contents ?? []) {
        const key = o.Key?.slice(this.prefix.length);
        // Objects written by other tools with names this interface cannot address are left out.
        if (key === undefined || !isSafeKey(key)) continue;
        yield { key, ...statOf(o.Size, o.ETag, o.LastModified) };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async *listChildren(prefix: string): AsyncIterable<string> {
    checkPrefix(prefix);
    const Prefix = `${this.prefix}${prefix}`;
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix, Delimiter: '/', ...(ContinuationToken ? { ContinuationToken } : {}) }),
        );
      } catch (err) {
        throw storageError(err, `cannot list ${prefix}`);
      }
      // A page holds "directories" (common prefixes) and objects of one key range: merged, they read
      // like a directory listing of that range.
      const names = new Set<string>();
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) names.add(p.Prefix.slice(Prefix.length, -1));
      for (const o of page.Contents ?? []) if (o.Key) names.add(o.Key.slice(Prefix.length));
      for (const name of [...names].sort()) if (isSafeKey(name) && !name.includes('/')) yield name;
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async delete(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    // DeleteObject answers 204 whether or not the object existed; the HEAD tells which.
    if (!(await this.stat(key))) return false;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw storageError(err, `cannot delete ${key}`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function isSafeKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}

/** One write: buffers the current part, uploads full parts one at a time, publishes at commit. */
class S3Write implements BlobWrite {
  /** The bytes of the first part, as written: an object that stays small never allocates a whole part. */
  private chunks: Buffer[] = [];
  /** Once the object is known to need several parts: the part being filled, allocated whole. */
  private part: Buffer | null = null;
  private multipart = false;
  private buffered = 0;
  private written = 0;
  private uploadId: string | null = null;
  private readonly parts: CompletedPart[] = [];
  private inFlight: Promise<void> | null = null;
  private failure: unknown = null;
  private state: 'open' | 'committing' | 'done' = 'open';

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly objectKey: string,
    private readonly key: string,
    private readonly partBytes: number,
    private readonly options: WriteOptions,
    private readonly log: Logger | undefined,
    private readonly statFinal: () => Promise<BlobStat | null>,
  ) {}

  get bytesWritten(): number {
    return this.written;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') throw new StorageError(`write to ${this.key} after commit or abort`, 'CLOSED');
    if (this.failure) throw this.failure;
    for (let off = 0; off < chunk.length; ) {
      const take = Math.min(this.partBytes - this.buffered, chunk.length - off);
      // Copies: the caller may reuse its buffer once write() resolves.
      if (this.multipart) {
        this.part ??= Buffer.allocUnsafe(this.partBytes);
        chunk.copy(this.part, this.buffered, off, off + take);
      } else {
        this.chunks.push(Buffer.from(chunk.subarray(off, off + take)));
      }
      this.buffered += take;
      off += take;
      if (this.buffered === this.partBytes) await this.sendPart();
    }
    this.written += chunk.length;
  }

  /** Hands over the buffered bytes (at most one part). */
  private takeBuffered(): Buffer {
    const body = this.part ? this.part.subarray(0, this.buffered) : Buffer.concat(this.chunks, this.buffered);
    this.part = null;
    this.chunks = [];
    this.buffered = 0;
    return body;
  }

  /**
   * Starts uploading the buffered part once the previous one is done (backpressure: one part in flight,
   * one filling — two parts of memory whatever the object's size, three for a moment while the HTTP
   * client lets go of the part it just sent; the compliance suite measures it).
   */
  private async sendPart(): Promise<void> {
    this.multipart = true;
    const body = this.takeBuffered();
    await this.settle();
    try {
      if (this.uploadId === null) {
        const r = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey }));
        if (!r.UploadId) throw new StorageError(`cannot write ${this.key}: no upload id from the object store`, 'S3_ERROR');
        this.uploadId = r.UploadId;
      }
    } catch (err) {
      throw (this.failure = storageError(err, `cannot write ${this.key}`));
    }
    const PartNumber = this.parts.length + 1;
    this.parts.push({ PartNumber });
    const UploadId = this.uploadId;
    this.inFlight = this.client
      .send(new UploadPartCommand({ Bucket: this.bucket, Key: this.objectKey, UploadId, PartNumber, Body: body }))
      .then(
        (r) => {
          this.parts[PartNumber - 1] = { PartNumber, ETag: r.ETag };
        },
        (err: unknown) => {
          this.failure ??= storageError(err, `cannot write ${this.key} (part ${PartNumber})`);
        },
      );
  }

  /** Waits for the part in flight; throws if any part failed. */
  private async settle(): Promise<void> {
    const p = this.inFlight;
    this.inFlight = null;
    if (p) await p;
    if (this.failure) throw this.failure;
  }

  async commit(): Promise<{ readonly created: boolean; readonly stat: BlobStat }> {
    if (this.state !== 'open') throw new StorageError(`commit of ${this.key} after commit or abort`, 'CLOSED');
    if (this.failure) throw this.failure;
    this.state = 'committing';
    try {
      if (this.options.ifAbsent) {
        // Servers differ on conditional writes (some ignore If-None-Match), so ask first. The race left
        // (two writers both see nothing) replaces an object with an identical one: ifAbsent writes are
        // a package version's files, fixed for its id and version (the .nupkg verified, its SHA-512
        // recorded; nuspec, icon and readme taken from it or from upstream for that same version).
        const existing = await this.statFinal();
        if (existing) {
          await this.discard();
          return { created: false, stat: existing };
        }
      }
      let etag: string | undefined;
      if (this.uploadId === null) {
        const body = this.takeBuffered();
        const r = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey, Body: body }));
        etag = r.ETag;
      } else {
        if (this.buffered > 0) await this.sendPart();
        await this.settle();
        const r = await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.objectKey,
            UploadId: this.uploadId,
            MultipartUpload: { Parts: this.parts },
          }),
        );
        this.uploadId = null;
        etag = r.ETag;
      }
      this.state = 'done';
      return { created: true, stat: { size: this.written, etag: etag ?? '""', lastModifiedMs: Date.now() } };
    } catch (err) {
      this.failure ??= storageError(err, `cannot commit ${this.key}`);
      throw this.failure;
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'done') return;
    this.state = 'done';
    await this.discard();
  }

  /** Drops buffered bytes and the multipart upload, if any (its parts are never visible, but are billed). */
  private async discard(): Promise<void> {
    this.state = 'done';
    this.takeBuffered();
    const p = this.inFlight;
    this.inFlight = null;
    if (p) await p;
    const UploadId = this.uploadId;
    this.uploadId = null;
    if (UploadId === null) return;
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey, UploadId }));
    } catch (err) {
      if (errorName(err) === 'NoSuchUpload') return;
      // Nothing was made visible; the parts stay until a bucket lifecycle rule
      // (AbortIncompleteMultipartUpload) removes them.
      this.log?.warn({ err: storageError(err, 'abort'), key: this.key }, 'could not abort a multipart upload');
    }
  }
}
