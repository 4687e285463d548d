// The pipeline's health for the overview (issue 15, item 1): ingest → Kafka latency p50/p99 from ingest's
// Prometheus histogram, consumer lag and watermark per processor from the processors' gauges, and the last release of
// each open dataset from the store's catalogue. Read at most once per refresh interval whatever the
// number of requests (one fetch per metrics URL, one catalogue read), so a page's cost is bounded.
import parsePrometheus from 'parse-prometheus-text-format';
import type { StoreReader } from '@ondijon/opendata';

/** Latency of ingest (receive → Kafka acknowledgement) over the last window, seconds. */
export interface LatencyView {
  p50: number | null;
  p99: number | null;
  /** Acknowledgements counted in the window. */
  count: number;
  /** Seconds the window covers (the newest and an older reading of the histogram). */
  windowS: number;
}

/** Lag of one processor: total records behind, the worst partitions, and its watermark. */
export interface LagView {
  processor: string;
  records: number;
  partitions: { topic: string; partition: string; records: number }[];
  /** Watermark (event time) of a windowed processor, ISO; null for a stateless one or before its first record. */
  watermark: string | null;
  /** Seconds the watermark is behind the console's wall clock (negative when the event clock runs ahead). */
  watermarkBehindS: number | null;
}

/** Last release of a dataset. */
export interface ReleaseView {
  dataset: string;
  releaseId: string | null;
  publishedAt: string | null;
  rowCount: number | null;
  suppressedCells: number | null;
  noisedCells: number | null;
}

/** What the overview's pipeline section shows. */
export interface PipelineView {
  at: string;
  latency: LatencyView | null;
  lag: LagView[] | null;
  releases: ReleaseView[] | null;
  /** Sources that could not be read this time (names only). */
  unavailable: string[];
}

/** Where the figures come from. */
export interface PipelineSources {
  ingestMetrics: readonly string[];
  processorsMetrics: readonly string[];
  store: StoreReader;
  refreshMs: number;
  /** Seconds of latency history the percentiles are computed over. */
  latencyWindowS?: number;
  fetchTimeoutMs?: number;
  now?: () => number;
}

interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
  }[];
}

type Buckets = Map<number, number>;

/** Quantile `q` of a cumulative histogram (upper bounds → counts), linear within a bucket as Prometheus does. */
export function histogramQuantile(q: number, buckets: Buckets): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? (bounds.length ? buckets.get(bounds.at(-1)!)! : 0);
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of bounds) {
    const c = buckets.get(b)!;
    if (c >= rank) {
      if (!Number.isFinite(b)) return prevBound; // beyond the last finite bucket: its bound
      if (c === prevCount) return b;
      return prevBound + ((b - prevBound) * (rank - prevCount)) / (c - prevCount);
    }
    prevBound = b;
    prevCount = c;
  }
  return prevBound;
}

/** Reads and caches the pipeline's figures. */
export class PipelineHealth {
  private view: PipelineView | null = null;
  private readAt = 0;
  private inflight: Promise<PipelineView> | null = null;
  /** Readings of ingest's latency histogram (summed over instances), oldest first. */
  private readonly history: { at: number; buckets: Buckets }[] = [];
  private readonly now: () => number;

  constructor(private readonly sources: PipelineSources) {
    this.now = sources.now ?? Date.now;
  }

  /** The figures, read again when older than the refresh interval (one read at a time). */
  async get(): Promise<PipelineView> {
    if (this.view !== null && this.now() - this.readAt < this.sources.refreshMs) return this.view;
    this.inflight ??= this.read().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async read(): Promise<PipelineView> {
    const unavailable: string[] = [];
    const [ingest, processors, releases] = await Promise.all([
      this.scrape(this.sources.ingestMetrics, 'ingest', unavailable),
      this.scrape(this.sources.processorsMetrics, 'processors', unavailable),
      this.releases().catch(() => {
        unavailable.push('store');
        return null;
      }),
    ]);
    const view: PipelineView = {
      at: new Date(this.now()).toISOString(),
      latency: ingest === null ? null : this.latency(ingest),
      lag: processors === null ? null : lagOf(processors, this.now()),
      releases,
      unavailable,
    };
    this.view = view;
    this.readAt = this.now();
    return view;
  }

  /** Families of every URL, concatenated; null when none answered. */
  private async scrape(
    urls: readonly string[],
    what: string,
    unavailable: string[],
  ): Promise<Family[] | null> {
    const out: Family[] = [];
    let answered = 0;
    await Promise.all(
      urls.map(async (url) => {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(this.sources.fetchTimeoutMs ?? 2000) });
          if (!res.ok) throw new Error(String(res.status));
          out.push(...(parsePrometheus(await res.text()) as Family[]));
          answered++;
        } catch {
          /* named below */
        }
      }),
    );
    if (answered < urls.length) unavailable.push(what);
    return answered === 0 ? null : out;
  }

  private latency(families: Family[]): LatencyView {
    const buckets: Buckets = new Map();
    for (const f of families)
      if (f.name === 'ondijon_ingest_ack_latency_seconds')
        for (const m of f.metrics)
          for (const [le, c] of Object.entries(m.buckets ?? {})) {
            const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
            buckets.set(bound, (buckets.get(bound) ?? 0) + Number(c));
          }
    const now = this.now();
    this.history.push({ at: now, buckets });
    const windowMs = (this.sources.latencyWindowS ?? 60) * 1000;
    // Keep the newest reading at least a window old (the base of the difference) and those after it.
    while (this.history.length > 2 && this.history[1]!.at <= now - windowMs) this.history.shift();
    const base = this.history.length > 1 ? this.history[0]! : undefined;
    const delta: Buckets = new Map();
    for (const [b, c] of buckets) {
      const d = c - (base?.buckets.get(b) ?? 0);
      // A counter that went back (ingest restarted): count from zero.
      delta.set(b, d < 0 ? c : d);
    }
    const count = delta.get(Number.POSITIVE_INFINITY) ?? 0;
    return {
      p50: histogramQuantile(0.5, delta),
      p99: histogramQuantile(0.99, delta),
      count,
      windowS: base ? Math.round((now - base.at) / 1000) : 0,
    };
  }

  private async releases(): Promise<ReleaseView[]> {
    const { store } = this.sources;
    const { catalog } = await store.catalog();
    const out: ReleaseView[] = [];
    for (const dataset of Object.keys(catalog.datasets).sort()) {
      const last = (await store.releases(dataset)).at(-1);
      if (last === undefined) {
        out.push({
          dataset,
          releaseId: null,
          publishedAt: null,
          rowCount: null,
          suppressedCells: null,
          noisedCells: null,
        });
        continue;
      }
      const notes = await store.releaseNotes(dataset, last.releaseId);
      out.push({
        dataset,
        releaseId: last.releaseId,
        publishedAt: notes.publishedAt,
        rowCount: notes.rowCount,
        suppressedCells: notes.suppressedCells,
        noisedCells: notes.noisedCells,
      });
    }
    return out;
  }
}

/**
 * Consumer lag per processor (summed over partitions and instances), worst partitions first, and the
 * watermark: the highest over instances (each reads the same state in Redis; one that has not swept since
 * a restart holds an older one).
 */
function lagOf(families: Family[], now: number): LagView[] {
  const by = new Map<string, LagView>();
  const viewOf = (processor: string): LagView => {
    const view = by.get(processor) ?? {
      processor,
      records: 0,
      partitions: [],
      watermark: null,
      watermarkBehindS: null,
    };
    by.set(processor, view);
    return view;
  };
  const watermarks = new Map<string, number>();
  for (const f of families)
    if (f.name === 'ondijon_processors_watermark_seconds')
      for (const m of f.metrics) {
        const processor = m.labels?.processor ?? 'unknown';
        const s = Number(m.value);
        if (Number.isFinite(s)) watermarks.set(processor, Math.max(s, watermarks.get(processor) ?? s));
      }
  for (const [processor, s] of watermarks) {
    const view = viewOf(processor);
    view.watermark = new Date(s * 1000).toISOString();
    view.watermarkBehindS = Math.round(now / 1000 - s);
  }
  for (const f of families)
    if (f.name === 'ondijon_processors_consumer_lag_records')
      for (const m of f.metrics) {
        const processor = m.labels?.processor ?? 'unknown';
        const records = Number(m.value ?? 0);
        const view = viewOf(processor);
        view.records += records;
        view.partitions.push({
          topic: m.labels?.topic ?? '',
          partition: m.labels?.partition ?? '',
          records,
        });
      }
  for (const v of by.values()) v.partitions.sort((a, b) => b.records - a.records);
  return [...by.values()].sort((a, b) => a.processor.localeCompare(b.processor));
}
