// Tests for the per-host circuit breaker and the retry policy (src/breaker.ts), driven by an injected clock and
// injected randomness. Retry-After formats: RFC 9110 §10.2.3 (delay-seconds or HTTP-date).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, parseRetryAfterMs, retryDelayMs, type BreakerState } from '../../src/breaker.ts';

const HOST = 'api.nuget.org';

function setup(options: { failureThreshold?: number; backoffMs?: number; maxBackoffMs?: number } = {}) {
  const clock = { t: 1_000_000 };
  const changes: Array<[string, BreakerState]> = [];
  const breaker = new CircuitBreaker({
    failureThreshold: options.failureThreshold ?? 3,
    backoffMs: options.backoffMs ?? 1000,
    maxBackoffMs: options.maxBackoffMs ?? 8000,
    now: () => clock.t,
    onChange: (host, state) => changes.push([host, state]),
  });
  return { breaker, clock, changes };
}

function openIt(breaker: CircuitBreaker, failures = 3): void {
  for (let i = 0; i < failures; i++) breaker.recordFailure(HOST);
}

describe('CircuitBreaker', () => {
  it('stays closed below the failure threshold', () => {
    const { breaker } = setup({ failureThreshold: 3 });
    breaker.recordFailure(HOST);
    breaker.recordFailure(HOST);
    assert.equal(breaker.state(HOST), 'closed');
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: false });
  });

  it('opens at the threshold and fails fast with the remaining back-off', () => {
    const { breaker, clock } = setup({ failureThreshold: 3, backoffMs: 1000 });
    openIt(breaker);
    assert.equal(breaker.state(HOST), 'open');
    assert.deepEqual(breaker.admit(HOST), { allowed: false, retryInMs: 1000 });
    clock.t += 400;
    assert.deepEqual(breaker.admit(HOST), { allowed: false, retryInMs: 600 });
    clock.t += 599;
    assert.deepEqual(breaker.admit(HOST), { allowed: false, retryInMs: 1 });
  });

  it('trip (a request waited its whole deadline unanswered) opens at once, below the threshold', () => {
    const { breaker, changes } = setup({ failureThreshold: 3, backoffMs: 1000 });
    breaker.trip(HOST);
    assert.equal(breaker.state(HOST), 'open');
    assert.deepEqual(breaker.admit(HOST), { allowed: false, retryInMs: 1000 });
    breaker.trip(HOST);
    assert.deepEqual(changes, [[HOST, 'open']], 'tripping an open breaker changes nothing');
  });

  it('trip during a probe is a failed probe: open again with a longer back-off', () => {
    const { breaker, clock } = setup({ backoffMs: 1000, maxBackoffMs: 8000 });
    openIt(breaker);
    clock.t += 1000;
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: true });
    breaker.trip(HOST);
    assert.equal(breaker.state(HOST), 'open');
    assert.deepEqual(breaker.admit(HOST), { allowed: false, retryInMs: 2000 });
  });

  it('failures and trips of requests sent before the host last answered do not reopen it; later ones do', () => {
    const { breaker, clock, changes } = setup({ failureThreshold: 3, backoffMs: 1000 });
    const sentIntoOutage = breaker.clock();
    openIt(breaker);
    clock.t += 1000;
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: true });
    clock.t += 5;
    breaker.recordSuccess(HOST);
    assert.equal(breaker.state(HOST), 'closed');
    // Requests sent during the outage time out after the probe closed the breaker.
    clock.t += 2000;
    for (let i = 0; i < 5; i++) breaker.recordFailure(HOST, sentIntoOutage);
    breaker.trip(HOST, sentIntoOutage);
    assert.equal(breaker.state(HOST), 'closed');
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: false });
    // A request sent after the host answered: its failures count again.
    const sentLater = breaker.clock();
    clock.t += 3000;
    breaker.trip(HOST, sentLater);
    assert.equal(breaker.state(HOST), 'open');
    assert.deepEqual(changes, [[HOST, 'open'], [HOST, 'half_open'], [HOST, 'closed'], [HOST, 'open']]);
  });

  it('counts consecutive failures only: a success in between resets the count', () => {
    const { breaker } = setup({ failureThreshold: 3 });
    breaker.recordFailure(HOST);
    breaker.recordFailure(HOST);
    breaker.recordSuccess(HOST);
    breaker.recordFailure(HOST);
    breaker.recordFailure(HOST);
    assert.equal(breaker.state(HOST), 'closed');
    breaker.recordFailure(HOST);
    assert.equal(breaker.state(HOST), 'open');
  });

  it('after the back-off admits exactly one probe (half-open)', () => {
    const { breaker, clock } = setup({ backoffMs: 1000 });
    openIt(breaker);
    clock.t += 1000;
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: true });
    assert.equal(breaker.state(HOST), 'half_open');
    for (let i = 0; i < 5; i++) {
      const a = breaker.admit(HOST);
      assert.equal(a.allowed, false, `concurrent request ${i} must not pass while the probe is in flight`);
    }
    clock.t += 60_000;
    assert.equal(breaker.admit(HOST).allowed, false, 'still one probe at a time, however long it takes');
  });

  it('closes when the probe succeeds', () => {
    const { breaker, clock } = setup({ backoffMs: 1000 });
    openIt(breaker);
    clock.t += 1000;
    breaker.admit(HOST);
    breaker.recordSuccess(HOST);
    assert.equal(breaker.state(HOST), 'closed');
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: false });
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: false });
    assert.equal(breaker.snapshot()[HOST]?.consecutiveFailures, 0);
  });

  it('reopens with a doubled back-off when the probe fails, up to the cap', () => {
    const { breaker, clock } = setup({ backoffMs: 1000, maxBackoffMs: 5000 });
    openIt(breaker);
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      const a = breaker.admit(HOST);
      assert.equal(a.allowed, false);
      const wait = a.allowed ? 0 : a.retryInMs;
      seen.push(wait);
      clock.t += wait;
      assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: true });
      breaker.recordFailure(HOST);
      assert.equal(breaker.state(HOST), 'open');
    }
    assert.deepEqual(seen, [1000, 2000, 4000, 5000, 5000]);
    assert.equal(breaker.snapshot()[HOST]?.backoffMs, 5000);
  });

  it('starts again from the base back-off after recovering', () => {
    const { breaker, clock } = setup({ backoffMs: 1000, maxBackoffMs: 8000 });
    openIt(breaker);
    clock.t += 1000;
    breaker.admit(HOST);
    breaker.recordFailure(HOST); // back-off 2000
    clock.t += 2000;
    breaker.admit(HOST);
    breaker.recordSuccess(HOST);
    openIt(breaker);
    assert.deepEqual(breaker.admit(HOST), { allowed: false, retryInMs: 1000 });
  });

  it('lets the next request probe after releaseProbe', () => {
    const { breaker, clock } = setup();
    openIt(breaker);
    clock.t += 1000;
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: true });
    assert.equal(breaker.admit(HOST).allowed, false);
    breaker.releaseProbe(HOST);
    assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: true });
    assert.equal(breaker.admit(HOST).allowed, false);
  });

  it('keeps hosts independent', () => {
    const { breaker } = setup();
    openIt(breaker);
    assert.equal(breaker.admit(HOST).allowed, false);
    assert.deepEqual(breaker.admit('www.nuget.org'), { allowed: true, probe: false });
    assert.equal(breaker.state('www.nuget.org'), 'closed');
  });

  it('reports each state change once', () => {
    const { breaker, clock, changes } = setup();
    openIt(breaker, 5);
    clock.t += 1000;
    breaker.admit(HOST);
    breaker.recordFailure(HOST);
    clock.t += 2000;
    breaker.admit(HOST);
    breaker.recordSuccess(HOST);
    breaker.recordSuccess(HOST);
    assert.deepEqual(changes, [
      [HOST, 'open'],
      [HOST, 'half_open'],
      [HOST, 'open'],
      [HOST, 'half_open'],
      [HOST, 'closed'],
    ]);
  });

  describe('recordSlow / isDegraded', () => {
    it('a closed, fast host is not degraded', () => {
      const { breaker } = setup();
      assert.equal(breaker.isDegraded(HOST), false);
    });

    it('a slow host is degraded until it answers again', () => {
      const { breaker } = setup();
      breaker.recordSlow(HOST);
      assert.equal(breaker.isDegraded(HOST), true);
      assert.equal(breaker.state(HOST), 'closed', 'slowness alone does not open the breaker');
      assert.deepEqual(breaker.admit(HOST), { allowed: true, probe: false });
      breaker.recordSuccess(HOST);
      assert.equal(breaker.isDegraded(HOST), false);
    });

    it('an open or half-open host is degraded', () => {
      const { breaker, clock } = setup();
      openIt(breaker);
      assert.equal(breaker.isDegraded(HOST), true);
      clock.t += 1000;
      breaker.admit(HOST);
      assert.equal(breaker.state(HOST), 'half_open');
      assert.equal(breaker.isDegraded(HOST), true);
    });
  });
});

describe('retryDelayMs', () => {
  // [attempt, baseMs, exp] with the default cap of 10 s: full jitter keeps the delay within [exp/2, exp].
  const table: Array<[number, number, number]> = [
    [1, 200, 200],
    [2, 200, 400],
    [3, 200, 800],
    [4, 200, 1600],
    [7, 200, 10_000],
    [30, 200, 10_000],
    [1, 0, 0],
  ];
  for (const [attempt, base, exp] of table) {
    it(`attempt ${attempt}, base ${base}: within [${exp / 2}, ${exp}]`, () => {
      assert.equal(retryDelayMs(attempt, base, { random: () => 0 }), Math.round(exp / 2));
      assert.equal(retryDelayMs(attempt, base, { random: () => 0.999999 }), Math.round(exp / 2 + 0.999999 * (exp / 2)));
      for (let i = 0; i < 200; i++) {
        const d = retryDelayMs(attempt, base);
        assert.ok(d >= exp / 2 && d <= exp, `${d} outside [${exp / 2}, ${exp}]`);
      }
    });
  }

  it('honours a custom cap', () => {
    assert.equal(retryDelayMs(10, 100, { capMs: 1500, random: () => 0.999999 }), 1500);
    assert.equal(retryDelayMs(10, 100, { capMs: 1500, random: () => 0 }), 750);
  });

  it('lets a longer Retry-After win', () => {
    assert.equal(retryDelayMs(1, 200, { retryAfterMs: 3000, random: () => 0.5 }), 3000);
  });

  it('caps Retry-After at the cap', () => {
    assert.equal(retryDelayMs(1, 200, { retryAfterMs: 60_000, random: () => 0.5 }), 10_000);
    assert.equal(retryDelayMs(1, 200, { retryAfterMs: 60_000, capMs: 2000, random: () => 0.5 }), 2000);
  });

  it('ignores a Retry-After shorter than the jittered delay, and null', () => {
    assert.equal(retryDelayMs(3, 200, { retryAfterMs: 10, random: () => 0 }), 400);
    assert.equal(retryDelayMs(3, 200, { retryAfterMs: null, random: () => 0 }), 400);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  const table: Array<[string | undefined, number | null, string]> = [
    ['120', 120_000, 'delay-seconds'],
    ['0', 0, 'zero seconds'],
    [' 5 ', 5000, 'surrounding whitespace'],
    ['Wed, 21 Oct 2015 07:28:30 GMT', 30_000, 'IMF-fixdate 30 s ahead (RFC 9110 example date)'],
    ['Wed, 21 Oct 2015 08:28:00 GMT', 3_600_000, 'an hour ahead'],
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0, 'a date in the past clamps to 0'],
    ['Wednesday, 21-Oct-15 07:28:10 GMT', 10_000, 'obsolete RFC 850 date'],
    [undefined, null, 'absent'],
    ['', null, 'empty'],
    ['soon', null, 'garbage'],
  ];
  for (const [value, expected, why] of table) {
    it(`${JSON.stringify(value)} → ${expected} (${why})`, () => {
      assert.equal(parseRetryAfterMs(value, now), expected);
    });
  }
});
