// The cache commands (`nuget-proxy cache list|stats|verify|purge|pin|unpin`) on a cache a real proxy filled
// from the fake upstream: first every rule on a copy in the in-memory test double (fast, and it shows the
// commands use only the BlobStore interface), then on the disk store and on S3 (s3rver) while two proxies
// run on the store — one online, one offline — which see quarantines and purges within a second and fill a
// quarantined package again; and the real command line with --json.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { CacheStats } from '../../src/cache-admin/report.ts';
import type { VerifyResult, VersionCheck } from '../../src/cache-admin/verify.ts';
import { runCacheCommand, type ListJson, type PinJson, type PurgeJson, type VersionJson } from '../../src/cli/cache.ts';
import { Terminal } from '../../src/cli/progress.ts';
import { parseConfig, type CacheCommand } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { Sweeper } from '../../src/retention/sweeper.ts';
import { readBlob, writeBlob, type BlobStore } from '../../src/storage/blob-store.ts';
import { createBlobStore } from '../../src/storage/create.ts';
import { GENERATION_KEY, packageKey } from '../../src/storage/layout.ts';
import { readPin } from '../../src/storage/pins.ts';
import { runCli } from '../helpers/clients.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { MemoryBlobStore } from '../helpers/memory-blob-store.ts';
import { makeTempDir, startProxy, type TestProxy } from '../helpers/proxy.ts';
import { S3RVER_CREDENTIALS, startS3, type TestS3 } from '../helpers/s3.ts';

/** What the proxy fills before each suite: four versions of three packages. */
const FILLED: ReadonlyArray<readonly [string, string]> = [
  ['contoso.mixedcase.lib', '1.1.0'],
  ['contoso.paged', '1.0.7'],
  ['contoso.paged', '1.0.8'],
  ['contoso.fourpart', '1.2.3.4'],
];
const DAY_MS = 86_400_000;

let upstream: FakeUpstream;

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
});

after(async () => {
  await upstream?.stop();
});

const nupkgPath = (id: string, version: string) => `/v3/flatcontainer/${id}/${version}/${id}.${version}.nupkg`;

async function fill(proxy: TestProxy): Promise<void> {
  for (const [id, version] of FILLED) {
    const r = await fetch(proxy.url + nupkgPath(id, version));
    assert.equal(r.status, 200, `${id} ${version}`);
    await r.arrayBuffer();
  }
  await proxy.proxy.flat.drain();
  await proxy.proxy.access.flush();
}

/** What each command prints with --json. */
interface Documents {
  'cache list': ListJson;
  'cache stats': CacheStats;
  'cache verify': VerifyResult;
  'cache purge': PurgeJson;
  'cache pin': PinJson;
  'cache unpin': PinJson;
}

interface CommandRun<C extends CacheCommand> {
  readonly code: number;
  readonly out: string;
  /** The --json document (for a human run: the same command's document, run again with --json is not done; check `out`). */
  readonly json: Documents[C];
}

/** Runs a cache command the way the CLI does (parseConfig, then the command), printing JSON unless `human`. */
async function cache<C extends CacheCommand>(
  command: C,
  argv: string[],
  env: Record<string, string>,
  options: { blobs?: BlobStore; nowMs?: number; human?: boolean } = {},
): Promise<CommandRun<C>> {
  const { config, positionals } = parseConfig(command, options.human ? argv : ['--json', ...argv], env);
  let out = '';
  const code = await runCacheCommand(command, config, positionals, {
    terminal: Terminal.silent(),
    out: { write: (t: string) => (out += t) },
    ...(options.blobs ? { blobs: options.blobs } : {}),
    ...(options.nowMs !== undefined ? { nowMs: options.nowMs } : {}),
  });
  return { code, out, json: (options.human ? {} : JSON.parse(out)) as Documents[C] };
}

const versionsOf = (doc: { versions: readonly VersionJson[] }) => doc.versions.map((v) => `${v.id}@${v.version}`);
const names = (versions: readonly VersionJson[]) => versionsOf({ versions });

async function flipByte(blobs: BlobStore, key: string): Promise<void> {
  const data = (await readBlob(blobs, key)) as Buffer;
  const copy = Buffer.from(data);
  const at = Math.floor(copy.length / 2);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  await writeBlob(blobs, key, copy);
}

function sha512Base64(data: Buffer): string {
  return createHash('sha512').update(data).digest('base64');
}

describe('cache commands: the rules (on a copy in the in-memory test double)', () => {
  let blobs: MemoryBlobStore;
  const env = { NUGET_PROXY_CACHE_DIR: '/nonexistent-the-store-is-passed-in' };
  const run = <C extends CacheCommand>(command: C, argv: string[] = [], options: { nowMs?: number; human?: boolean } = {}) => cache(command, argv, env, { ...options, blobs });

  before(async () => {
    const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
    try {
      await fill(proxy);
      // One fill left only its .sha512 (a crash before the .nupkg): an incomplete version.
      await writeBlob(proxy.proxy.blobs, packageKey('contoso.crashed', '1.0.0', 'sha512'), 'x');
      blobs = new MemoryBlobStore('cache-commands');
      for await (const o of proxy.proxy.blobs.list('')) await writeBlob(blobs, o.key, (await readBlob(proxy.proxy.blobs, o.key)) as Buffer);
    } finally {
      await proxy.dispose();
    }
  });

  it('list: every held version in id and version order, with sizes, fill and last-served times; patterns select', async () => {
    const all = await run('cache list');
    assert.equal(all.code, 0);
    assert.deepEqual(versionsOf(all.json), ['contoso.fourpart@1.2.3.4', 'contoso.mixedcase.lib@1.1.0', 'contoso.paged@1.0.7', 'contoso.paged@1.0.8']);
    for (const v of all.json.versions) {
      assert.ok(v.bytes > v.nupkgBytes && v.nupkgBytes > 100, JSON.stringify(v));
      assert.ok(Date.parse(v.filledAt ?? '') > Date.now() - DAY_MS, 'filledAt is an ISO time');
      assert.ok(Date.parse(v.lastServedAt ?? '') > Date.now() - DAY_MS, 'served through the proxy, recorded by its access log');
      assert.equal(v.pinned, false);
      assert.equal(v.source, 'default', 'filled from the one upstream (its source marker)');
      assert.deepEqual(v.files, ['nupkg', 'nuspec', 'sha512', 'source']);
    }
    assert.deepEqual(versionsOf((await run('cache list', ['Contoso.Paged@1.0.*'])).json), ['contoso.paged@1.0.7', 'contoso.paged@1.0.8']);
    assert.deepEqual(versionsOf((await run('cache list', ['*@1.2.3.4', 'CONTOSO.MIXEDCASE.LIB'])).json), ['contoso.fourpart@1.2.3.4', 'contoso.mixedcase.lib@1.1.0']);
    assert.deepEqual(versionsOf((await run('cache list', ['contoso.mixedcase.lib@1.1'])).json), ['contoso.mixedcase.lib@1.1.0'], 'a version matches in its normalized form');
    assert.deepEqual(versionsOf((await run('cache list', ['no.such.package'])).json), []);
  });

  it('list prints a table for people', async () => {
    const r = await run('cache list', ['contoso.paged'], { human: true });
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID +VERSION +SIZE +FILLED \(UTC\) +LAST SERVED +UPSTREAM +PIN$/);
    assert.match(lines[1] ?? '', /^contoso\.paged +1\.0\.7 +\d+(\.\d)? KB +\d{4}-\d\d-\d\d \d\d:\d\d +(just now|\d+ min ago) +default$/);
    assert.match(lines.at(-1) ?? '', /^2 versions of 1 package, [\d.]+ (B|KB) in memory:\/\/cache-commands\/$/);
  });

  it('refuses a bad pattern as a usage error', async () => {
    await assert.rejects(run('cache list', ['contoso/../x']), (err: Error & { exitCode?: number }) => err.exitCode === 2 && /not a package id pattern/.test(err.message));
    await assert.rejects(run('cache purge', ['contoso.paged@1.0.0.0.0']), /'1\.0\.0\.0\.0' is not a valid NuGet version/);
    await assert.rejects(run('cache purge'), /'cache purge' needs a pattern/);
    await assert.rejects(run('cache unpin'), /'cache unpin' needs at least one pattern/);
  });

  it('stats: totals per area, incomplete versions, the largest packages', async () => {
    const { json, code } = await run('cache stats');
    assert.equal(code, 0);
    assert.equal(json.storage, 'memory://cache-commands/');
    assert.equal(json.packages, 3);
    assert.equal(json.versions, 4);
    assert.equal(json.pinnedVersions, 0);
    assert.equal(json.incompleteVersions, 1);
    assert.ok(json.metadata.objects > 0 && json.metadata.bytes > 0, 'the version lists and service index the fills fetched');
    assert.equal(json.quotaBytes, json.packageBytes + json.metadata.bytes);
    assert.deepEqual(json.unusedVersions, { days30: 0, days90: 0 });
    assert.equal(json.largest[0]?.lowerId, 'contoso.paged');
    assert.equal(json.largest[0]?.versions, 2);
    const future = await run('cache stats', [], { nowMs: Date.now() + 40 * DAY_MS });
    assert.deepEqual(future.json.unusedVersions, { days30: 4, days90: 0 });
    const human = await run('cache stats', [], { human: true });
    assert.match(human.out, /^versions: +4 \(0 pinned, plus 1 incomplete\)$/m);
  });

  it('verify: a sound cache is all ok (exit 0)', async () => {
    const r = await run('cache verify');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.json.counts, { ok: 4, damaged: 0, unverified: 0, error: 0, gone: 0 });
    assert.equal(r.json.checked, 4);
    assert.equal(r.json.incomplete, 1);
    assert.deepEqual(r.json.findings, []);
  });

  it('verify finds a changed byte, a file that is no zip, a package under the wrong name, and a missing .sha512', async () => {
    const key = (id: string, v: string, f: 'nupkg' | 'sha512') => packageKey(id, v, f);
    await flipByte(blobs, key('contoso.paged', '1.0.8', 'nupkg'));
    // Not a zip, though its .sha512 matches (a fill can never write that; a disk fault or a hand can).
    const garbage = Buffer.from('this is not a zip file at all');
    await writeBlob(blobs, key('contoso.fourpart', '1.2.3.4', 'nupkg'), garbage);
    await writeBlob(blobs, key('contoso.fourpart', '1.2.3.4', 'sha512'), sha512Base64(garbage));
    // Another package's bytes under this name, its .sha512 matching too.
    const other = (await readBlob(blobs, key('contoso.paged', '1.0.7', 'nupkg'))) as Buffer;
    const mixedKey = key('contoso.mixedcase.lib', '1.1.0', 'nupkg');
    const original = (await readBlob(blobs, mixedKey)) as Buffer;
    await writeBlob(blobs, mixedKey, other);
    await writeBlob(blobs, key('contoso.mixedcase.lib', '1.1.0', 'sha512'), sha512Base64(other));
    await blobs.delete(key('contoso.paged', '1.0.7', 'sha512'));

    const r = await run('cache verify');
    assert.equal(r.code, 1, 'damage found');
    assert.deepEqual(r.json.counts, { ok: 0, damaged: 3, unverified: 1, error: 0, gone: 0 });
    const finding = (id: string, status = 'damaged'): VersionCheck => {
      const f = r.json.findings.find((x) => x.lowerId === id && x.status === status);
      assert.ok(f, `${id} ${status}`);
      return f;
    };
    assert.match(finding('contoso.paged').problems.join(), /SHA-512 differs from its \.sha512 record/);
    assert.equal(finding('contoso.paged').lowerVersion, '1.0.8');
    assert.match(finding('contoso.fourpart').problems.join(), /not a valid zip/);
    assert.match(finding('contoso.mixedcase.lib').problems.join(), /its \.nuspec names Contoso\.Paged 1\.0\.7, not contoso\.mixedcase\.lib 1\.1\.0/);
    assert.equal(finding('contoso.paged', 'unverified').lowerVersion, '1.0.7');
    // Only reported: nothing moved.
    assert.ok(await blobs.stat(key('contoso.paged', '1.0.8', 'nupkg')));
    const human = await run('cache verify', [], { human: true });
    assert.match(human.out, /^contoso\.paged +1\.0\.8 +damaged +SHA-512 differs/m);
    assert.match(human.out, /run again with --quarantine/);
    await writeBlob(blobs, mixedKey, original);
    await writeBlob(blobs, key('contoso.mixedcase.lib', '1.1.0', 'sha512'), sha512Base64(original));
  });

  it('verify --quarantine moves the damaged versions to quarantine/ (the .nupkg out of packages/) and bumps the generation', async () => {
    const before = (await blobs.stat(GENERATION_KEY))?.etag;
    const r = await run('cache verify', ['--quarantine']);
    assert.equal(r.code, 1);
    assert.equal(r.json.quarantined, 2);
    const folder = r.json.findings.find((f) => f.lowerId === 'contoso.paged' && f.status === 'damaged')?.quarantinedTo ?? '';
    assert.match(folder, /^quarantine\/\d{8}T\d{6}Z\/contoso\.paged\/1\.0\.8\/$/);
    assert.equal(await blobs.stat(packageKey('contoso.paged', '1.0.8', 'nupkg')), null);
    assert.equal(await blobs.stat(packageKey('contoso.paged', '1.0.8', 'nuspec')), null);
    const moved: string[] = [];
    for await (const o of blobs.list(folder)) moved.push(o.key.slice(folder.length));
    assert.deepEqual(moved.sort(), ['contoso.paged.1.0.8.nupkg', 'contoso.paged.1.0.8.nupkg.sha512', 'contoso.paged.nuspec', 'source']);
    assert.notEqual((await blobs.stat(GENERATION_KEY))?.etag, before, 'running proxies are told');
    assert.deepEqual(versionsOf((await run('cache list')).json), ['contoso.mixedcase.lib@1.1.0', 'contoso.paged@1.0.7']);
    const again = await run('cache verify');
    assert.equal(again.code, 0, 'only the unverified one is left, and that is no damage');
    assert.equal((await run('cache stats')).json.quarantine.objects, 8, 'four files each');
  });

  it('pin and unpin: pins exempt versions from retention; unmatched patterns exit 1', async () => {
    const pinned = await run('cache pin', ['contoso.mixedcase.lib', 'no.such.package']);
    assert.equal(pinned.code, 1, 'a pattern matched nothing');
    assert.deepEqual(names(pinned.json.changed), ['contoso.mixedcase.lib@1.1.0']);
    assert.deepEqual(pinned.json.unmatched, ['no.such.package']);
    assert.equal((await readPin(blobs, 'contoso.mixedcase.lib', '1.1.0'))?.reason, 'manual');
    const twice = await run('cache pin', ['contoso.mixedcase.lib@1.1.0']);
    assert.equal(twice.code, 0);
    assert.equal(twice.json.changed.length, 0);
    assert.equal(twice.json.unchanged.length, 1);
    assert.equal((await run('cache list', ['contoso.mixedcase.lib'])).json.versions[0]?.pinned, true);
    // A sweep with a one-byte quota evicts everything it may: not the pinned version.
    const silent = createLogger({ level: 'silent', format: 'json' });
    const sweep = () => new Sweeper({ blobs, log: silent, metrics: createMetrics({ defaultMetrics: false }), policy: { maxBytes: 1, evictUnusedMs: null, graceMs: 0 } }).sweep();
    await sweep();
    assert.deepEqual(versionsOf((await run('cache list')).json), ['contoso.mixedcase.lib@1.1.0']);
    const unpinned = await run('cache unpin', ['contoso.*']);
    assert.equal(unpinned.code, 0);
    assert.equal(unpinned.json.changed[0]?.pinned, false);
    assert.equal(await readPin(blobs, 'contoso.mixedcase.lib', '1.1.0'), null);
    await sweep();
    assert.deepEqual(versionsOf((await run('cache list')).json), [], 'unpinned, retention evicts it');
  });
});

describe('cache purge (in-memory test double)', () => {
  let blobs: MemoryBlobStore;
  const env = { NUGET_PROXY_CACHE_DIR: '/nonexistent-the-store-is-passed-in' };
  const run = <C extends CacheCommand>(command: C, argv: string[] = [], options: { nowMs?: number; human?: boolean } = {}) => cache(command, argv, env, { ...options, blobs });

  before(async () => {
    const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
    try {
      await fill(proxy);
      blobs = new MemoryBlobStore('purge');
      for await (const o of proxy.proxy.blobs.list('')) await writeBlob(blobs, o.key, (await readBlob(proxy.proxy.blobs, o.key)) as Buffer);
    } finally {
      await proxy.dispose();
    }
  });

  it('--dry-run shows what would go and deletes nothing', async () => {
    const r = await run('cache purge', ['contoso.paged', '--dry-run']);
    assert.equal(r.code, 0);
    assert.equal(r.json.dryRun, true);
    assert.deepEqual(names(r.json.purged), ['contoso.paged@1.0.7', 'contoso.paged@1.0.8']);
    assert.ok(r.json.bytes > 0);
    assert.equal((await run('cache list')).json.versions.length, 4);
    assert.match((await run('cache purge', ['contoso.paged', '--dry-run'], { human: true })).out, /^would purge 2 versions of 1 package, .*\ndry run: nothing was deleted$/m);
  });

  it('by pattern: the version\'s files go, the .nupkg first; the generation is bumped', async () => {
    const before = (await blobs.stat(GENERATION_KEY))?.etag;
    const r = await run('cache purge', ['contoso.paged@1.0.7']);
    assert.deepEqual(names(r.json.purged), ['contoso.paged@1.0.7']);
    for (const f of ['nupkg', 'nuspec', 'sha512'] as const) assert.equal(await blobs.stat(packageKey('contoso.paged', '1.0.7', f)), null, f);
    assert.notEqual((await blobs.stat(GENERATION_KEY))?.etag, before);
  });

  it('by age: --unused-days purges what was neither served nor filled for that long, and keeps pinned versions unless --include-pinned', async () => {
    await run('cache pin', ['contoso.fourpart']);
    assert.equal((await run('cache purge', ['--unused-days', '30'])).json.purged.length, 0, 'everything was used today');
    const later = Date.now() + 40 * DAY_MS;
    const r = await run('cache purge', ['--unused-days', '30'], { nowMs: later });
    assert.deepEqual(names(r.json.purged), ['contoso.mixedcase.lib@1.1.0', 'contoso.paged@1.0.8']);
    assert.deepEqual(names(r.json.keptPinned), ['contoso.fourpart@1.2.3.4']);
    assert.match((await run('cache purge', ['*', '--dry-run'], { human: true })).out, /kept 1 pinned version \(contoso\.fourpart@1\.2\.3\.4\); add --include-pinned/);
    const all = await run('cache purge', ['*', '--include-pinned']);
    assert.deepEqual(names(all.json.purged), ['contoso.fourpart@1.2.3.4']);
    assert.equal((await run('cache stats')).json.versions, 0);
  });
});

/**
 * The same commands on a real backend while proxies run on it: `store` says how a proxy and the commands
 * reach it (a cache directory, or an S3 prefix), `cli` how the real command line gets there.
 */
function onRunningProxies(name: string, setup: () => Promise<{ env: Record<string, string>; cliEnv: Record<string, string>; cleanup: () => Promise<void> }>) {
  describe(`cache commands on ${name}, with proxies running on the store`, () => {
    let online: TestProxy;
    let offline: TestProxy;
    let env: Record<string, string>;
    let cliEnv: Record<string, string>;
    let cleanup: () => Promise<void>;
    let tool: BlobStore;

    before(async () => {
      ({ env, cliEnv, cleanup } = await setup());
      online = await startProxy({ ...env, NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl });
      await fill(online);
      // A second proxy on the same store, offline: its version lists come from what the store holds.
      offline = await startProxy({ ...env, NUGET_PROXY_OFFLINE: 'true' }, env['NUGET_PROXY_CACHE_DIR'] ? { cacheDir: env['NUGET_PROXY_CACHE_DIR'] } : {});
      // The store as another process opens it (to damage a package, as a disk fault would).
      tool = await createBlobStore(parseConfig('cache stats', [], env).config);
    });

    after(async () => {
      await tool?.close();
      await offline?.stop();
      await online?.stop();
      await cleanup?.();
    });

    const offlineVersions = async (id: string): Promise<string[]> => {
      const r = await fetch(`${offline.url}/v3/flatcontainer/${id}/index.json`);
      return r.status === 200 ? ((await r.json()) as { versions: string[] }).versions : [];
    };

    /** Polls (bounded) until the offline proxy's version list of `id` is `expected`. */
    const offlineListSettles = async (id: string, expected: string[]): Promise<void> => {
      const deadline = Date.now() + 10_000;
      let got = await offlineVersions(id);
      while (JSON.stringify(got) !== JSON.stringify(expected) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        got = await offlineVersions(id);
      }
      assert.deepEqual(got, expected);
    };

    it('list and stats read what the proxies filled and served', async () => {
      const list = await cache('cache list', [], env);
      assert.deepEqual(versionsOf(list.json), ['contoso.fourpart@1.2.3.4', 'contoso.mixedcase.lib@1.1.0', 'contoso.paged@1.0.7', 'contoso.paged@1.0.8']);
      assert.ok(list.json.versions.every((v) => v.lastServedAt !== null));
      assert.equal(list.json.storage, tool.description);
      const stats = await cache('cache stats', [], env);
      assert.equal(stats.json.versions, 4);
      assert.equal(stats.json.packages, 3);
      await offlineListSettles('contoso.paged', ['1.0.7', '1.0.8']);
    });

    it('verify --quarantine takes a damaged package out of service at once; the online proxy fills it again from upstream', async () => {
      await flipByte(tool, packageKey('contoso.paged', '1.0.8', 'nupkg'));
      const found = await cache('cache verify', [], env);
      assert.equal(found.code, 1);
      assert.equal(found.json.counts.damaged, 1);
      const q = await cache('cache verify', ['--quarantine', '--concurrency', '2'], env);
      assert.equal(q.json.quarantined, 1);
      await offlineListSettles('contoso.paged', ['1.0.7']);
      const path = nupkgPath('contoso.paged', '1.0.8');
      const fetchesBefore = upstream.count(path.replace('/v3/flatcontainer/', '/v3-flatcontainer/'));
      const again = await fetch(online.url + path);
      assert.equal(again.status, 200);
      const body = Buffer.from(await again.arrayBuffer());
      const fromUpstream = Buffer.from(await (await fetch(upstream.url + path.replace('/v3/flatcontainer/', '/v3-flatcontainer/'))).arrayBuffer());
      assert.ok(body.equals(fromUpstream), 'the sound package again');
      assert.equal(upstream.count(path.replace('/v3/flatcontainer/', '/v3-flatcontainer/')), fetchesBefore + 2, 'filled again (and fetched once by this test)');
      assert.equal((await cache('cache verify', [], env)).code, 0);
      assert.ok((await cache('cache stats', [], env)).json.quarantine.objects >= 3);
    });

    it('purge takes versions out of the running proxies\' version lists', async () => {
      const r = await cache('cache purge', ['contoso.paged@1.0.7'], env);
      assert.equal(r.json.purged.length, 1);
      await offlineListSettles('contoso.paged', ['1.0.8']);
      assert.equal((await fetch(offline.url + nupkgPath('contoso.paged', '1.0.7'))).status, 404);
    });

    it('the real command line: cache list --json, cache pin', async () => {
      const list = await runCli(['cache', 'list', '--json', 'contoso.*'], cliEnv, 120_000);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(versionsOf(JSON.parse(list.stdout) as ListJson), [
        'contoso.fourpart@1.2.3.4',
        'contoso.mixedcase.lib@1.1.0',
        'contoso.paged@1.0.8',
      ]);
      const pin = await runCli(['cache', 'pin', 'contoso.fourpart@1.2.3.4'], cliEnv, 120_000);
      assert.equal(pin.code, 0, pin.stderr);
      assert.equal(pin.stdout.trim(), 'pinned contoso.fourpart 1.2.3.4');
      assert.equal((await readPin(tool, 'contoso.fourpart', '1.2.3.4'))?.reason, 'manual');
    });
  });
}

onRunningProxies('the disk store', async () => {
  const cacheDir = await makeTempDir('cache-commands');
  const env = { NUGET_PROXY_CACHE_DIR: cacheDir };
  return { env, cliEnv: env, cleanup: () => rm(cacheDir, { recursive: true, force: true }) };
});

let s3: TestS3 | undefined;
onRunningProxies('S3 (s3rver)', async () => {
  s3 = await startS3();
  const cacheDir = await makeTempDir('cache-commands-s3');
  const env = { ...s3.proxyEnv('cache-commands'), NUGET_PROXY_CACHE_DIR: cacheDir };
  const cliEnv = {
    ...env,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  return {
    env,
    cliEnv,
    cleanup: async () => {
      await s3?.stop();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
});

describe('cache commands without a cache', () => {
  it('refuse a --cache-dir that does not exist instead of reporting an empty cache', async () => {
    await assert.rejects(cache('cache list', [], { NUGET_PROXY_CACHE_DIR: '/nonexistent/nuget-proxy-cache' }), /there is no cache at \/nonexistent\/nuget-proxy-cache/);
  });
});
