/** A window of event time, [start, end) in epoch milliseconds. */
export interface TimeWindow {
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

/** How records are assigned to windows. */
export type WindowSpec =
  { kind: 'tumbling'; sizeMs: number } | { kind: 'hopping'; sizeMs: number; advanceMs: number };

/** Parses `15m`, `1h`, `1d`, `30s` or a number of ms. */
export function durationMs(d: number | string): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d.trim());
  if (!m) throw new Error(`invalid duration ${d} (use e.g. 15m, 1h, 1d or milliseconds)`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}

/** Tumbling windows of `size` (e.g. `1h`), aligned on the UTC epoch. */
export function tumbling(size: number | string): WindowSpec {
  const sizeMs = durationMs(size);
  if (sizeMs <= 0) throw new Error('window size must be positive');
  return { kind: 'tumbling', sizeMs };
}

/** Hopping windows of `size` starting every `advance` (a record falls in size/advance windows). */
export function hopping(size: number | string, advance: number | string): WindowSpec {
  const sizeMs = durationMs(size);
  const advanceMs = durationMs(advance);
  if (sizeMs <= 0 || advanceMs <= 0 || advanceMs > sizeMs)
    throw new Error('hopping windows need 0 < advance <= size');
  return { kind: 'hopping', sizeMs, advanceMs };
}

/** The last tumbling result per window size (see windowsFor). */
const lastTumbling = new Map<number, TimeWindow[]>();

/** The windows that contain event time `t` (ms), oldest first. */
export function windowsFor(spec: WindowSpec, t: number): TimeWindow[] {
  if (spec.kind === 'tumbling') {
    const start = Math.floor(t / spec.sizeMs) * spec.sizeMs;
    // Hot path (every record): consecutive records mostly fall in the same window, so the last
    // result is reused (frozen: callers only read it).
    const last = lastTumbling.get(spec.sizeMs);
    if (last && last[0]!.start === start) return last;
    const windows = Object.freeze([Object.freeze({ start, end: start + spec.sizeMs })]) as TimeWindow[];
    lastTumbling.set(spec.sizeMs, windows);
    return windows;
  }
  const out: TimeWindow[] = [];
  const lastStart = Math.floor(t / spec.advanceMs) * spec.advanceMs;
  for (let start = lastStart; start > t - spec.sizeMs; start -= spec.advanceMs)
    out.unshift({ start, end: start + spec.sizeMs });
  return out;
}

/** ISO 8601 duration of a window size when it is a whole number of minutes/hours/days (`PT15M`, `PT1H`, `P1D`). */
export function isoDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `P${ms / 86_400_000}D`;
  if (ms % 3_600_000 === 0) return `PT${ms / 3_600_000}H`;
  if (ms % 60_000 === 0) return `PT${ms / 60_000}M`;
  return `PT${ms / 1000}S`;
}
