import { nextDate, zonedDate, zonedDayStart } from '@ondijon/stream';

/**
 * Release periods are days in Europe/Paris: the portal's users read "the 10th of January" as a
 * local day. The rule is the stream package's calendar day, which the daily processors window on,
 * so a daily aggregate's window is exactly its release period (23 or 25 hours on daylight-saving
 * days). Hourly windows align with local days because Paris offsets are whole hours.
 */
export const TIME_ZONE = 'Europe/Paris';

/** The local (Europe/Paris) day of an instant, `YYYY-MM-DD`. */
export function parisDay(at: Date): string {
  return zonedDate(at.getTime(), TIME_ZONE);
}

/** Start and end (exclusive) of a local day. */
export function dayBounds(day: string): { start: Date; end: Date } {
  return {
    start: new Date(zonedDayStart(day, TIME_ZONE)),
    end: new Date(zonedDayStart(nextDate(day), TIME_ZONE)),
  };
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
