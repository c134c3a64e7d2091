// A real S3-compatible server for a test: s3rver (npm, in its own process, made faithful where it is not —
// see s3rver-process.ts) on 127.0.0.1 with a free port, a temp directory and one bucket; plus what a
// test needs to point a store or a whole proxy at it and to look for leftovers.

import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { makeTempDir } from './proxy.ts';

/** s3rver's built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
const REGION = 'us-east-1';
const ROOT = new URL('../..', import.meta.url).pathname;

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** s3rver's data directory (buckets are folders in it). */
  readonly directory: string;
  /** `--blob-store` and friends, as a user sets them, for a proxy storing under `prefix`. */
  proxyEnv(prefix: string): Record<string, string>;
  createStore(prefix: string, options?: { partBytes?: number }): S3BlobStore;
  /** Keys of multipart uploads begun and neither completed nor aborted (ListMultipartUploads). */
  incompleteUploads(prefix?: string): Promise<string[]>;
  /** SIGKILL: the server vanishes, as when its node dies. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The stores read credentials through the AWS SDK's default chain, from the process environment, so
 * that is where the test puts s3rver's account. The instance-metadata service (a link-local address) is
 * switched off: no test may reach beyond 127.0.0.1, even when a credential lookup falls through.
 */
export function useS3rverCredentials(): void {
  process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
  delete process.env['AWS_SESSION_TOKEN'];
  delete process.env['AWS_PROFILE'];
  process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
  // The SDK warns once per process that its 2027 releases will need Node 22 (we pin one that runs on 20).
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
}

export async function startS3(options: { bucket?: string; faithful?: boolean } = {}): Promise<TestS3> {
  useS3rverCredentials();
  const bucket = options.bucket ?? 'nuget-proxy-test';
  const directory = await makeTempDir('s3rver');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/helpers/s3rver-process.ts'), JSON.stringify({ directory, bucket, faithful: options.faithful ?? true })],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 30 s: ${stderr}`)), 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`s3rver said ${line} ${stderr}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}: ${stderr}`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const admin = new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  const shutdown = async (signal: NodeJS.Signals) => {
    admin.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    endpoint,
    bucket,
    directory,
    proxyEnv: (prefix) => ({
      NUGET_PROXY_BLOB_STORE: `s3://${bucket}/${prefix}`,
      NUGET_PROXY_S3_ENDPOINT: endpoint,
      NUGET_PROXY_S3_REGION: REGION,
      NUGET_PROXY_S3_FORCE_PATH_STYLE: 'true',
    }),
    createStore: (prefix, o = {}) =>
      new S3BlobStore({ bucket, prefix, endpoint, region: REGION, forcePathStyle: true, ...(o.partBytes ? { partBytes: o.partBytes } : {}) }),
    async incompleteUploads(prefix = '') {
      const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return (r.Uploads ?? []).map((u) => u.Key ?? '');
    },
    kill: () => shutdown('SIGKILL'),
    async stop() {
      await shutdown('SIGTERM');
      await rm(directory, { recursive: true, force: true });
    },
  };
}
