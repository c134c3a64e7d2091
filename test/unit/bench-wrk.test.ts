// The benchmarks read wrk's summary into numbers: units (us/ms/s, KB/MB/GB) and error lines must come out right.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWrk } from '../../bench/lib/wrk.ts';

const FAILING = `Running 1s test @ http://127.0.0.1:18777/nonexistent
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.87ms   29.61ms 153.55ms   86.37%
    Req/Sec   342.18    262.43   740.00     63.64%
  Latency Distribution
     50%    3.63ms
     75%   17.74ms
     90%   62.03ms
     99%  131.96ms
  376 requests in 1.11s, 190.94KB read
  Non-2xx or 3xx responses: 376
Requests/sec:    338.96
Transfer/sec:    172.13KB
`;

const FAST = `Running 5s test @ http://127.0.0.1:40000/v3-flatcontainer/bench.large/1.0.0/bench.large.1.0.0.nupkg
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us    1.02ms    1.20s    85.00%
    Req/Sec    10.01k   500.00    11.00k    70.00%
  Latency Distribution
     50%  650.00us
     75%    1.10ms
     90%    2.00ms
     99%    4.50ms
  100000 requests in 5.00s, 9.54GB read
  Socket errors: connect 0, read 2, write 0, timeout 3
Requests/sec:  20000.00
Transfer/sec:      1.91GB
`;

test('parseWrk reads throughput, latency percentiles and non-2xx responses', () => {
  const r = parseWrk(FAILING);
  assert.equal(r.requests, 376);
  assert.equal(r.requestsPerSecond, 338.96);
  assert.equal(r.bytesPerSecond, 172.13 * 1024);
  assert.equal(r.p50Ms, 3.63);
  assert.equal(r.p99Ms, 131.96);
  assert.equal(r.maxMs, 153.55);
  assert.equal(r.errors, 376);
});

test('parseWrk converts microseconds, seconds and GB, and counts socket errors', () => {
  const r = parseWrk(FAST);
  assert.equal(r.p50Ms, 0.65);
  assert.equal(r.p99Ms, 4.5);
  assert.equal(r.maxMs, 1200);
  assert.equal(r.bytesPerSecond, 1.91 * 1024 ** 3);
  assert.equal(r.errors, 5);
});
