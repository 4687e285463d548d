// Reading a service's /metrics in tests and benchmarks: one parser of the Prometheus text exposition (the
// package the console reads its pipeline figures with, services/console/src/pipeline.ts), instead of a
// regular expression or a split on lines in each test. Label values may hold commas, quotes and escapes,
// and a histogram's samples are grouped under its family: a hand-written parser gets these wrong.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One sample of a metric family: a value, or a histogram's buckets, count and sum. */
export interface MetricSample {
  /** The value as written (`1.5e9`, `NaN`, `+Inf`); absent on histograms and summaries. */
  value?: string;
  /** Its labels (absent when it has none). */
  labels?: Record<string, string>;
  /** A histogram's cumulative counts by upper bound (`le`), `+Inf` included. */
  buckets?: Record<string, string>;
  /** A summary's values by quantile. */
  quantiles?: Record<string, string>;
  /** A histogram's or summary's count and sum. */
  count?: string;
  sum?: string;
}

/** A metric family: its name (a histogram's without `_bucket`), type, help and samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: MetricSample[];
}

/** Parses a Prometheus text exposition (a /metrics body) into its metric families. */
export function parseMetrics(text: string): MetricFamily[] {
  // The format ends every line with a newline; the package drops a last sample without one, which is
  // what prom-client's `getSingleMetricAsString` returns (services/ingest/test/ingest.int.test.ts failed
  // on it): end the text with one.
  return parsePrometheusTextFormat(text.endsWith('\n') ? text : `${text}\n`) as MetricFamily[];
}

/**
 * Sum of the values of metric `name` over its samples whose labels include `labels` (all its samples by
 * default); undefined when no sample matches. Takes a /metrics body or its parsed families.
 */
export function metricValue(
  metrics: string | MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const families = typeof metrics === 'string' ? parseMetrics(metrics) : metrics;
  const samples = (families.find((f) => f.name === name)?.metrics ?? []).filter(
    (s) => s.value !== undefined && Object.entries(labels).every(([k, v]) => s.labels?.[k] === v),
  );
  return samples.length === 0 ? undefined : samples.reduce((sum, s) => sum + Number(s.value), 0);
}
