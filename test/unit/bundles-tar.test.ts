// Tests for the bundle tar writer and reader (src/bundles/tar.ts): round trips (long and non-ASCII paths via
// pax records), compatibility with the system `tar`, and refusal of corrupt, truncated and non-file entries.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TarError, TarReader, TarWriter } from '../../src/bundles/tar.ts';
import { makeTempDir } from '../helpers/proxy.ts';

async function pack(entries: ReadonlyArray<{ path: string; data: Buffer }>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const writer = new TarWriter({ write: async (c) => void chunks.push(Buffer.from(c)) });
  for (const e of entries) await writer.addBuffer(e.path, e.data, 1_700_000_000_000);
  await writer.finish();
  return Buffer.concat(chunks);
}

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function unpack(data: Buffer, chunkSize = 777): Promise<Array<{ path: string; data: Buffer }>> {
  const reader = new TarReader(chunked(data, chunkSize));
  const out: Array<{ path: string; data: Buffer }> = [];
  for (let e = await reader.next(); e; e = await reader.next()) {
    const parts: Buffer[] = [];
    for await (const c of reader.body(100)) parts.push(Buffer.from(c));
    const body = Buffer.concat(parts);
    assert.equal(body.length, e.size);
    out.push({ path: e.path, data: body });
  }
  return out;
}

const LONG = `packages/${'a'.repeat(100)}/1.0.0-${'b'.repeat(60)}/${'a'.repeat(100)}.1.0.0-${'b'.repeat(60)}.nupkg.sha512`;
const ENTRIES = [
  { path: 'nuget-proxy-bundle/header.json', data: Buffer.from('{"format":"x"}\n') },
  { path: 'packages/xunit/2.9.3/xunit.2.9.3.nupkg', data: Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)) },
  { path: 'packages/empty/1.0.0/readme', data: Buffer.alloc(0) },
  { path: `${'d'.repeat(120)}/file`, data: Buffer.from('split into prefix and name') },
  { path: LONG, data: Buffer.from('pax path') },
  { path: 'packages/ünïcödé/1.0.0/ünïcödé.nuspec', data: Buffer.from('<package/>') },
  { path: 'exact/512', data: Buffer.alloc(512, 7) },
];

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('tar round trip', () => {
  it('reads back every entry byte for byte, whatever the chunking', async () => {
    const tar = await pack(ENTRIES);
    assert.equal(tar.length % 512, 0);
    for (const size of [1, 511, 512, 777, 1 << 20]) {
      const back = await unpack(tar, size);
      assert.deepEqual(back.map((e) => e.path), ENTRIES.map((e) => e.path));
      back.forEach((e, i) => assert.ok(e.data.equals(ENTRIES[i]?.data ?? Buffer.alloc(1)), e.path));
    }
  });

  it('writes archives the system tar lists and extracts', async () => {
    const dir = await makeTempDir('tar');
    dirs.push(dir);
    const file = join(dir, 'a.tar');
    await writeFile(file, await pack(ENTRIES));
    const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listed, ENTRIES.map((e) => e.path));
    const out = join(dir, 'out');
    await mkdir(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    assert.equal(await readFile(join(out, LONG), 'utf8'), 'pax path');
  });

  it('reads what the system tar writes (ustar with a long name)', async () => {
    const dir = await makeTempDir('tar-sys');
    dirs.push(dir);
    const name = `${'x'.repeat(90)}/${'y'.repeat(90)}.txt`;
    await mkdir(join(dir, 'src', 'x'.repeat(90)), { recursive: true });
    await writeFile(join(dir, 'src', name), 'from gnu tar');
    execFileSync('tar', ['--format=pax', '-cf', join(dir, 'sys.tar'), '-C', join(dir, 'src'), name]);
    const back = await unpack(await readFile(join(dir, 'sys.tar')));
    assert.deepEqual(back.map((e) => [e.path, e.data.toString()]), [[name, 'from gnu tar']]);
  });

  it('refuses a file that shrinks or grows while it is written', async () => {
    const writer = new TarWriter({ write: async () => undefined });
    await assert.rejects(
      writer.addFile('a', 10, 0, chunked(Buffer.alloc(5), 5)),
      /shrank/,
    );
    await assert.rejects(writer.addFile('b', 2, 0, chunked(Buffer.alloc(5), 5)), /grew/);
  });
});

describe('tar refusals', () => {
  it('refuses a corrupted header (checksum), naming the problem', async () => {
    const tar = await pack(ENTRIES.slice(0, 2));
    const bad = Buffer.from(tar);
    const headerOfSecond = 512 + 512; // header.json is 15 bytes: its header + one data block
    bad[headerOfSecond + 10] = 0x41;
    await assert.rejects(unpack(bad), (err: unknown) => err instanceof TarError && err.code === 'CORRUPT');
  });

  it('refuses a truncated archive anywhere', async () => {
    const tar = await pack(ENTRIES);
    for (const cut of [100, 512, 1024 + 300, tar.length - 1024, tar.length - 512]) {
      await assert.rejects(unpack(tar.subarray(0, cut)), (err: unknown) => err instanceof TarError && err.code === 'TRUNCATED', `cut at ${cut}`);
    }
  });

  it('refuses symbolic links, hard links and directories', async () => {
    const dir = await makeTempDir('tar-links');
    dirs.push(dir);
    await mkdir(join(dir, 'src', 'sub'), { recursive: true });
    await writeFile(join(dir, 'src', 'f'), 'x');
    execFileSync('ln', ['-s', '/etc/passwd', join(dir, 'src', 'link')]);
    for (const member of ['link', 'sub']) {
      execFileSync('tar', ['--format=ustar', '-cf', join(dir, `${member}.tar`), '-C', join(dir, 'src'), '--no-recursion', member]);
      await assert.rejects(
        unpack(await readFile(join(dir, `${member}.tar`))),
        (err: unknown) => err instanceof TarError && err.code === 'UNSUPPORTED' && /not a regular file/.test(err.message),
        member,
      );
    }
  });
});
