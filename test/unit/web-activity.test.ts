// The in-process activity the web page shows (src/activity.ts) and the page's access token
// (src/web/access-token.ts), with an injected clock.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FillFailures, TrafficWindow } from '../../src/activity.ts';
import { AccessToken, UI_COOKIE } from '../../src/web/access-token.ts';

describe('TrafficWindow', () => {
  it('counts per minute, classifies cache outcomes and computes the hit ratio', () => {
    const clock = { t: 10 * 60_000 };
    const w = new TrafficWindow(60, () => clock.t);
    w.record({ status: 200, cache: 'hit', bytes: 100 });
    w.record({ status: 200, cache: 'local', bytes: 10 });
    w.record({ status: 200, cache: 'miss', bytes: 1000 });
    w.record({ status: 502, bytes: 20 });
    clock.t += 60_000;
    w.record({ status: 200, cache: 'coalesced', bytes: 5 });
    const s = w.summary();
    assert.equal(s.minutes.length, 60);
    assert.deepEqual(
      s.minutes.slice(-2).map((m) => [m.requests, m.fromCache, m.fromUpstream, m.errors, m.bytes]),
      [
        [4, 2, 1, 1, 1130],
        [1, 0, 1, 0, 5],
      ],
    );
    assert.equal(s.requests, 5);
    assert.equal(s.hitRatio, 2 / 4);
  });

  it('forgets minutes older than the window, also when the ring slot is reused', () => {
    const clock = { t: 0 };
    const w = new TrafficWindow(60, () => clock.t);
    w.record({ status: 200, cache: 'hit', bytes: 1 });
    clock.t += 60 * 60_000; // the same ring slot, one hour later
    assert.equal(w.summary().requests, 0);
    w.record({ status: 200, cache: 'miss', bytes: 1 });
    assert.equal(w.summary().requests, 1);
    assert.equal(w.summary().hitRatio, 0);
    clock.t += 2 * 3600_000;
    assert.equal(w.summary().hitRatio, null);
  });
});

describe('FillFailures', () => {
  it('keeps the newest first and at most its capacity', () => {
    const f = new FillFailures(3);
    for (let i = 0; i < 5; i++) f.add({ atMs: i, lowerId: `p${i}`, lowerVersion: '1.0.0', file: 'nupkg', code: 'X', reason: 'r'.repeat(900) });
    const list = f.list();
    assert.deepEqual(list.map((x) => x.lowerId), ['p4', 'p3', 'p2']);
    assert.equal(list[0]?.reason.length, 500);
  });
});

describe('AccessToken', () => {
  const token = new AccessToken('s3cret-token');

  it('accepts the token as a Bearer header and nothing else', () => {
    assert.equal(token.allows('Bearer s3cret-token', ''), true);
    assert.equal(token.allows('bearer s3cret-token', ''), true);
    assert.equal(token.allows('Bearer s3cret-tokenX', ''), false);
    assert.equal(token.allows('Basic s3cret-token', ''), false);
    assert.equal(token.allows('', ''), false);
  });

  it('sets a cookie that is not the token and that it accepts back', () => {
    const setCookie = token.loginCookie('/nuget', true);
    assert.match(setCookie, /; Path=\/nuget; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/);
    assert.doesNotMatch(setCookie, /s3cret-token/);
    const pair = setCookie.split(';')[0] ?? '';
    assert.equal(token.allows('', `other=1; ${pair}`), true);
    assert.equal(token.allows('', `${UI_COOKIE}=s3cret-token`), false);
    assert.equal(new AccessToken('another').allows('', pair), false);
    assert.match(AccessToken.logoutCookie('', false), /Max-Age=0/);
  });
});
