// The local temp area (src/storage/local-temp.ts): start-up removes what dead processes left and keeps
// what live ones (workers, replicas on a shared volume, a running prefetch or import) are writing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { LocalTemp } from '../../src/storage/local-temp.ts';

const HOST = hostname().replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 100);
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  return child.pid ?? assert.fail('no pid');
}

it('start-up removes the leftovers of dead processes only', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'nuget-proxy-local-temp-'));
  dirs.push(cacheDir);
  const tmp = join(cacheDir, 'tmp');
  const live = spawn('sleep', ['30']);
  try {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
    const entries: Record<string, { keep: boolean; age?: number; file?: boolean }> = {
      [`p-${HOST}-${await exitedPid()}`]: { keep: false },
      [`p-${HOST}-${live.pid}`]: { keep: true },
      [`p-${HOST}-${process.pid}`]: { keep: true }, // our own directory stays, emptied
      'p-other-host.example-77': { keep: true, age: 1 },
      'p-other-host.example-78': { keep: false, age: 7 },
      'import-young': { keep: true, age: 0.5 },
      'import-old': { keep: false, age: 2 },
      'abc123-loose.nupkg': { keep: false, file: true },
    };
    for (const [name, e] of Object.entries(entries)) {
      const path = join(tmp, name);
      if (e.file) await mkdir(tmp, { recursive: true }).then(() => writeFile(path, 'partial'));
      else {
        await mkdir(path, { recursive: true });
        await writeFile(join(path, 'partial.nupkg'), 'partial');
      }
      if (e.age !== undefined) await utimes(path, hoursAgo(e.age), hoursAgo(e.age));
    }
    const temp = new LocalTemp(cacheDir);
    const { removed } = await temp.init();
    const left = (await readdir(tmp)).sort();
    const expected = Object.entries(entries).filter(([, e]) => e.keep).map(([n]) => n).sort();
    assert.deepEqual(left, expected);
    assert.equal(removed, Object.keys(entries).length - expected.length + 1, 'our own directory was emptied and made again');
    assert.deepEqual(await readdir(temp.ownDir), [], 'our own directory starts empty');
    assert.ok(temp.path('x.nupkg').startsWith(`${temp.ownDir}/`), 'new temp files go to our own directory');
  } finally {
    live.kill();
  }
});
