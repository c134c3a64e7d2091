// The S3 blob store against the blob store compliance suite, on a real S3-compatible server (s3rver on
// 127.0.0.1, see test/helpers/s3.ts); then what is S3's own: error codes, credentials from the default
// chain (access keys, a web-identity token file), a description without secrets.

import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBlob, StorageError, writeBlob } from '../../src/storage/blob-store.ts';
import { MIN_PART_BYTES, S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { S3RVER_CREDENTIALS, startS3, type TestS3 } from '../helpers/s3.ts';
import { runBlobStoreCompliance } from './compliance.ts';

/** Runs `fn` with these environment variables set (undefined: removed), then puts them back. */
async function withEnv(changes: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(changes).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(changes);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

/** No credentials from the environment or the shared files (so only what a test adds counts). */
const NO_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_CONFIG_FILE: '/nonexistent/config',
};

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

runBlobStoreCompliance({
  name: 's3 (s3rver)',
  partBytes: MIN_PART_BYTES,
  flatMemory: true,
  // ifAbsent is a HEAD before commit: servers differ on conditional writes (s3rver ignores them).
  atomicIfAbsent: false,
  async open() {
    const s3 = await startS3();
    const store = s3.createStore('compliance/', { partBytes: MIN_PART_BYTES });
    return {
      store,
      leftovers: () => s3.incompleteUploads(),
      async close() {
        await store.close();
        await s3.stop();
      },
    };
  },
});

describe('S3BlobStore: failures and credentials', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startS3();
  });
  after(async () => {
    await s3?.stop();
  });

  const failsWith = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;

  it('describes itself by bucket, prefix and endpoint origin — never credentials', () => {
    const store = new S3BlobStore({ bucket: 'b-1', prefix: 'p/q/', endpoint: 'https://minio.example:9000/base', region: 'us-east-1', forcePathStyle: true });
    assert.equal(store.description, 's3://b-1/p/q/ at https://minio.example:9000');
    assert.equal(new S3BlobStore({ bucket: 'b-1', prefix: '', endpoint: null, region: 'eu-west-1', forcePathStyle: false }).description, 's3://b-1/');
  });

  it('an unknown access key is S3_ACCESS_DENIED for writes, reads and stats', async () => {
    await withEnv({ AWS_ACCESS_KEY_ID: 'NOT-AN-ACCOUNT' }, async () => {
      const store = s3.createStore('denied/');
      await assert.rejects(writeBlob(store, 'k', 'x'), failsWith('S3_ACCESS_DENIED'));
      await assert.rejects(store.openRead('k'), failsWith('S3_ACCESS_DENIED'));
      await assert.rejects(store.stat('k'), failsWith('S3_ACCESS_DENIED'));
      await assert.rejects(collect(store.list('')), failsWith('S3_ACCESS_DENIED'));
      await store.close();
    });
  });

  it('a missing bucket is S3_NO_SUCH_BUCKET for writes and listings', async () => {
    const store = new S3BlobStore({ bucket: 'no-such-bucket', prefix: '', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    await assert.rejects(writeBlob(store, 'k', 'x'), failsWith('S3_NO_SUCH_BUCKET'));
    await assert.rejects(collect(store.list('')), failsWith('S3_NO_SUCH_BUCKET'));
    await assert.rejects(store.openRead('k'), failsWith('S3_NO_SUCH_BUCKET'));
    await store.close();
  });

  it('no credentials anywhere is S3_NO_CREDENTIALS (and no instance-metadata lookup)', async () => {
    await withEnv(NO_CREDENTIALS, async () => {
      const store = s3.createStore('nocreds/');
      await assert.rejects(store.stat('k'), failsWith('S3_NO_CREDENTIALS'));
      await store.close();
    });
  });

  it('takes credentials from a web-identity token file (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, as on EKS)', async () => {
    const dir = await makeTempDir('web-identity');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'eyJ.test-web-identity-token.sig');
    const calls: URLSearchParams[] = [];
    // A stand-in for STS on 127.0.0.1: AssumeRoleWithWebIdentity hands out s3rver's account.
    const sts = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const params = new URLSearchParams(body || (req.url ?? '').split('?')[1]);
        calls.push(params);
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>${S3RVER_CREDENTIALS.accessKeyId}</AccessKeyId><SecretAccessKey>${S3RVER_CREDENTIALS.secretAccessKey}</SecretAccessKey>
<SessionToken>session-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/nuget-proxy/test</Arn><AssumedRoleId>AROATEST:test</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`);
      });
    });
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
    const env = {
      ...NO_CREDENTIALS,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/nuget-proxy',
      AWS_ROLE_SESSION_NAME: 'nuget-proxy-test',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${(sts.address() as AddressInfo).port}`,
    };
    try {
      await withEnv(env, async () => {
        const store = s3.createStore('web-identity/');
        await writeBlob(store, 'k', 'through a web identity');
        assert.equal(String(await readBlob(store, 'k')), 'through a web identity');
        await store.close();
      });
      assert.ok(calls.length >= 1, 'STS was asked');
      assert.equal(calls[0]?.get('Action'), 'AssumeRoleWithWebIdentity');
      assert.equal(calls[0]?.get('WebIdentityToken'), 'eyJ.test-web-identity-token.sig');
      assert.equal(calls[0]?.get('RoleArn'), 'arn:aws:iam::123456789012:role/nuget-proxy');
    } finally {
      await new Promise((resolve) => sts.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers from an S3 error to a StorageError code: 503 SlowDown, 500, 507, 403 quota, 404 bucket', async () => {
    let reply = { status: 503, code: 'SlowDown' };
    const requests: string[] = [];
    const fake = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        res.writeHead(reply.status, { 'content-type': 'application/xml' });
        res.end(req.method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${reply.code}</Code><Message>test</Message></Error>`);
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const store = new S3BlobStore({ bucket: 'bkt', prefix: '', endpoint, region: 'us-east-1', forcePathStyle: true });
    try {
      const cases: Array<[number, string, string]> = [
        [503, 'SlowDown', 'S3_UNAVAILABLE'],
        [500, 'InternalError', 'S3_UNAVAILABLE'],
        [507, 'XMinioStorageFull', 'S3_QUOTA_EXCEEDED'],
        [403, 'QuotaExceeded', 'S3_QUOTA_EXCEEDED'],
        [403, 'AccessDenied', 'S3_ACCESS_DENIED'],
        [404, 'NoSuchBucket', 'S3_NO_SUCH_BUCKET'],
        [400, 'InvalidRequest', 'S3_ERROR'],
      ];
      for (const [status, code, expected] of cases) {
        reply = { status, code };
        await assert.rejects(writeBlob(store, 'k', 'x'), failsWith(expected), `${status} ${code}`);
      }
      assert.ok(requests.every((r) => r.startsWith('PUT /bkt/k')), 'path-style requests');
    } finally {
      await store.close();
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it('a server that went away is S3_UNAVAILABLE', async () => {
    const gone = await startS3();
    const store = gone.createStore('gone/');
    await writeBlob(store, 'k', 'x');
    await gone.kill();
    await assert.rejects(store.stat('k'), failsWith('S3_UNAVAILABLE'));
    await assert.rejects(writeBlob(store, 'k2', 'x'), failsWith('S3_UNAVAILABLE'));
    await store.close();
    await gone.stop();
  });
});
