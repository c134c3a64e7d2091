// Tests for the offline tools' progress output (src/cli/progress.ts): formatting, plain lines when not on
// a terminal, one redrawn bar (with log lines printed above it) on a terminal.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Progress, Terminal, describeProgress, formatBytes, formatDuration, renderBar } from '../../src/cli/progress.ts';

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => out };
}

describe('progress formatting', () => {
  it('formats bytes, durations, bars and states', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KB');
    assert.equal(formatBytes(250 * 1024 * 1024), '250 MB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GB');
    assert.equal(formatDuration(250), '250 ms');
    assert.equal(formatDuration(12_340), '12.3 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(renderBar(5, 10, 10), '[#####-----]');
    assert.equal(renderBar(0, 0, 4), '[####]');
    assert.equal(renderBar(3, null, 10), '');
    assert.equal(describeProgress({ done: 3, total: 9, bytes: 2048, failed: 1 }, 'packages'), '3/9 packages, 2.0 KB downloaded, 1 failed');
    assert.equal(describeProgress({ done: 1024, total: 4096, bytes: 1024, failed: 0 }, 'bytes'), '1.0 KB/4.0 KB');
  });
});

describe('Progress on a pipe', () => {
  it('prints plain lines, throttled, and the final state', () => {
    const out = capture();
    const p = new Progress({ terminal: new Terminal(out.stream, false), label: 'prefetch', unit: 'packages', plainIntervalMs: 60_000 });
    p.update({ done: 0, total: 3 });
    p.update({ done: 1 });
    p.update({ done: 2 });
    p.note('failed: x@1.0.0: not found');
    p.update({ done: 3, failed: 1 });
    p.finish();
    p.update({ done: 99 });
    assert.equal(out.text(), ['prefetch: 0/3 packages', 'prefetch: failed: x@1.0.0: not found', 'prefetch: 3/3 packages, 1 failed', ''].join('\n'));
    assert.ok(!out.text().includes('\r'), 'no carriage returns in plain output');
  });
});

describe('Progress on a terminal', () => {
  it('redraws one bar line in place, prints notes and log lines above it, and ends with a plain line', () => {
    const out = capture();
    const terminal = new Terminal(out.stream, true, 100);
    const p = new Progress({ terminal, label: 'import', unit: 'bytes' });
    p.update({ done: 512, total: 1024 });
    terminal.logDestination().write('{"level":40,"msg":"import conflict"}\n');
    p.finish();
    const text = out.text();
    assert.match(text, /^\r\x1b\[2K\[#{15}-{15}\] import: 512 B\/1.0 KB/);
    // The log line clears the bar, prints, then redraws the bar.
    assert.match(text, /\r\x1b\[2K\{"level":40,"msg":"import conflict"\}\n\[#{15}-{15}\] import/);
    assert.ok(text.endsWith('\r\x1b[2Kimport: 512 B/1.0 KB\n'), JSON.stringify(text.slice(-60)));
  });
});
