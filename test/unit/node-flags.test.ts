// Tests for the serving process's node flags (src/cluster/node-flags.ts): every place that starts node for
// `serve` gives them (the image's ENTRYPOINT, package.json's start and dev scripts), and a worker's argv
// gains the ones it lacks without overriding an operator's own value. That workers really run with them is
// tested in test/integration/workers.test.ts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { missingNodeFlags, NODE_FLAGS, withNodeFlags } from '../../src/cluster/node-flags.ts';

const ROOT = new URL('../../', import.meta.url);

/** The words before the script in a `node … script` command line. */
function nodeArgsBefore(words: readonly string[], script: RegExp): string[] {
  const at = words.findIndex((w) => script.test(w));
  assert.ok(at > 0 && words[0] === 'node', `not a node command line: ${JSON.stringify(words)}`);
  return words.slice(1, at);
}

describe('node flags of a serving process', () => {
  it('the image starts node with them', () => {
    const dockerfile = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
    const line = dockerfile.split('\n').find((l) => l.startsWith('ENTRYPOINT '));
    assert.ok(line, 'the Dockerfile has an ENTRYPOINT');
    const words = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
    assert.deepEqual(missingNodeFlags(nodeArgsBefore(words, /nuget-proxy\.js$/)), []);
  });

  it("package.json's start and dev scripts start node with them", () => {
    const scripts = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start', 'dev']) {
      const words = (scripts[name] ?? '').split(/\s+/);
      assert.deepEqual(missingNodeFlags(nodeArgsBefore(words, /nuget-proxy\.[jt]s$/)), [], `script ${name}`);
    }
  });

  it("adds the flags a worker's argv lacks, once, and keeps an operator's own value", () => {
    assert.ok(NODE_FLAGS.length > 0);
    assert.deepEqual(withNodeFlags([]), [...NODE_FLAGS]);
    assert.deepEqual(withNodeFlags(['--import', 'tsx']), ['--import', 'tsx', ...NODE_FLAGS]);
    assert.deepEqual(withNodeFlags(NODE_FLAGS), [...NODE_FLAGS]);
    const own = NODE_FLAGS.map((f) => `${f.split('=')[0]}=512`);
    assert.deepEqual(withNodeFlags(own), own);
    assert.deepEqual(missingNodeFlags(own), []);
    assert.deepEqual(missingNodeFlags(['--max-old-space-size=4096']), [...NODE_FLAGS]);
  });
});
