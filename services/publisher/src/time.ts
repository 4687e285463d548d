/**
 * Release periods are days in Europe/Paris: the portal's users read "the 10th of January" as a
 * local day. Hourly windows align with local days because Paris offsets are whole hours.
 */
const TZ = 'Europe/Paris';
const dayFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});
const hourFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ,
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** The local (Europe/Paris) day of an instant, `YYYY-MM-DD`. */
export function parisDay(at: Date): string {
  return dayFormat.format(at);
}

/** The instant local midnight starts on a day `YYYY-MM-DD`. */
export function parisMidnight(day: string): Date {
  const utcMidnight = Date.parse(`${day}T00:00:00Z`);
  // Paris is UTC+1 or UTC+2: local midnight is 1 or 2 hours before UTC midnight.
  for (const offsetH of [1, 2, 0]) {
    const candidate = new Date(utcMidnight - offsetH * 3_600_000);
    if (parisDay(candidate) === day && hourFormat.format(candidate) === '00:00') return candidate;
  }
  throw new RangeError(`no local midnight found for ${day}`);
}

/** The next day `YYYY-MM-DD`. */
export function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Start and end (exclusive) of a local day. */
export function dayBounds(day: string): { start: Date; end: Date } {
  return { start: parisMidnight(day), end: parisMidnight(nextDay(day)) };
}

/** ISO 8601 with `Z`, without milliseconds when they are zero (the store's format). */
export function iso(d: Date): string {
  const s = d.toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, 19)}Z` : s;
}

/** Duration of an ISO 8601 resolution used here, in ms. */
export function resolutionMs(resolution: Resolution): number {
  return resolution === 'PT15M' ? 900_000 : resolution === 'PT1H' ? 3_600_000 : 86_400_000;
}

/** Time resolutions of released rows. */
export type Resolution = 'PT15M' | 'PT1H' | 'P1D';
