import { describe, expect, it } from 'vitest';
import {
  calendarDay,
  durationMs,
  hopping,
  isoDuration,
  tumbling,
  windowsFor,
  zonedDate,
  zonedDayStart,
} from '../src/windows';

describe('windows', () => {
  it('tumbling windows are aligned on the epoch, end exclusive', () => {
    const h = tumbling('1h');
    expect(windowsFor(h, Date.UTC(2025, 0, 1, 10, 59, 59, 999))).toEqual([
      { start: Date.UTC(2025, 0, 1, 10), end: Date.UTC(2025, 0, 1, 11) },
    ]);
    expect(windowsFor(h, Date.UTC(2025, 0, 1, 11))[0]!.start).toBe(Date.UTC(2025, 0, 1, 11));
  });
  it('hopping windows overlap', () => {
    const w = windowsFor(hopping('15m', '5m'), Date.UTC(2025, 0, 1, 10, 7));
    expect(w.map((x) => new Date(x.start).toISOString().slice(11, 16))).toEqual(['09:55', '10:00', '10:05']);
  });
  it('parses durations and rejects nonsense', () => {
    expect(durationMs('15m')).toBe(900_000);
    expect(durationMs('1d')).toBe(86_400_000);
    expect(() => durationMs('1 week')).toThrow();
    expect(() => hopping('5m', '10m')).toThrow();
    expect(isoDuration(900_000)).toBe('PT15M');
    expect(isoDuration(3_600_000)).toBe('PT1H');
  });

  describe('calendar-day windows', () => {
    const paris = calendarDay('Europe/Paris');
    const iso = (t: number) => new Date(t).toISOString();
    const windowOf = (at: string) => {
      const [w] = windowsFor(paris, Date.parse(at));
      return { start: iso(w!.start), end: iso(w!.end), hours: (w!.end - w!.start) / 3_600_000 };
    };

    it('runs from one Paris midnight to the next (UTC+1 in winter, UTC+2 in summer)', () => {
      expect(windowOf('2026-01-10T12:00:00Z')).toEqual({
        start: '2026-01-09T23:00:00.000Z',
        end: '2026-01-10T23:00:00.000Z',
        hours: 24,
      });
      expect(windowOf('2026-07-14T21:59:59.999Z')).toEqual({
        start: '2026-07-13T22:00:00.000Z',
        end: '2026-07-14T22:00:00.000Z',
        hours: 24,
      });
      // 23:30Z on 9 January is already 10 January in Paris; 22:59Z on 10 January is still the 10th.
      expect(windowOf('2026-01-09T23:30:00Z').start).toBe('2026-01-09T23:00:00.000Z');
      expect(windowOf('2026-01-10T22:59:59.999Z').start).toBe('2026-01-09T23:00:00.000Z');
      expect(windowOf('2026-01-10T23:00:00Z').start).toBe('2026-01-10T23:00:00.000Z');
    });

    it('lasts 23 hours on the spring-forward day and 25 hours on the fall-back day', () => {
      expect(windowOf('2026-03-29T12:00:00Z')).toEqual({
        start: '2026-03-28T23:00:00.000Z',
        end: '2026-03-29T22:00:00.000Z',
        hours: 23,
      });
      expect(windowOf('2026-10-25T12:00:00Z')).toEqual({
        start: '2026-10-24T22:00:00.000Z',
        end: '2026-10-25T23:00:00.000Z',
        hours: 25,
      });
      // Both sides of each change fall in the same window; consecutive days tile without gap or overlap.
      for (const t of ['2026-03-29T00:59:59Z', '2026-03-29T01:00:00Z', '2026-03-29T21:59:59Z'])
        expect(windowOf(t).start).toBe('2026-03-28T23:00:00.000Z');
      for (const t of ['2026-10-25T00:59:59Z', '2026-10-25T01:00:00Z', '2026-10-25T22:59:59Z'])
        expect(windowOf(t).start).toBe('2026-10-24T22:00:00.000Z');
      let t = Date.parse('2026-03-20T12:00:00Z');
      for (let i = 0; i < 230; i++) {
        const [w] = windowsFor(paris, t);
        const [next] = windowsFor(paris, w!.end);
        expect(next!.start).toBe(w!.end);
        expect(zonedDate(next!.start, 'Europe/Paris')).not.toBe(zonedDate(w!.start, 'Europe/Paris'));
        t = w!.end;
      }
    });

    it('starts a day whose midnight the clocks skip at the end of the gap', () => {
      // São Paulo moved clocks from 00:00 to 01:00 on 4 November 2018: that day started at 03:00Z.
      expect(iso(zonedDayStart('2018-11-04', 'America/Sao_Paulo'))).toBe('2018-11-04T03:00:00.000Z');
      expect(iso(zonedDayStart('2018-11-05', 'America/Sao_Paulo'))).toBe('2018-11-05T02:00:00.000Z');
    });

    it('rejects an unknown time zone when the window is defined', () => {
      expect(() => calendarDay('Europe/Dijon')).toThrow(RangeError);
    });
  });
});
