/** A window of event time, [start, end) in epoch milliseconds. */
export interface TimeWindow {
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

/** Windows of a fixed size aligned on the UTC epoch. */
export interface TumblingWindowSpec {
  kind: 'tumbling';
  sizeMs: number;
}

/** How records are assigned to windows. */
export type WindowSpec =
  | TumblingWindowSpec
  | { kind: 'hopping'; sizeMs: number; advanceMs: number }
  | { kind: 'calendar-day'; timeZone: string };

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
export function tumbling(size: number | string): TumblingWindowSpec {
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

/**
 * Calendar days of an IANA time zone (e.g. `Europe/Paris`): a window runs from one local midnight
 * to the next, so it lasts 23 or 25 hours on daylight-saving days. Offsets come from the runtime's
 * time-zone database (Intl), not from rules written here.
 */
export function calendarDay(timeZone: string): WindowSpec {
  // Throws a RangeError now, at definition time, for a zone the runtime does not know.
  new Intl.DateTimeFormat('en-US', { timeZone });
  return { kind: 'calendar-day', timeZone };
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();
function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    zoneFormats.set(timeZone, f);
  }
  return f;
}

/** The local calendar fields of instant `t` in a zone. */
function localFields(t: number, timeZone: string): { y: number; m: number; d: number; wall: number } {
  const p: Record<string, number> = {};
  for (const part of zoneFormat(timeZone).formatToParts(t))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  const [y, m, d] = [p.year!, p.month!, p.day!];
  // The local wall-clock time read as if it were UTC: minus t, it is the zone's offset at t.
  const wall = Date.UTC(y, m - 1, d, p.hour, p.minute, p.second);
  return { y, m, d, wall };
}

const DAY_MS = 86_400_000;

/** The local calendar date `YYYY-MM-DD` of instant `t` in a zone. */
export function zonedDate(t: number, timeZone: string): string {
  const { y, m, d } = localFields(t, timeZone);
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/**
 * The first instant of local date `YYYY-MM-DD` in a zone: its midnight, or the end of the gap when
 * the clocks skip midnight. The zone's offsets around that date are the candidates (an offset
 * change never happens twice within a day and a half); the earliest instant on the date wins.
 */
export function zonedDayStart(date: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new RangeError(`invalid date ${date} (use YYYY-MM-DD)`);
  const midnightAsUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  let best: number | undefined;
  for (const probe of [midnightAsUtc - 1.5 * DAY_MS, midnightAsUtc, midnightAsUtc + 1.5 * DAY_MS]) {
    const offset = localFields(probe, timeZone).wall - probe;
    const candidate = midnightAsUtc - offset;
    if (zonedDate(candidate, timeZone) === date && (best === undefined || candidate < best)) best = candidate;
  }
  if (best === undefined) throw new RangeError(`no start found for ${date} in ${timeZone}`);
  return best;
}

/** The next calendar date of `YYYY-MM-DD`. */
export function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

/** The local calendar day of a zone that contains instant `t`, [its start, the next day's start). */
export function zonedDayWindow(t: number, timeZone: string): TimeWindow {
  const date = zonedDate(t, timeZone);
  return { start: zonedDayStart(date, timeZone), end: zonedDayStart(nextDate(date), timeZone) };
}

/** The last calendar-day result per time zone (see windowsFor). */
const lastCalendarDay = new Map<string, TimeWindow[]>();

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
  if (spec.kind === 'calendar-day') {
    // Same reuse as tumbling windows: the Intl lookups run once per day and zone, not per record.
    const last = lastCalendarDay.get(spec.timeZone);
    if (last && last[0]!.start <= t && t < last[0]!.end) return last;
    const windows = Object.freeze([Object.freeze(zonedDayWindow(t, spec.timeZone))]) as TimeWindow[];
    lastCalendarDay.set(spec.timeZone, windows);
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
