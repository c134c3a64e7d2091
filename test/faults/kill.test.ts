// kill -9 in the middle of work, then restart on the same cache directory: no partial package and no
// partial metadata object is ever visible, whatever the killed process left in its temp directory is
// removed at start-up, and the next request is answered correctly. The proxy runs as a real process.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { brokenMetadataFiles, filesUnder, tempFiles } from '../helpers/cache-files.ts';
import { startStandardFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildPackage, pseudoRandomBytes } from '../helpers/packages.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { startReplicas, type Replica } from '../helpers/replicas.ts';

const ROUNDS_PER_KIND = 5;
const PKG = { id: 'contoso.killfill', version: '1.0.0' };
const PKG_PATH = `/v3/flatcontainer/${PKG.id}/${PKG.version}/${PKG.id}.${PKG.version}.nupkg`;
const PKG_UPSTREAM = new RegExp(`${PKG.id}\\.${PKG.version.replace(/\./g, '\\.')}\\.nupkg$`);
/** Documents refreshed on every request (TTL 0): each answer rewrites its metadata object. */
const DOCUMENTS = [
  ...['contoso.tool', 'contoso.paged', 'contoso.twopages', 'contoso.unlisted', 'contoso.prerelease', 'contoso.vulnerable'].flatMap((id) => [
    `/v3/flatcontainer/${id}/index.json`,
    `/v3/registration/semver2/${id}/index.json`,
    `/v3/registration/gz-semver1/${id}/index.json`,
  ]),
  '/v3/registration/semver2/contoso.paged/page/1.0.0/1.0.63.json',
];

let upstream: FakeUpstream;
let workDir: string;
let cacheDir: string;
let pkgBytes: Buffer;
const running: Replica[] = [];

before(async () => {
  upstream = await startStandardFakeUpstream({ includeRealPackages: false });
  workDir = await makeTempDir('kill');
  cacheDir = join(workDir, 'cache');
  pkgBytes = buildPackage({ id: 'Contoso.KillFill', version: PKG.version, extraFiles: { 'content/blob.bin': pseudoRandomBytes(2 * 1024 * 1024, 11) }, storeExtraFiles: true });
  await writeFile(join(workDir, 'pkg.nupkg'), pkgBytes);
  await upstream.addPackage(join(workDir, 'pkg.nupkg'));
});

after(async () => {
  for (const r of running) await r.kill();
  await upstream?.stop();
});

async function start(): Promise<Replica> {
  const [replica] = await startReplicas(1, () => ({
    NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl,
    NUGET_PROXY_CACHE_DIR: cacheDir,
    NUGET_PROXY_VERSIONS_TTL_SECONDS: '0',
    NUGET_PROXY_REGISTRATION_TTL_SECONDS: '0',
    NUGET_PROXY_REWRITE_WORKERS: '0',
    // A killed filler's lock file holds the package for one lease; keep that short here.
    NUGET_PROXY_FILL_LEASE_SECONDS: '2',
  }));
  const r = replica ?? assert.fail('no replica');
  running.push(r);
  return r;
}

/** What a crash must never leave visible: a package file that is not the whole package, a metadata object cut short. */
async function assertNothingPartial(where: string): Promise<void> {
  for (const file of await filesUnder(join(cacheDir, 'packages'))) {
    if (file.endsWith(`${PKG.id}.${PKG.version}.nupkg`)) assert.ok((await readFile(file)).equals(pkgBytes), `${where}: partial package ${file}`);
  }
  assert.deepEqual(await brokenMetadataFiles(cacheDir), [], `${where}: metadata objects cut short`);
}

const leftByKills: number[] = [];

test(`kill -9 during package fills (${ROUNDS_PER_KIND}×): nothing partial is visible, the spool file is left for start-up to remove`, async () => {
  for (let round = 0; round < ROUNDS_PER_KIND; round++) {
    const replica = await start();
    // A slow download, so the kill lands while bytes are flowing into the spool file.
    const remove = upstream.addFault({ match: PKG_UPSTREAM, kind: 'throttle', bytesPerSecond: 512 * 1024 });
    try {
      const asked = upstream.count(PKG_UPSTREAM);
      const download = fetch(replica.url + PKG_PATH).then((r) => r.arrayBuffer()).catch(() => null);
      // Bytes are flowing once upstream saw the request (the download takes about 4 s).
      for (let i = 0; i < 200 && upstream.count(PKG_UPSTREAM) === asked; i++) await sleep(100);
      assert.ok(upstream.count(PKG_UPSTREAM) > asked, 'the fill started');
      await sleep(300 + round * 300);
      await replica.kill();
      await download;
    } finally {
      remove();
    }
    const left = await tempFiles(cacheDir);
    leftByKills.push(left.length);
    await assertNothingPartial(`after kill ${round + 1}`);
    // A killed fill never committed: no package visible.
    assert.equal((await filesUnder(join(cacheDir, 'packages', PKG.id))).filter((f) => f.endsWith('.nupkg')).length, 0);
  }
  assert.ok(leftByKills.some((n) => n > 0), `the kills landed while a spool file existed: ${leftByKills.join(', ')}`);
});

test(`kill -9 during metadata writes (${ROUNDS_PER_KIND}×): every metadata object is complete`, async () => {
  for (let round = 0; round < ROUNDS_PER_KIND; round++) {
    const replica = await start();
    let stop = false;
    // Every answer rewrites its document's metadata object (TTL 0: revalidated each time).
    const storm = Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let i = worker; !stop && i < 10_000; i += 8) {
          await fetch(replica.url + (DOCUMENTS[i % DOCUMENTS.length] as string)).then((r) => r.arrayBuffer()).catch(() => null);
        }
      }),
    );
    await sleep(600 + round * 150);
    await replica.kill();
    stop = true;
    await storm;
    leftByKills.push((await tempFiles(cacheDir)).length);
    await assertNothingPartial(`after metadata kill ${round + 1}`);
    assert.ok((await filesUnder(join(cacheDir, 'metadata'))).length > 0, 'metadata was being written');
  }
});

test('restart after the kills: start-up removes every temp file, and the next requests are answered correctly', async (t) => {
  const replica = await start();
  t.diagnostic(`temp files left by the kills (before the next start): ${leftByKills.join(', ')}`);
  assert.deepEqual(await tempFiles(cacheDir), [], 'start-up removed what the killed processes left');
  const res = await fetch(replica.url + PKG_PATH);
  assert.equal(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(pkgBytes), 'the package is whole');
  for (const path of DOCUMENTS) {
    const r = await fetch(replica.url + path);
    assert.equal(r.status, 200, path);
    JSON.parse(await r.text());
  }
  await replica.stop();
  assert.deepEqual(await tempFiles(cacheDir), []);
  await assertNothingPartial('at the end');
});
