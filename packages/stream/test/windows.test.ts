import { describe, expect, it } from 'vitest';
import { durationMs, hopping, isoDuration, tumbling, windowsFor } from '../src/windows';

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
});
