import { describe, expect, it } from 'vitest';
import { metricValue, parseMetrics } from '../src/metrics';

// What the tests read off a /metrics body: a labelled gauge, a counter summed over its label sets (label
// values with a comma, quotes and an escaped newline), a histogram grouped under its family.
const TEXT = `# HELP ondijon_ingest_messages_rejected_total Messages rejected.
# TYPE ondijon_ingest_messages_rejected_total counter
ondijon_ingest_messages_rejected_total{code="ONDIJON_SCHEMA_INVALID",topic="a,b"} 3
ondijon_ingest_messages_rejected_total{code="ONDIJON_TIME_IN_FUTURE",why="say \\"no\\"\\n"} 2
# HELP ondijon_processors_watermark_seconds Watermark.
# TYPE ondijon_processors_watermark_seconds gauge
ondijon_processors_watermark_seconds{processor="lighting"} 1800000000
ondijon_processors_watermark_seconds{processor="daily"} 1799999990.5
# HELP ondijon_ingest_ack_latency_seconds Ack latency.
# TYPE ondijon_ingest_ack_latency_seconds histogram
ondijon_ingest_ack_latency_seconds_bucket{le="0.005"} 1
ondijon_ingest_ack_latency_seconds_bucket{le="+Inf"} 4
ondijon_ingest_ack_latency_seconds_sum 0.2
ondijon_ingest_ack_latency_seconds_count 4
ondijon_ingest_messages_received_total 1200
`;

describe('metrics of a Prometheus text exposition', () => {
  it('reads a sample by its labels, sums a counter over its label sets, and is undefined when absent', () => {
    expect(metricValue(TEXT, 'ondijon_processors_watermark_seconds', { processor: 'daily' })).toBe(
      1799999990.5,
    );
    expect(metricValue(TEXT, 'ondijon_processors_watermark_seconds', { processor: 'other' })).toBeUndefined();
    expect(metricValue(TEXT, 'ondijon_ingest_messages_rejected_total')).toBe(5);
    expect(metricValue(TEXT, 'ondijon_ingest_messages_rejected_total', { why: 'say "no"\n' })).toBe(2);
    expect(metricValue(TEXT, 'ondijon_ingest_messages_received_total')).toBe(1200);
    expect(metricValue(TEXT, 'ondijon_ingest_messages_received')).toBeUndefined();
  });

  it('reads the last sample of a text without a final newline (prom-client getSingleMetricAsString)', () => {
    const single = '# HELP a_total A.\n# TYPE a_total counter\na_total 1200';
    expect(metricValue(single, 'a_total')).toBe(1200);
  });

  it('groups a histogram under its family, with its buckets, count and sum', () => {
    const families = parseMetrics(TEXT);
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['ondijon_ingest_messages_rejected_total', 'COUNTER'],
      ['ondijon_processors_watermark_seconds', 'GAUGE'],
      ['ondijon_ingest_ack_latency_seconds', 'HISTOGRAM'],
      ['ondijon_ingest_messages_received_total', 'UNTYPED'],
    ]);
    expect(families[2]!.metrics).toEqual([
      { buckets: { '0.005': '1', '+Inf': '4' }, count: '4', sum: '0.2' },
    ]);
    // A histogram has no value to sum.
    expect(metricValue(families, 'ondijon_ingest_ack_latency_seconds')).toBeUndefined();
  });
});
