// Tests for src/nupkg.ts reading through a file someone else holds open (a fill's spool): the manifest and
// embedded files come out as from a path, a truncated or non-zip file is rejected, and the handle is left
// open for its owner.

import assert from 'node:assert/strict';
import { open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NupkgError, checkNupkgStructure, readNupkgFile, readNupkgManifest } from '../../src/nupkg.ts';
import { buildPackage, pseudoRandomBytes } from '../helpers/packages.ts';
import { makeTempDir } from '../helpers/proxy.ts';

let dir: string;
let good: string;
let bytes: Buffer;

before(async () => {
  dir = await makeTempDir('nupkg');
  // Content larger than one of the reader's 64 KiB stream chunks, stored after the nuspec.
  bytes = buildPackage({ id: 'Handle.Read', version: '1.2.3', readme: '# Handle.Read\n\nRead through an open file.\n', extraFiles: { 'content/data.bin': pseudoRandomBytes(300 * 1024, 7) } });
  good = join(dir, 'good.nupkg');
  await writeFile(good, bytes);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('reading a package through an open file handle', () => {
  it('reads the same manifest as from the path, and leaves the handle open', async () => {
    const handle = await open(good, 'r');
    try {
      const viaHandle = await readNupkgManifest({ handle, size: bytes.length });
      const viaPath = await readNupkgManifest(good);
      assert.equal(viaHandle.nuspec.id, 'Handle.Read');
      assert.equal(viaHandle.nuspec.fullVersion, '1.2.3');
      assert.deepEqual(viaHandle.nuspecXml, viaPath.nuspecXml);
      // Still open: a read through it works after the zip was closed.
      const head = Buffer.alloc(4);
      const { bytesRead } = await handle.read(head, 0, 4, 0);
      assert.equal(bytesRead, 4);
      assert.deepEqual(head, bytes.subarray(0, 4));
    } finally {
      await handle.close();
    }
  });

  it('reads entries larger than a stream chunk, and checks the whole structure', async () => {
    const handle = await open(good, 'r');
    try {
      const readme = await readNupkgFile({ handle, size: bytes.length }, 'README.md');
      assert.equal(readme?.toString('utf8'), '# Handle.Read\n\nRead through an open file.\n');
      const data = await readNupkgFile({ handle, size: bytes.length }, 'content/data.bin');
      assert.ok(data);
      assert.deepEqual(data, pseudoRandomBytes(300 * 1024, 7));
      const structure = await checkNupkgStructure({ handle, size: bytes.length });
      assert.equal(structure.nuspec.id, 'Handle.Read');
      assert.ok(structure.entries >= 3);
    } finally {
      await handle.close();
    }
  });

  it('reads a small package (all of it within the end of the file yauzl reads first) as from the path', async () => {
    const small = buildPackage({ id: 'Handle.Small', version: '0.1.0', readme: 'small readme' });
    assert.ok(small.length < 16 * 1024);
    const path = join(dir, 'small.nupkg');
    await writeFile(path, small);
    const handle = await open(path, 'r');
    try {
      const m = await readNupkgManifest({ handle, size: small.length });
      assert.deepEqual(m.nuspecXml, (await readNupkgManifest(path)).nuspecXml);
      assert.equal(m.nuspec.id, 'Handle.Small');
      assert.equal((await readNupkgFile({ handle, size: small.length }, 'README.md'))?.toString('utf8'), 'small readme');
    } finally {
      await handle.close();
    }
  });

  it('rejects a truncated package and a file that is not a zip, leaving the handle open', async () => {
    const truncated = join(dir, 'truncated.nupkg');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
    const notZip = join(dir, 'not-zip.nupkg');
    await writeFile(notZip, pseudoRandomBytes(5000, 3));
    for (const path of [truncated, notZip]) {
      const handle = await open(path, 'r');
      try {
        const { size } = await handle.stat();
        await assert.rejects(readNupkgManifest({ handle, size }), NupkgError);
        const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, 0);
        assert.equal(bytesRead, 1);
      } finally {
        await handle.close();
      }
    }
  });

  it('fails cleanly when told the file is longer than it is', async () => {
    const handle = await open(good, 'r');
    try {
      await assert.rejects(readNupkgManifest({ handle, size: bytes.length + 10 }), NupkgError);
    } finally {
      await handle.close();
    }
  });
});
