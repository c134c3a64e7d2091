// Tests for selection files (src/prefetch/selection.ts): what prefetch selected, for `export --selection`.

import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeSelection, readSelection, SelectionError, writeSelection } from '../../src/prefetch/selection.ts';
import { makeTempDir } from '../helpers/proxy.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('selection files', () => {
  it('write and read back sorted and de-duplicated; refuse anything else', async () => {
    const dir = await makeTempDir('selection');
    dirs.push(dir);
    const path = join(dir, 'sel.json');
    const sel = makeSelection(
      [
        { lowerId: 'xunit', lowerVersion: '2.9.3' },
        { lowerId: 'contoso.a', lowerVersion: '1.0.0' },
        { lowerId: 'xunit', lowerVersion: '2.9.3' },
      ],
      ['versions:xunit', 'svc:index', 'versions:xunit'],
    );
    await writeSelection(path, sel);
    const back = await readSelection(path);
    assert.deepEqual(back, sel);
    assert.deepEqual(back.packages.map((p) => p.lowerId), ['contoso.a', 'xunit']);
    assert.deepEqual(back.metadataKeys, ['svc:index', 'versions:xunit']);
    assert.match(await readFile(path, 'utf8'), /"format": "nuget-proxy-selection"/);
    await writeFile(path, JSON.stringify({ ...sel, packages: [{ lowerId: '../x', lowerVersion: '1.0.0' }] }));
    await assert.rejects(readSelection(path), SelectionError);
    await writeFile(path, '{}');
    await assert.rejects(readSelection(path), /not a nuget-proxy-selection/);
  });
});
