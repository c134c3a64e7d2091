// A second reporter for `npm test`: prints nothing while the suite runs and, at its end, every failed
// test again with its file and error. The TAP report stays the record; this summary is for logs that are
// long enough to be cut (a CI page shows the head and the tail, not where a failure scrolled by).
// Plain JavaScript: node loads reporters before the tsx loader is in place.

import { relative } from 'node:path';
import { inspect } from 'node:util';

/** @param {unknown} error */
function describeError(error) {
  // The runner wraps a test's own error as the cause of its "test failed" error.
  const shown = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return inspect(shown, { depth: 4, breakLength: 120 })
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** @param {AsyncIterable<{ type: string, data: { name: string, file?: string, details?: { error?: Error & { failureType?: string } } } }>} source */
export default async function* failuresReporter(source) {
  /** @type {string[]} */
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // A suite fails because its tests did: those are listed on their own.
    if (details?.error?.failureType === 'subtestsFailed') continue;
    const where = file === undefined ? '' : `${relative(process.cwd(), file)}: `;
    failures.push(`not ok - ${where}${name}\n${describeError(details?.error)}`);
  }
  if (failures.length === 0) return;
  yield `\n# ${failures.length} failed (each again, with its error):\n${failures.join('\n')}\n`;
}
