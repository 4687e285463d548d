// The overview's pipeline figures: percentiles of ingest's latency histogram over the last window (the
// difference of two readings, as Prometheus' rate would), consumer lag per processor summed over
// partitions and instances, the last release per dataset, sources that do not answer named; and one read
// per refresh interval whatever the number of requests (bounded cost).
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreReader } from '@ondijon/opendata';
import { PipelineHealth, histogramQuantile } from '../src/pipeline';

const INF = Number.POSITIVE_INFINITY;

describe('histogramQuantile', () => {
  it('interpolates within the bucket that holds the rank, like Prometheus', () => {
    const b = new Map([
      [0.01, 50],
      [0.1, 90],
      [1, 100],
      [INF, 100],
    ]);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.01);
    expect(histogramQuantile(0.7, b)).toBeCloseTo(0.01 + (0.09 * 20) / 40);
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.1 + (0.9 * 9) / 10);
    expect(histogramQuantile(0.5, new Map([[INF, 0]]))).toBeNull();
    // Beyond the last finite bucket: its bound.
    expect(
      histogramQuantile(
        0.99,
        new Map([
          [1, 10],
          [INF, 100],
        ]),
      ),
    ).toBe(1);
  });
});

describe('PipelineHealth', () => {
  let server: Server;
  let base = '';
  let scrapes = 0;
  let ackCounts = [0, 0, 0]; // cumulative le=0.005, le=0.05, +Inf
  const lag = { a: 10, b: 5 };

  beforeAll(async () => {
    server = createServer((req, res) => {
      scrapes++;
      if (req.url === '/ingest') {
        const [a, b, c] = ackCounts;
        res.end(`# HELP ondijon_ingest_ack_latency_seconds x
# TYPE ondijon_ingest_ack_latency_seconds histogram
ondijon_ingest_ack_latency_seconds_bucket{le="0.005"} ${a}
ondijon_ingest_ack_latency_seconds_bucket{le="0.05"} ${b}
ondijon_ingest_ack_latency_seconds_bucket{le="+Inf"} ${c}
ondijon_ingest_ack_latency_seconds_sum 1
ondijon_ingest_ack_latency_seconds_count ${c}
`);
      } else if (req.url === '/processors') {
        res.end(`# HELP ondijon_processors_consumer_lag_records x
# TYPE ondijon_processors_consumer_lag_records gauge
ondijon_processors_consumer_lag_records{processor="lighting",topic="tel.s1.lighting.v1",partition="0"} ${lag.a}
ondijon_processors_consumer_lag_records{processor="lighting",topic="tel.s1.lighting.v1",partition="1"} ${lag.b}
ondijon_processors_consumer_lag_records{processor="signals",topic="tel.s1.signals.v1",partition="0"} 0
# HELP ondijon_processors_watermark_seconds x
# TYPE ondijon_processors_watermark_seconds gauge
ondijon_processors_watermark_seconds{processor="lighting"} 1800000000
ondijon_processors_watermark_seconds{processor="daily"} 1799999990.5
`);
      } else {
        res.statusCode = 500;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const store = {
    catalog: async () => ({
      catalog: { datasets: { 'lighting-daily': {}, 'signals-daily': {} } },
      etag: 'e',
    }),
    releases: async (id: string) =>
      id === 'lighting-daily' ? [{ releaseId: 'r1' }, { releaseId: 'r2' }] : [],
    releaseNotes: async (_id: string, releaseId: string) => ({
      publishedAt: '2026-12-06T10:00:00.000Z',
      rowCount: releaseId === 'r2' ? 23 : 1,
      suppressedCells: 2,
      noisedCells: 21,
    }),
  } as unknown as StoreReader;

  it('shows latency over the window, lag and watermark per processor and the last release per dataset', async () => {
    let now = 1_800_000_042_000;
    const health = new PipelineHealth({
      ingestMetrics: [`${base}/ingest`],
      processorsMetrics: [`${base}/processors`, `${base}/gone`],
      store,
      refreshMs: 1000,
      latencyWindowS: 60,
      now: () => now,
    });
    // Before the window: 1000 slow acknowledgements (all above 50 ms).
    ackCounts = [0, 0, 1000];
    const first = await health.get();
    expect(first.latency?.p50).toBe(0.05);
    expect(first.lag).toEqual([
      // A processor with a watermark and no lag reading yet is listed too.
      {
        processor: 'daily',
        records: 0,
        partitions: [],
        watermark: '2027-01-15T07:59:50.500Z',
        watermarkBehindS: 52,
      },
      {
        processor: 'lighting',
        records: 15,
        partitions: [
          { topic: 'tel.s1.lighting.v1', partition: '0', records: 10 },
          { topic: 'tel.s1.lighting.v1', partition: '1', records: 5 },
        ],
        watermark: '2027-01-15T08:00:00.000Z',
        watermarkBehindS: 42,
      },
      {
        processor: 'signals',
        records: 0,
        partitions: [{ topic: 'tel.s1.signals.v1', partition: '0', records: 0 }],
        // Stateless: no watermark.
        watermark: null,
        watermarkBehindS: null,
      },
    ]);
    expect(first.unavailable).toEqual(['processors']);
    expect(first.releases).toEqual([
      {
        dataset: 'lighting-daily',
        releaseId: 'r2',
        publishedAt: '2026-12-06T10:00:00.000Z',
        rowCount: 23,
        suppressedCells: 2,
        noisedCells: 21,
      },
      {
        dataset: 'signals-daily',
        releaseId: null,
        publishedAt: null,
        rowCount: null,
        suppressedCells: null,
        noisedCells: null,
      },
    ]);
    // In the window: 100 fast ones (99 under 5 ms, 1 under 50 ms): the old slow ones no longer count.
    ackCounts = [99, 100, 1100];
    now += 30_000;
    const second = await health.get();
    expect(second.latency?.count).toBe(100);
    expect(second.latency?.windowS).toBe(30);
    expect(second.latency!.p50!).toBeLessThan(0.005);
    expect(second.latency!.p99!).toBeLessThanOrEqual(0.005);
  });

  it('reads its sources once per refresh interval, whatever the number of requests', async () => {
    let now = 0;
    const health = new PipelineHealth({
      ingestMetrics: [`${base}/ingest`],
      processorsMetrics: [`${base}/processors`],
      store,
      refreshMs: 5000,
      now: () => now,
    });
    const before = scrapes;
    await Promise.all(Array.from({ length: 50 }, () => health.get()));
    expect(scrapes - before).toBe(2);
    now = 4000;
    await Promise.all(Array.from({ length: 50 }, () => health.get()));
    expect(scrapes - before).toBe(2);
    now = 5000;
    await health.get();
    expect(scrapes - before).toBe(4);
  });
});
