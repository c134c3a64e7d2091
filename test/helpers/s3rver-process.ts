// The S3-compatible server the tests run (in its own process, so its memory and event loop are not the
// test's): s3rver, made faithful to S3 where the stores' guarantees depend on it. s3rver 3.7.1 as shipped
// - writes objects in place: a reader sees a half-written object, and an overwrite truncates the file
//   under a reader already streaming it (S3 swaps whole objects) → here: temp file + rename, reads
//   through the file they opened;
// - lists keys in directory-walk order, not key order, so a paged listing skips or repeats keys, and
//   a page that ends in common prefixes fails → ListObjectsV2 here answers as S3 does;
// - has no AbortMultipartUpload (405) and no ListMultipartUploads (501) → added;
// - accepts multipart parts under 5 MiB → here EntityTooSmall, as S3 answers, so a client that sends
//   small parts fails here as it would on S3.
// It still ignores conditional writes (If-None-Match) and does not check signatures' secrets.
// Usage: node --import tsx test/helpers/s3rver-process.ts '{"directory":…,"bucket":…,"faithful":true}'
// prints {"port":…} on stdout once it listens on 127.0.0.1.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const require = createRequire(import.meta.url);

/** The parts of s3rver's (untyped, CommonJS) API this file uses. */
interface S3Object {
  bucket: string;
  key: string;
  content: Readable | Buffer | null;
  metadata: Record<string, string>;
  range?: { start: number; end: number };
}
interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  putObject(object: S3Object): Promise<{ md5: string; size: number }>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3Object | null>;
  putObjectMultipart(bucket: string, uploadId: string, parts: Array<{ number: number; etag: string }>): Promise<{ md5: string; size: number }>;
}
interface KoaContext {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  body: unknown;
  type: string;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverServer {
  store: FilesystemStore;
  middleware: Middleware[];
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverServer;
type S3ObjectCtor = new (bucket: string, key: string, content: Readable | Buffer | null, metadata: Record<string, string | number>) => S3Object;
type S3ErrorCtor = new (code: string, message: string, detail?: Record<string, unknown>) => Error;

const S3rver = require('s3rver') as S3rverCtor;
const S3ObjectModel = require('s3rver/lib/models/object') as S3ObjectCtor;
const S3Error = require('s3rver/lib/models/error') as S3ErrorCtor;
const AWSAccount = require('s3rver/lib/models/account') as { registry: Map<string, unknown> };

const MIN_PART_BYTES = 5 * 1024 * 1024;

interface Options {
  readonly directory: string;
  readonly bucket: string;
  readonly faithful: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory: options.directory,
  silent: true,
  configureBuckets: [{ name: options.bucket }],
});

function makeFaithful(store: FilesystemStore): void {
  const uploadsDir = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');
  const tempDir = (bucket: string) => store.getResourcePath(bucket, undefined, 'tmp');

  // Whole objects only: write beside, then rename over the old one.
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    const tmp = join(tempDir(object.bucket), randomBytes(8).toString('hex'));
    await mkdir(dirname(tmp), { recursive: true });
    const md5 = createHash('md5');
    let size = 0;
    const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : (object.content ?? Readable.from([]));
    try {
      await pipeline(
        content,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            md5.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
      const digest = md5.digest('hex');
      await mkdir(dirname(objectPath), { recursive: true });
      await store.putMetadata(object.bucket, object.key, object.metadata, digest);
      await rename(tmp, objectPath);
      return { md5: digest, size };
    } finally {
      await rm(tmp, { force: true });
    }
  };

  // Reads go through the file they opened: a rename or unlink afterwards does not change their bytes.
  store.getObject = async (bucket, key, opts) => {
    const objectPath = store.getResourcePath(bucket, key, 'object');
    let fh;
    try {
      fh = await open(objectPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const s = await fh.stat();
    const md5 = await readFile(`${objectPath}.md5`, 'utf8').catch(() => '');
    const stored = await readFile(store.getResourcePath(bucket, key, 'metadata.json'), 'utf8')
      .then((t) => JSON.parse(t) as Record<string, string>)
      .catch(() => ({}));
    const metadata = { ...stored, etag: JSON.stringify(md5), 'last-modified': s.mtime.toUTCString(), 'content-length': s.size };
    const lastByte = Math.max(0, s.size - 1);
    const ranged = opts !== undefined && (opts.start !== undefined || opts.end !== undefined);
    const range = { start: opts?.start ?? 0, end: Math.min(opts?.end ?? Infinity, lastByte) };
    // A range of an empty object is unsatisfiable (416), as on S3.
    if (range.start < 0 || range.end < range.start || (ranged && (range.start > lastByte || s.size === 0))) {
      await fh.close();
      const object = new S3ObjectModel(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    const content = fh.createReadStream({ start: range.start, end: range.end, autoClose: true });
    const object = new S3ObjectModel(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  };

  const complete = store.putObjectMultipart.bind(store);
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const dir = join(uploadsDir(bucket), uploadId);
    const sorted = [...parts].sort((a, b) => a.number - b.number);
    for (const part of sorted.slice(0, -1)) {
      const size = (await stat(join(dir, String(part.number))).catch(() => null))?.size;
      if (size === undefined) throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found.');
      if (size < MIN_PART_BYTES) throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
    }
    return complete(bucket, uploadId, parts);
  };

  const xml = (ctx: KoaContext, status: number, body: string) => {
    ctx.status = status;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  };
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

  const OBJECT_SUFFIX = '._S3rver_object';
  /** Every key in a bucket (s3rver keeps `<dirs>/<name>._S3rver_object` files; its own folders start with `._S3rver_`). */
  async function allKeys(bucket: string): Promise<string[]> {
    const root = dirname(store.getResourcePath(bucket, 'x', 'object'));
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (e.isDirectory()) {
          if (!(rel === '' && e.name.startsWith('._S3rver_'))) await walk(join(dir, e.name), `${rel}${e.name}/`);
        } else if (e.name.endsWith(OBJECT_SUFFIX)) {
          out.push(`${rel}${e.name.slice(0, -OBJECT_SUFFIX.length)}`);
        }
      }
    };
    await walk(root, '');
    return out;
  }

  // ListObjectsV2 as S3 answers it: keys in byte order (s3rver lists in directory-walk order, which
  // breaks paging), common prefixes counted in a page and skipped whole by the continuation token.
  async function listObjectsV2(bucket: string, q: Record<string, string | undefined>): Promise<string> {
    const prefix = q['prefix'] ?? '';
    const delimiter = q['delimiter'] ?? '';
    const maxKeys = Math.min(1000, Number(q['max-keys'] ?? 1000));
    const token = q['continuation-token'];
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : (q['start-after'] ?? '');
    const keys = (await allKeys(bucket)).filter((k) => k.startsWith(prefix) && k > after).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const contents: string[] = [];
    const prefixes: string[] = [];
    let last = '';
    let truncated = false;
    for (const k of keys) {
      const idx = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
      const cp = idx >= 0 ? k.slice(0, idx + delimiter.length) : null;
      if (cp !== null && cp === prefixes[prefixes.length - 1]) continue;
      if (contents.length + prefixes.length === maxKeys) {
        truncated = true;
        break;
      }
      if (cp !== null) {
        prefixes.push(cp);
        last = `${cp}\uffff`;
        continue;
      }
      const objectPath = store.getResourcePath(bucket, k, 'object');
      const s = await stat(objectPath).catch(() => null);
      if (!s) continue;
      const md5 = await readFile(`${objectPath}.md5`, 'utf8').catch(() => '');
      contents.push(
        `<Contents><Key>${escape(k)}</Key><LastModified>${s.mtime.toISOString()}</LastModified><ETag>&quot;${md5}&quot;</ETag>` +
          `<Size>${s.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      );
      last = k;
    }
    return (
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${escape(bucket)}</Name><Prefix>${escape(prefix)}</Prefix>` +
      (delimiter ? `<Delimiter>${escape(delimiter)}</Delimiter>` : '') +
      `<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${contents.length + prefixes.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>` +
      (token ? `<ContinuationToken>${escape(token)}</ContinuationToken>` : '') +
      (truncated ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '') +
      contents.join('') +
      prefixes.map((p) => `<CommonPrefixes><Prefix>${escape(p)}</Prefix></CommonPrefixes>`).join('') +
      '</ListBucketResult>'
    );
  }

  // ListObjectsV2, AbortMultipartUpload and ListMultipartUploads (path-style requests), ahead of
  // s3rver's router.
  /** What s3rver's own authentication checks of a SigV4 request (which runs after this middleware): a known access key, a bucket that exists. */
  const refuse = async (ctx: KoaContext, bucket: string): Promise<boolean> => {
    const auth = String(ctx.headers['authorization'] ?? '');
    const accessKeyId = /Credential=([^/]+)\//.exec(auth)?.[1] ?? '';
    if (!AWSAccount.registry.has(accessKeyId)) {
      xml(ctx, 403, '<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>');
      return true;
    }
    if (!(await stat(dirname(store.getResourcePath(bucket, 'x', 'object'))).catch(() => null))?.isDirectory()) {
      xml(ctx, 404, '<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>');
      return true;
    }
    return false;
  };

  server.middleware.unshift(async (ctx, next) => {
    const [, bucket = '', ...rest] = ctx.path.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const ours =
      (ctx.method === 'DELETE' && key && typeof ctx.query['uploadId'] === 'string') ||
      (ctx.method === 'GET' && bucket && !key && (ctx.query['list-type'] === '2' || 'uploads' in ctx.query));
    if (ours && (await refuse(ctx, bucket))) return;
    if (ctx.method === 'DELETE' && key && typeof ctx.query['uploadId'] === 'string') {
      const dir = join(uploadsDir(bucket), ctx.query['uploadId'].replace(/[^0-9a-f]/g, ''));
      const owner = await readFile(join(dir, 'key'), 'utf8').catch(() => null);
      if (owner !== key) {
        xml(ctx, 404, '<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>');
        return;
      }
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = '';
      return;
    }
    if (ctx.method === 'GET' && bucket && !key && ctx.query['list-type'] === '2') {
      xml(ctx, 200, await listObjectsV2(bucket, ctx.query));
      return;
    }
    if (ctx.method === 'GET' && bucket && !key && 'uploads' in ctx.query) {
      const prefix = ctx.query['prefix'] ?? '';
      const uploads: string[] = [];
      for (const id of (await readdir(uploadsDir(bucket)).catch(() => [] as string[])).sort()) {
        const k = await readFile(join(uploadsDir(bucket), id, 'key'), 'utf8').catch(() => null);
        if (k !== null && k.startsWith(prefix)) uploads.push(`<Upload><Key>${escape(k)}</Key><UploadId>${id}</UploadId></Upload>`);
      }
      xml(
        ctx,
        200,
        `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${escape(bucket)}</Bucket>` +
          `<Prefix>${escape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`,
      );
      return;
    }
    await next();
  });
}

if (options.faithful) makeFaithful(server.store);
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void server.close().finally(() => process.exit(0));
  });
}
// Exit with the test that started us, even if it dies without stopping us.
process.stdin.resume();
process.stdin.once('end', () => process.exit(0));
