// Tests for the buffered log destination (src/logger.ts LineBuffer): lines reach the file in order, in few
// writes, on flush and on the exit path; a destination nobody drains stops growing and says what it dropped.

import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createLogger, flushLogs, LineBuffer, RawLines } from '../../src/logger.ts';

function tempFile(name: string): string {
  return join(tmpdir(), `nuget-proxy-logger-${process.pid}-${name}`);
}

const flushed = (b: LineBuffer) => new Promise<void>((resolve) => b.flush(resolve));

describe('LineBuffer', () => {
  it('writes nothing per line, everything on flush, in order', async () => {
    const file = tempFile('order');
    const fd = openSync(file, 'w');
    try {
      const b = new LineBuffer(fd);
      for (let i = 0; i < 100; i++) b.write(`{"n":${i}}\n`);
      assert.equal(readFileSync(file, 'utf8'), '', 'lines wait in the buffer');
      await flushed(b);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), Array.from({ length: 100 }, (_, i) => i));
      b.flushSync();
    } finally {
      closeSync(fd);
      await rm(file, { force: true });
    }
  });

  it('writes by itself once 64 KB are buffered, and the rest synchronously on the exit path', async () => {
    const file = tempFile('size');
    const fd = openSync(file, 'w');
    try {
      const b = new LineBuffer(fd);
      const line = `${JSON.stringify({ pad: 'x'.repeat(1000) })}\n`;
      for (let i = 0; i < 70; i++) b.write(line);
      const deadline = Date.now() + 5000;
      while (readFileSync(file).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(readFileSync(file).length >= 64 * 1000, 'a write without a flush');
      await flushed(b);
      b.write('{"last":true}\n');
      b.flushSync();
      const text = readFileSync(file, 'utf8');
      assert.equal(text.split('\n').filter(Boolean).length, 71);
      assert.ok(text.endsWith('{"last":true}\n'));
    } finally {
      closeSync(fd);
      await rm(file, { force: true });
    }
  });

  it('drops lines past its bound and reports how many', async () => {
    const file = tempFile('drop');
    const fd = openSync(file, 'w');
    try {
      const b = new LineBuffer(fd, 1000);
      for (let i = 0; i < 50; i++) b.write(`${JSON.stringify({ n: i, pad: 'y'.repeat(80) })}\n`);
      await flushed(b);
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const report = lines.find((l) => l['msg'] === 'log lines dropped: stdout did not keep up');
      assert.ok(report, 'a line says lines were dropped');
      assert.equal((lines.length - 1) + Number(report['dropped']), 50);
      b.flushSync();
    } finally {
      closeSync(fd);
      await rm(file, { force: true });
    }
  });

  it('serves as a pino destination that flushLogs drains', async () => {
    const file = tempFile('pino');
    const fd = openSync(file, 'w');
    try {
      const b = new LineBuffer(fd);
      const log = pino({ base: null }, b);
      log.info({ reqId: 'r1' }, 'request');
      await flushLogs(log);
      assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { reqId: string }).reqId, 'r1');
      b.flushSync();
    } finally {
      closeSync(fd);
      await rm(file, { force: true });
    }
  });
});

describe('RawLines', () => {
  /** A logger from createLogger writing to an array, as a child with bindings (as a worker's logger is). */
  function capture(level = 'info') {
    const out: string[] = [];
    const base = createLogger({ level, format: 'json' }, { write: (line: string) => void out.push(line) });
    return { out, log: base.child({ worker: 2, pid: 1234 }) };
  }

  it('writes the line pino would write for the same fields, bindings, level name and message', () => {
    const { out, log } = capture();
    const fields = { reqId: 'a"b', req: { url: '/v3/x?q=\u2028"\\', headers: { 'user-agent': 'tab\there' } }, res: { statusCode: 200 }, responseTime: 1.5 };
    log.info(fields, 'request completed');
    new RawLines(log).write('info', `"reqId":"a\\"b","req":{"url":${JSON.stringify(fields.req.url)},"headers":{"user-agent":"tab\\there"}},"res":{"statusCode":200},"responseTime":1.5`, 'request completed');
    assert.equal(out.length, 2);
    const [viaPino, raw] = out.map((l) => JSON.parse(l) as Record<string, unknown>) as [Record<string, unknown>, Record<string, unknown>];
    assert.ok((out[1] as string).endsWith('}\n'), 'one line');
    assert.match(String(raw['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    delete viaPino['time'];
    delete raw['time'];
    assert.deepEqual(raw, viaPino);
    assert.deepEqual(Object.keys(raw).slice(0, 4), ['level', 'service', 'worker', 'pid']);
  });

  it('writes nothing below the logger level', () => {
    const { out, log } = capture('warn');
    const lines = new RawLines(log);
    assert.equal(lines.enabled('info'), false);
    lines.write('info', '"a":1', 'request completed');
    lines.write('debug', '"a":1', 'request completed');
    assert.deepEqual(out, []);
  });
});
