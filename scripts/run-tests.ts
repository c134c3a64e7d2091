// `npm test` and friends: runs the test files of the given folders under test/ (default: all of them)
// through node's test runner. The files are found here, not by a shell glob: cmd.exe (Windows) does not
// expand `test/*/*.test.ts`, and Node 20's test runner does not either.
//   node --import tsx scripts/run-tests.ts [--serial] [folder...]      e.g. unit, integration, deploy

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'test');
const args = process.argv.slice(2);
const serial = args.includes('--serial');
const wanted = args.filter((a) => a !== '--serial');
const folders = wanted.length > 0 ? wanted : readdirSync(testDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

const files: string[] = [];
for (const folder of folders.sort()) {
  let names: string[];
  try {
    names = readdirSync(join(testDir, folder));
  } catch {
    console.error(`run-tests: there is no folder test/${folder}`);
    process.exit(2);
  }
  for (const name of names.sort()) if (name.endsWith('.test.ts')) files.push(relative(root, join(testDir, folder, name)));
}
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts files in ${folders.map((f) => `test/${f}`).join(', ')}`);
  process.exit(2);
}

// The runner's own report (spec on a terminal, TAP otherwise, as node picks by default), then every
// failure again at the end, where a cut log still shows it.
const reporters = [
  '--test-reporter', process.stdout.isTTY ? 'spec' : 'tap', '--test-reporter-destination', 'stdout',
  '--test-reporter', './scripts/failures-reporter.mjs', '--test-reporter-destination', 'stdout',
];
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...(serial ? ['--test-concurrency=1'] : []), ...files], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
