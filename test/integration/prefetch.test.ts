// `nuget-proxy prefetch` against the real fake upstream: transitive closure over every framework's
// dependency group, NuGet's version picking, the metadata an offline restore needs, idempotence, resuming
// after a failure, the concurrency limit, failure reporting, pinning (--pin), and the real CLI's exit codes
// and output. The cache is read through the BlobStore (DiskBlobStore over the temp cache directory).

import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseConfig, type Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { readBlob } from '../../src/storage/blob-store.ts';
import { DiskBlobStore } from '../../src/storage/disk-blob-store.ts';
import { GENERATION_KEY, metadataKey, packageDirPrefix, packageKey } from '../../src/storage/layout.ts';
import { MetadataStore } from '../../src/storage/metadata-store.ts';
import { readPin } from '../../src/storage/pins.ts';
import { run } from '../../src/cli/commands.ts';
import { formatPrefetchSummary, prefetch, type PrefetchResult } from '../../src/prefetch/prefetch.ts';
import { Terminal } from '../../src/cli/progress.ts';
import { readSelection } from '../../src/prefetch/selection.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { runCli } from '../helpers/clients.ts';

let upstream: FakeUpstream;
const dirs: string[] = [];
const silent: Logger = createLogger({ level: 'silent', format: 'json' });

before(async () => {
  upstream = await startStandardFakeUpstream();
});

after(async () => {
  await upstream?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(prefix: string): Promise<string> {
  const d = await makeTempDir(prefix);
  dirs.push(d);
  return d;
}

function env(cacheDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_CACHE_DIR: cacheDir,
    NUGET_PROXY_UPSTREAM_RETRY_BASE_MS: '10',
    NUGET_PROXY_LOG_LEVEL: 'silent',
    ...extra,
  };
}

function prefetchConfig(cacheDir: string, args: string[] = [], extra: Record<string, string> = {}): Config {
  return parseConfig('prefetch', args, env(cacheDir, extra)).config;
}

async function writeList(dir: string, lines: readonly string[]): Promise<string> {
  const path = join(dir, 'packages.txt');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

function ids(r: PrefetchResult): string[] {
  return r.packages.map((p) => `${p.lowerId}/${p.lowerVersion}`);
}

async function exists(cacheDir: string, key: string): Promise<boolean> {
  return (await new DiskBlobStore(cacheDir).stat(key)) !== null;
}

async function anyUnder(cacheDir: string, prefix: string): Promise<boolean> {
  for await (const o of new DiskBlobStore(cacheDir).list(prefix)) if (o) return true;
  return false;
}

describe('prefetch of xunit and a package with a ranged dependency', () => {
  let work: string;
  let cacheDir: string;
  let first: PrefetchResult;

  before(async () => {
    work = await tempDir('prefetch');
    cacheDir = join(work, 'cache');
    const list = await writeList(work, ['# what the test projects use', 'xunit@2.9.3', 'Contoso.Dependent@1.0.0', 'Contoso.Paged@1.0.5']);
    upstream.resetLog();
    first = await prefetch(prefetchConfig(cacheDir, ['--selection', join(work, 'selection.json')]), [list], { log: silent });
  });

  it('fetches the transitive closure over every framework group', () => {
    assert.deepEqual(first.failures, []);
    assert.deepEqual(ids(first), [
      'contoso.dependent/1.0.0',
      // Lowest version in [1.0.0, 2.0.0): what restore picks, not the newest 1.1.0.
      'contoso.mixedcase.lib/1.0.0',
      'contoso.paged/1.0.5',
      'xunit.abstractions/2.0.3',
      // xunit asks for >= 1.18.0; upstream's lowest matching version is 1.26.0.
      'xunit.analyzers/1.26.0',
      'xunit.assert/2.9.3',
      'xunit.core/2.9.3',
      'xunit.extensibility.core/2.9.3',
      'xunit.extensibility.execution/2.9.3',
      'xunit/2.9.3',
    ]);
    assert.equal(first.downloaded, 10);
    assert.ok(first.bytesDownloaded > 1_000_000, `${first.bytesDownloaded} bytes`);
  });

  it('puts each .nupkg, its .sha512 and its .nuspec in the cache, and no other version', async () => {
    for (const p of first.packages) {
      for (const f of ['nupkg', 'sha512', 'nuspec'] as const) {
        assert.ok(await exists(cacheDir, packageKey(p.lowerId, p.lowerVersion, f)), `${p.lowerId} ${p.lowerVersion}: ${f}`);
      }
      assert.equal(await readPin(new DiskBlobStore(cacheDir), p.lowerId, p.lowerVersion), null, 'not pinned without --pin');
    }
    const real = await readFile('/opt/nuget/packages/xunit.core/2.9.3/xunit.core.2.9.3.nupkg');
    assert.ok(real.equals((await readBlob(new DiskBlobStore(cacheDir), packageKey('xunit.core', '2.9.3', 'nupkg'))) ?? Buffer.alloc(0)), 'byte-identical');
    assert.ok(!(await anyUnder(cacheDir, packageDirPrefix('contoso.mixedcase.lib', '1.1.0'))));
    assert.ok(!(await anyUnder(cacheDir, packageDirPrefix('contoso.paged', '1.0.6'))));
  });

  it('reports dependencies upstream does not have (netstandard1.x groups) without failing', () => {
    const missing = first.missingDependencies.map((m) => `${m.lowerId} ${m.range} <- ${m.requiredBy}`).sort();
    assert.ok(missing.length >= 1);
    assert.ok(missing.every((m) => m.startsWith('netstandard.library ')), missing.join('\n'));
    assert.ok(missing.some((m) => m.endsWith('<- xunit.abstractions 2.0.3')), missing.join('\n'));
  });

  it('stores the metadata an offline restore reads, under the keys the selection lists', async () => {
    const keys = new Set(first.metadataKeys);
    for (const k of [
      'svc:index',
      'vuln:index',
      'versions:xunit',
      'versions:xunit.analyzers',
      'versions:contoso.mixedcase.lib',
      'reg:semver2:xunit/index.json',
      'reg:gz-semver1:xunit/index.json',
      'reg:semver1:xunit/index.json',
      // 140 versions: the index refers to three separate page documents.
      'reg:semver2:contoso.paged/page/1.0.0/1.0.63.json',
      'reg:semver2:contoso.paged/page/1.0.64/1.0.127.json',
      'reg:semver2:contoso.paged/page/1.0.128/1.0.139.json',
    ])
      assert.ok(keys.has(k), k);
    assert.ok([...keys].filter((k) => k.startsWith('vuln:page:')).length >= 1, 'vulnerability pages');
    const blobs = new DiskBlobStore(cacheDir);
    const store = new MetadataStore({ blobs, memoryBytes: 1 << 20, redis: null, metrics: createMetrics({ defaultMetrics: false }), log: silent });
    try {
      for (const k of keys) {
        const entry = await store.getLocal(k);
        assert.equal(entry?.status, 200, `stored: ${k}`);
        assert.ok(await exists(cacheDir, metadataKey(k)), `in the blob store: ${k}`);
      }
      const versions = JSON.parse((await store.getLocal('versions:contoso.mixedcase.lib'))?.body ?? '{}') as { versions: string[] };
      assert.deepEqual(versions.versions, ['1.0.0', '1.1.0', '2.0.0'], 'the full flat list, not only what was fetched');
    } finally {
      await store.close();
    }
  });

  it('writes the selection file for export', async () => {
    const sel = await readSelection(join(work, 'selection.json'));
    assert.deepEqual(sel.packages.map((p) => `${p.lowerId}/${p.lowerVersion}`), ids(first));
    assert.deepEqual(sel.metadataKeys, first.metadataKeys);
  });

  it('bumps the cache generation so a proxy serving the directory drops its in-memory views', async () => {
    const stamp = (await readBlob(new DiskBlobStore(cacheDir), GENERATION_KEY))?.toString() ?? '';
    assert.match(stamp, new RegExp(`^\\d+ ${process.pid} `));
  });

  it('is idempotent: a second run asks upstream only about what it lacks, and downloads nothing', async () => {
    upstream.resetLog();
    const list = join(work, 'packages.txt');
    const second = await prefetch(prefetchConfig(cacheDir, ['--selection', join(work, 'selection2.json')]), [list], { log: silent });
    // Upstream 404s are remembered in memory (and Redis) only, never in the cache directory: a new
    // process asks about those again, and about nothing else.
    assert.deepEqual(
      upstream.requests().filter((r) => r.status !== 404).map((r) => r.path),
      [],
    );
    assert.equal(second.downloaded, 0);
    assert.equal(second.bytesDownloaded, 0);
    assert.deepEqual(ids(second), ids(first));
    assert.deepEqual(second.metadataKeys, first.metadataKeys);
  });
});

describe('prefetch failures', () => {
  it('lists an unknown package, a version upstream lacks and a bad input line; exit code 1', async () => {
    const work = await tempDir('prefetch-fail');
    const list = await writeList(work, ['Contoso.NoSuchPackage@1.0.0', 'Contoso.MixedCase.Lib@9.9.9', 'Contoso.FourPart@[3.0,4.0)', 'garbage line', 'Contoso.Tool@1.0.0']);
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const { config, positionals } = parseConfig('prefetch', [list], env(join(work, 'cache')));
    const code = await run('prefetch', config, positionals, { terminal: new Terminal(sink, false), out: sink, log: silent });
    assert.equal(code, 1);
    assert.match(out, /failures: {4}4/);
    assert.match(out, /contoso\.nosuchpackage@1\.0\.0 \(.*packages\.txt:1\): package 'contoso\.nosuchpackage' was not found upstream/);
    assert.match(out, /contoso\.mixedcase\.lib@9\.9\.9 .*: version 9\.9\.9 of 'contoso\.mixedcase\.lib' is not on upstream/);
    assert.match(out, /no version of 'contoso\.fourpart' on upstream matches \[3\.0,4\.0\)/);
    assert.match(out, /packages\.txt:4: 'garbage line' is not id@version/);
    // What could be fetched was fetched.
    assert.ok(await exists(join(work, 'cache'), packageKey('contoso.tool', '1.0.0', 'nupkg')));
  });

  it('resumes after an interrupted run: only what is missing is downloaded', async () => {
    const work = await tempDir('prefetch-resume');
    const cacheDir = join(work, 'cache');
    const list = await writeList(work, ['xunit@2.9.3']);
    upstream.addFault({ match: /\/xunit\.extensibility\.execution\.2\.9\.3\.nupkg$/, kind: 'status', status: 503 });
    try {
      const broken = await prefetch(prefetchConfig(cacheDir, [], { NUGET_PROXY_UPSTREAM_RETRIES: '0' }), [list], { log: silent });
      assert.equal(broken.failures.length, 1, JSON.stringify(broken.failures));
      assert.match(broken.failures[0]?.subject ?? '', /xunit\.extensibility\.execution/);
    } finally {
      upstream.clearFaults();
    }
    upstream.resetLog();
    const resumed = await prefetch(prefetchConfig(cacheDir), [list], { log: silent });
    assert.deepEqual(resumed.failures, []);
    assert.deepEqual(resumed.packages.filter((p) => p.downloaded).map((p) => p.lowerId), ['xunit.extensibility.execution']);
    assert.equal(upstream.count(/\.nupkg$/), 1);
    assert.equal(resumed.packages.length, 7);
  });

  it('keeps to --concurrency: with 1, package downloads never overlap', async () => {
    const work = await tempDir('prefetch-serial');
    const list = await writeList(work, ['Contoso.TwoPages@1.0.1', 'Contoso.TwoPages@1.0.2', 'Contoso.TwoPages@1.0.3', 'Contoso.Unlisted@1.0.0']);
    upstream.addFault({ match: /\.nupkg$/, kind: 'delay', ms: 150 });
    upstream.resetLog();
    try {
      const r = await prefetch(prefetchConfig(join(work, 'cache'), ['--concurrency', '1']), [list], { log: silent });
      assert.equal(r.packages.length, 4);
    } finally {
      upstream.clearFaults();
    }
    const starts = upstream.requests().filter((q) => q.path.endsWith('.nupkg')).map((q) => q.time).sort((a, b) => a - b);
    assert.equal(starts.length, 4);
    for (let i = 1; i < starts.length; i++) assert.ok((starts[i] ?? 0) - (starts[i - 1] ?? 0) >= 140, `downloads ${i - 1} and ${i} overlap`);
  });
});


describe('prefetch --pin', () => {
  it('pins every package version it resolves, cached ones included; NUGET_PROXY_PIN does the same; the summary says so', async () => {
    const work = await tempDir('prefetch-pin');
    const cacheDir = join(work, 'cache');
    const list = await writeList(work, ['Contoso.Dependent@1.0.0']);
    const plain = await prefetch(prefetchConfig(cacheDir), [list], { log: silent });
    assert.deepEqual(ids(plain), ['contoso.dependent/1.0.0', 'contoso.mixedcase.lib/1.0.0']);
    assert.equal(plain.pinned, 0);
    for (const p of plain.packages) assert.equal(await readPin(new DiskBlobStore(cacheDir), p.lowerId, p.lowerVersion), null);
    assert.doesNotMatch(formatPrefetchSummary(plain), /pinned/);

    const before = Date.now();
    const pinned = await prefetch(prefetchConfig(cacheDir, ['--pin']), [list], { log: silent });
    assert.equal(pinned.downloaded, 0, 'already cached');
    assert.equal(pinned.pinned, 2);
    for (const p of pinned.packages) {
      const pin = await readPin(new DiskBlobStore(cacheDir), p.lowerId, p.lowerVersion);
      assert.equal(pin?.reason, 'prefetch', `${p.lowerId} ${p.lowerVersion}`);
      assert.ok((pin?.at ?? 0) >= before);
    }
    assert.match(formatPrefetchSummary(pinned), /^ {2}pinned: {6}2 packages \(never evicted by retention\)$/m);

    const viaEnv = join(work, 'cache-env');
    const r = await prefetch(prefetchConfig(viaEnv, [], { NUGET_PROXY_PIN: 'true' }), [list], { log: silent });
    assert.equal(r.pinned, 2);
    assert.equal((await readPin(new DiskBlobStore(viaEnv), 'contoso.dependent', '1.0.0'))?.reason, 'prefetch');
  });
});

describe('the prefetch command line', () => {
  it('prints plain progress lines on stderr and the summary on stdout when not on a terminal; exit codes 0, 1, 2', async () => {
    const work = await tempDir('prefetch-cli');
    const good = join(work, 'good.txt');
    await writeFile(good, 'Contoso.Dependent@1.0.0\n');
    const bad = join(work, 'bad.txt');
    await writeFile(bad, 'Contoso.Dependent@1.0.0\nContoso.Missing@1.0.0\n');
    const e = { ...env(join(work, 'cache')), NUGET_PROXY_LOG_LEVEL: 'warn' };

    const ok = await runCli(['prefetch', good], e);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!ok.stderr.includes('\r'), 'no terminal control characters on a pipe');
    assert.match(ok.stderr, /^prefetch: 1 packages requested by 1 input files; concurrency 8$/m);
    assert.match(ok.stderr, /^prefetch: 2\/2 packages/m);
    assert.match(ok.stdout, /^prefetch summary$/m);
    assert.match(ok.stdout, /resolved: {4}2 packages \(2 downloaded, 0 already cached\)/);
    assert.match(ok.stdout, /failures: {4}0/);

    const failed = await runCli(['prefetch', '--concurrency', '2', bad], e);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /^prefetch: failed: contoso\.missing@1\.0\.0/m);
    assert.match(failed.stdout, /resolved: {4}2 packages \(0 downloaded, 2 already cached\)/);
    assert.match(failed.stdout, /contoso\.missing@1\.0\.0 .*was not found upstream/);

    const usage = await runCli(['prefetch'], e);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give at least one input/);
  });
});
