// README.md stays in step with the code: the configuration reference is the one src/config.ts renders,
// and the documented commands exist in package.json.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { VERSION } from '../../src/version.ts';
import { withReference } from '../helpers/update-readme.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; scripts: Record<string, string> };

test('the configuration reference in README.md matches src/config.ts (run `npm run readme`)', () => {
  assert.equal(readme, withReference(readme));
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
