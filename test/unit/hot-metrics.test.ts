// Tests for the per-request metric children (src/metrics.ts: hotCounter, hotHistogram, hotGauge): what
// they count reaches the exposition exactly as prom-client's own inc()/observe() would have put it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, hotCounter, hotGauge, hotHistogram } from '../../src/metrics.ts';

/** The value of one exposition line, by its exact name and labels as printed. */
async function valueOf(metrics: ReturnType<typeof createMetrics>, series: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('hot metric children', () => {
  it('a counter child adds to what prom-client counted for the same labels, and is listed at zero at once', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const labels = { route: '/v3/index.json', method: 'GET', status: '200' };
    const series = 'nuget_proxy_http_requests_total{route="/v3/index.json",method="GET",status="200"}';
    const hot = hotCounter(m.httpRequests, labels);
    assert.equal(await valueOf(m, series), 0);
    m.httpRequests.inc(labels, 5);
    hot.inc();
    hot.inc(2);
    assert.equal(await valueOf(m, series), 8);
    hot.inc();
    assert.equal(await valueOf(m, series), 9, 'counted again after a read');
    m.registry.resetMetrics();
    hot.inc(4);
    assert.equal(await valueOf(m, series), 4, 'after a reset only what came since');
  });

  it('a histogram child fills the same buckets, sum and count as observe()', async () => {
    const hotM = createMetrics({ defaultMetrics: false });
    const refM = createMetrics({ defaultMetrics: false });
    const labels = { route: '/v3/flatcontainer/:id/index.json', method: 'GET' };
    const hot = hotHistogram(hotM.httpDuration, labels);
    // Below the first bound, on bounds, between them, and past the last (only in +Inf).
    const values = [0.0004, 0.001, 0.002, 0.0025, 0.07, 0.5, 3, 29.9, 30, 45, 120];
    for (const v of values) {
      hot.observe(v);
      refM.httpDuration.observe(labels, v);
    }
    const lines = async (m: ReturnType<typeof createMetrics>) =>
      (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('nuget_proxy_http_request_duration_seconds_') && l.includes('index.json'));
    const want = await lines(refM);
    assert.equal(want.length, 17, 'buckets, +Inf, sum and count');
    assert.deepEqual(await lines(hotM), want);
    hot.observe(0.003);
    refM.httpDuration.observe(labels, 0.003);
    assert.deepEqual(await lines(hotM), await lines(refM), 'the same after more observations');
  });

  it('a gauge child exports its current value', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const g = hotGauge(m.httpInFlight);
    g.inc();
    g.inc();
    g.dec();
    assert.equal(await valueOf(m, 'nuget_proxy_http_requests_in_flight'), 1);
    g.dec();
    assert.equal(await valueOf(m, 'nuget_proxy_http_requests_in_flight'), 0);
  });

  it('two users of one gauge share its value (two request logs on one set of metrics)', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const a = hotGauge(m.httpInFlight);
    const b = hotGauge(m.httpInFlight);
    a.inc();
    a.inc();
    b.inc();
    b.dec();
    assert.equal(await valueOf(m, 'nuget_proxy_http_requests_in_flight'), 2);
  });
});
