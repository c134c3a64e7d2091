// README.md and docs/ stay in step with the code: the configuration reference (docs/configuration.md) is
// the one src/config.ts renders, the documented commands exist in package.json, and every link between
// the pages points at a file and a heading that exist.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { VERSION } from '../../src/version.ts';
import { withReference } from '../helpers/update-readme.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const configurationPage = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; scripts: Record<string, string> };

test('the configuration reference in docs/configuration.md matches src/config.ts (run `npm run readme`)', () => {
  assert.equal(configurationPage, withReference(configurationPage));
});

/** GitHub's anchor for a heading. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = /^#{1,6} (.*)$/.exec(line);
    if (m && !fence) anchors.add(anchorOf(m[1] ?? ''));
  }
  return anchors;
}

test('README and docs/: every relative link names a file that exists, and a heading that exists', () => {
  const root = new URL('../../', import.meta.url);
  const pages = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  assert.ok(pages.length >= 10, pages.join(', '));
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(new URL(page, root), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1] ?? '';
      if (/^[a-z]+:/.test(link)) continue;
      const [path = '', anchor] = link.split('#');
      const target = path ? new URL(path, new URL(page, root)) : new URL(page, root);
      if (!existsSync(target)) {
        broken.push(`${page}: ${link} (no such file)`);
        continue;
      }
      if (anchor && target.pathname.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${page}: ${link} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});

test('README is for the people who use it: short, reference material in docs/', () => {
  assert.ok(readme.split('\n').length <= 200, `README has ${readme.split('\n').length} lines`);
  for (const page of ['clients', 'https', 'configuration', 'upstreams-and-policy', 'resources', 'storage', 'deployment', 'air-gap', 'observability', 'performance', 'architecture', 'development']) {
    assert.ok(readme.includes(`(docs/${page}.md)`), `README links docs/${page}.md`);
  }
});

test('README documents the one-command start and the one-command test suite that exist', () => {
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /^npm test$/m);
  assert.ok(pkg.scripts['start'] && pkg.scripts['test']);
  const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
  assert.match(ci, /^npm test$/m, '.ci/run runs the README test command');
});

test('nuget-proxy --version reports the version package.json has', () => {
  assert.equal(VERSION, pkg.version);
});

test('npm scripts use no shell features cmd.exe lacks (Windows): no rm/cp/mv, no globs, no $VARIABLES', () => {
  for (const [name, command] of Object.entries(pkg.scripts)) {
    assert.doesNotMatch(command, /(^|[\s;&|])(rm|cp|mv|cat|export|mkdir -p)\s/, `${name}: ${command}`);
    assert.doesNotMatch(command, /\*/, `${name}: a glob cmd.exe would not expand`);
    assert.doesNotMatch(command, /\$\{?[A-Za-z_]/, `${name}: a shell variable`);
  }
});
