import { runProcessor, telemetryEnvelope } from '@ondijon/stream';
import { describe, expect, it } from 'vitest';
import { winterCommuneDay } from '../../src/processors/winter-commune-day';

const t = (h: number) => new Date(Date.UTC(2025, 0, 15, h)).toISOString();
const vehicle = (
  id: string,
  seq: number,
  activity: 'salting' | 'idle' | 'patrol',
  pos: { lat: number; lon: number } | undefined,
  salt: number,
  m: number,
) =>
  telemetryEnvelope(
    'winter-vehicle',
    {
      seq,
      observedAt: t(seq),
      ...(pos ? { position: pos } : {}),
      speedKmh: 30,
      headingDeg: 0,
      activity,
      bladeDown: false,
      spreaderOn: salt > 0,
      saltKg: salt,
      distanceM: m,
    },
    { equipmentId: id, commune: '21231', sensitivity: 'S2', operator: 'dijon-metropole' },
  );
const station = (seq: number, temp: number) =>
  telemetryEnvelope(
    'weather-station',
    { seq, observedAt: t(seq), surfaceTempC: temp, airTempC: 1, humidityPct: 80, iceWarning: false },
    { equipmentId: 'WS-21231-01', commune: '21231' },
  );

describe('winter-commune-day', () => {
  it('locates vehicle reports by nearest commune centre and keeps no identity', () => {
    const chenove = { lat: 47.293, lon: 5.006 };
    const { outputs } = runProcessor(winterCommuneDay, [
      { topic: 'tel.s2.winter.v1', value: vehicle('WV-21231-01', 1, 'salting', chenove, 100, 2000) },
      { topic: 'tel.s2.winter.v1', value: vehicle('WV-21231-01', 2, 'patrol', undefined, 0, 500) },
      { topic: 'tel.s2.winter.v1', value: vehicle('WV-21231-02', 3, 'idle', undefined, 0, 0) },
      { topic: 'tel.s1.winter.v1', value: station(4, -2) },
      { topic: 'tel.s1.winter.v1', value: station(5, 1) },
    ]);
    const byCommune = Object.fromEntries(outputs.map((o) => [o.value.data.group.commune, o.value]));
    expect(byCommune['21166']!.data.values).toMatchObject({ saltKg: 100, kmSalting: 2, vehiclesActive: 1 });
    expect(byCommune['21231']!.data.values).toMatchObject({
      kmPatrol: 0.5,
      vehiclesActive: 1,
      surfaceTempMinC: -2,
      surfaceTempMeanC: -0.5,
      stationsReporting: 1,
    });
    expect(byCommune['21231']!.data.contributors).toEqual({ equipment: 3, operators: 2, persons: 2 });
    expect(byCommune['21231']!.sensitivity).toBe('S2');
    expect(JSON.stringify(outputs)).not.toMatch(/WV-/);
  });

  it('closes Paris days: 23 hours on 29 March 2026, 25 hours on 25 October 2026', () => {
    const at = (iso: string, seq: number) =>
      telemetryEnvelope(
        'weather-station',
        { seq, observedAt: iso, surfaceTempC: seq, airTempC: 1, humidityPct: 80, iceWarning: false },
        { equipmentId: 'WS-21231-01', commune: '21231' },
      );
    const { outputs } = runProcessor(
      winterCommuneDay,
      [
        '2026-03-28T22:59:59Z', // 23:59:59 on the 28th in Paris
        '2026-03-28T23:00:00Z', // midnight: the 29th starts
        '2026-03-29T21:59:59Z', // 23:59:59 (UTC+2) on the 29th
        '2026-03-29T22:00:00Z', // the 30th
        '2026-10-24T22:00:00Z', // midnight (UTC+2): the 25th starts
        '2026-10-25T22:59:59Z', // 23:59:59 (UTC+1) on the 25th
        '2026-10-25T23:00:00Z', // the 26th
      ].map((iso, i) => ({ topic: 'tel.s1.winter.v1' as const, value: at(iso, i + 1) })),
    );
    const windows = outputs.map((o) => ({
      start: o.value.data.windowStart,
      end: o.value.data.windowEnd,
      records: o.value.data.inputRecords,
    }));
    expect(windows).toEqual([
      { start: '2026-03-27T23:00:00.000Z', end: '2026-03-28T23:00:00.000Z', records: 1 },
      { start: '2026-03-28T23:00:00.000Z', end: '2026-03-29T22:00:00.000Z', records: 2 },
      { start: '2026-03-29T22:00:00.000Z', end: '2026-03-30T22:00:00.000Z', records: 1 },
      { start: '2026-10-24T22:00:00.000Z', end: '2026-10-25T23:00:00.000Z', records: 2 },
      { start: '2026-10-25T23:00:00.000Z', end: '2026-10-26T23:00:00.000Z', records: 1 },
    ]);
  });
});
