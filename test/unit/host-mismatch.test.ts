// Tests for HostMismatchWarning (src/routes.ts): the one warning that the URLs handed out name another host
// than the one clients asked for — the docker compose case (NUGET_PROXY_BIND=0.0.0.0, public URL left at
// http://127.0.0.1:5555) and the untrusted-Host case — and silence when they agree.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Context } from 'koa';
import { createLogger } from '../../src/logger.ts';
import { HostMismatchWarning } from '../../src/routes.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), cb()) });
  return { log: createLogger({ level: 'info', format: 'json' }, sink), lines };
}

function ctxWith(headers: Record<string, string>): Context {
  return { get: (name: string) => headers[name.toLowerCase()] ?? '' } as unknown as Context;
}

describe('HostMismatchWarning', () => {
  it('warns once when the public URL names loopback and a remote client asks for the machine (compose with BIND=0.0.0.0)', () => {
    const { log, lines } = capture();
    const w = new HostMismatchWarning(log, { publicUrl: 'http://127.0.0.1:5555', trustProxy: false });
    w.check(ctxWith({ host: 'buildhost.corp.example:5555' }), 'http://127.0.0.1:5555');
    w.check(ctxWith({ host: 'other.corp.example:5555' }), 'http://127.0.0.1:5555');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.['level'], 'warn');
    assert.equal(lines[0]?.['requestHost'], 'buildhost.corp.example:5555');
    assert.match(String(lines[0]?.['detail']), /--public-url \(NUGET_PROXY_PUBLIC_URL\) points every URL the proxy hands out at 127\.0\.0\.1:5555/);
  });

  const agreeing: Array<[string, string, Record<string, string>, boolean]> = [
    ['the same host', 'http://mirror.example:5555', { host: 'mirror.example:5555' }, false],
    ['case and default port', 'https://Mirror.Example', { host: 'mirror.example:443' }, false],
    ['loopback under another name', 'http://127.0.0.1:5555', { host: 'localhost:5555' }, false],
    ['a reverse proxy that forwards the public host', 'https://nuget.corp.example/nuget', { host: '10.0.0.5:5555', 'x-forwarded-host': 'nuget.corp.example' }, true],
    ['no Host header at all (HTTP/1.0)', 'http://127.0.0.1:5555', {}, false],
  ];
  for (const [what, base, headers, trustProxy] of agreeing) {
    it(`says nothing for ${what}`, () => {
      const { log, lines } = capture();
      new HostMismatchWarning(log, { publicUrl: trustProxy ? null : base, trustProxy }).check(ctxWith(headers), base);
      assert.deepEqual(lines, []);
    });
  }

  it('names the listening address when no public URL is set and the Host is not trusted', () => {
    const { log, lines } = capture();
    new HostMismatchWarning(log, { publicUrl: null, trustProxy: false }).check(ctxWith({ host: 'mirror.example:5555' }), 'http://172.18.0.3:5555');
    assert.match(String(lines[0]?.['detail']), /not this machine's name, so the URLs handed out use the listening address 172\.18\.0\.3:5555/);
  });
});
